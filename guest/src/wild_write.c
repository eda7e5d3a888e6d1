/*
 * wild_write - stores a no-MMU board lets through (for nommu run's hint and
 * nommu check).
 *
 * Usage: wild_write foreign|free|own
 * foreign: mmaps a 4 KiB note holding "parent's note", then posix_spawns
 *   itself as "wild_write --poke ADDR", which stores "overwritten!" at ADDR:
 *   the parent's memory, which the child does not share. Prints the note
 *   afterwards. With an MMU the address means nothing in the child (the
 *   child faults, or writes memory of its own); without one the parent's
 *   note changes, silently.
 * free: mallocs a 64 KiB buffer (musl: its own mmap), frees it (munmap: the
 *   memory goes back to the kernel) and stores into it anyway.
 * own: the same stores into memory of its own (no finding).
 * Prints what it did. Exits 0.
 */
#include "guest.h"
#include <spawn.h>
#include <stdint.h>
#include <sys/mman.h>

extern char **environ;

__attribute__((noinline, noipa)) static void poke(char *where, const char *what)
{
	strcpy(where, what); /* CHECK: write-foreign-memory */
}

__attribute__((noinline, noipa)) static void use_after_free(volatile char *buf)
{
	buf[100] = 42; /* CHECK: write-free-memory */
}

static int foreign(const char *self)
{
	char *note = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (note == MAP_FAILED)
		return 1;
	strcpy(note, "parent's note");
	char addr[24];
	snprintf(addr, sizeof addr, "%lu", (unsigned long)(uintptr_t)note);
	char *argv[] = {(char *)self, "--poke", addr, NULL};
	pid_t pid;
	int status = 0;
	if (posix_spawn(&pid, self, NULL, NULL, argv, environ) || waitpid(pid, &status, 0) != pid)
		return 1;
	print_wait_status("child", status);
	printf("the parent's note now reads: %s\n", note);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "foreign";
	if (!strcmp(mode, "--poke") && argc > 2) {
		poke((char *)(uintptr_t)strtoul(argv[2], NULL, 0), "overwritten!");
		return 0;
	}
	if (!strcmp(mode, "foreign"))
		return foreign(argv[0]);
	if (!strcmp(mode, "free") || !strcmp(mode, "own")) {
		char *buf = malloc(64 * 1024);
		if (!buf)
			return 1;
		if (!strcmp(mode, "free"))
			free(buf);
		use_after_free(buf);
		printf("stored into a%s buffer\n", strcmp(mode, "free") ? " live" : " freed");
		return 0;
	}
	fprintf(stderr, "usage: wild_write foreign|free|own\n");
	return 2;
}
