/*
 * spawn_chain - many vfork + execve + waitpid cycles.
 *
 * Usage: spawn_chain [N [PROGRAM [posix_spawn]]]
 *        (N default 300, PROGRAM default /exitcode)
 * Runs PROGRAM i%256 for i = 0..N-1, each with vfork and execve (or with
 * posix_spawn when the third argument says so), waits for it and checks its
 * exit status is i%256. PROGRAM must behave like exitcode
 * (natively pass the path of guestbin/exitcode). Prints a summary; also the
 * process-creation benchmark. Exits 0 when every child exited as expected.
 */
#include "guest.h"
#include <spawn.h>
#include <unistd.h>

extern char **environ;

/* Runs program with one numeric argument; returns its wait status or -1. */
static int run(char *program, int code)
{
	char arg[8];
	char *argv[] = {program, arg, NULL};
	int status;
	snprintf(arg, sizeof arg, "%d", code);
	pid_t pid = vfork();
	if (pid == 0) {
		execve(program, argv, environ);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

/* The same with posix_spawn. */
static int spawn(char *program, int code)
{
	char arg[8];
	char *argv[] = {program, arg, NULL};
	int status;
	pid_t pid;
	snprintf(arg, sizeof arg, "%d", code);
	if (posix_spawn(&pid, program, NULL, NULL, argv, environ) ||
	    waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

int main(int argc, char **argv)
{
	unsigned long n = arg_ulong(argc, argv, 1, 300), wrong = 0;
	char *program = argc > 2 ? argv[2] : "/exitcode";
	int (*start)(char *, int) = argc > 3 && !strcmp(argv[3], "posix_spawn") ? spawn : run;
	for (unsigned long i = 0; i < n; i++) {
		int status = start(program, (int)(i % 256));
		if (!WIFEXITED(status) || WEXITSTATUS(status) != (int)(i % 256) || status == -1)
			wrong++;
	}
	printf("spawn_chain: %lu spawns, %lu wrong exit statuses\n", n, wrong);
	return wrong ? 1 : 0;
}
