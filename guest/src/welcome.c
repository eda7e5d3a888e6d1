/*
 * welcome - what `nommu` runs with no arguments: a short tour of the machine.
 *
 * Usage: welcome
 * Explains what a no-MMU machine is, then shows it from the inside: uname,
 * the size of the one contiguous block this program was loaded into (the
 * distance from its first to its last byte, which does not depend on where it
 * was put), and whether fork() works: on a no-MMU machine it fails with
 * EINVAL, so programs start others with vfork + execve.
 * Natively the fork line and uname differ from nommu by design. Exits 0.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

extern char __executable_start[], _end[];

static void show_uname(void)
{
	struct utsname u;
	if (uname(&u) == 0)
		printf("  uname: %s %s %s\n", u.sysname, u.release, u.machine);
}

/* Tries fork(); a child, if any, exits at once and is reaped. */
static void show_fork(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid < 0) {
		printf("  fork(): fails with %s: there is no MMU to give a child its\n"
		       "          own copy of memory, so programs use vfork() + execve()\n",
		       errno == EINVAL ? "EINVAL" : strerror(errno));
		return;
	}
	waitpid(pid, NULL, 0);
	printf("  fork(): works: this machine has an MMU (not running under nommu?)\n");
}

int main(void)
{
	unsigned long size = (unsigned long)(_end - __executable_start);
	printf("Welcome to nommu!\n\n");
	printf("This program is an ordinary i386 Linux binary (static-PIE, musl)\n"
	       "running on an emulated machine without an MMU, like uClinux:\n"
	       "there is one flat physical memory shared by every process, no\n"
	       "virtual addresses and no copy-on-write. The loader placed this\n"
	       "program's code and data in one contiguous block and relocated it\n"
	       "to wherever that block happened to be free.\n\n");
	printf("From the inside:\n");
	show_uname();
	printf("  program image: one block of %lu KiB\n", (size + 1023) / 1024);
	show_fork();
	printf("\nTry: nommu --help\n");
	return 0;
}
