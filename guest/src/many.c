/*
 * many.c - N live processes at once (for measuring nommu's own memory).
 *
 * Starts N children with posix_spawn, each running argv[2] (a program that
 * waits, e.g. "/bin/sleep 1"), waits for all of them, prints how many ran.
 * Usage: many N PROG [ARGS...]
 */
#include "guest.h"

#include <spawn.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	unsigned long n = arg_ulong(argc, argv, 1, 100);
	unsigned long ok = 0;
	pid_t pid;
	int status;

	if (argc < 3) {
		fprintf(stderr, "usage: many N PROG [ARGS...]\n");
		return 2;
	}
	for (unsigned long i = 0; i < n; i++)
		if (posix_spawn(&pid, argv[2], 0, 0, argv + 2, environ) != 0) {
			printf("spawn %lu failed\n", i);
			return 1;
		}
	for (unsigned long i = 0; i < n; i++)
		if (wait(&status) > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
			ok++;
	printf("many: %lu of %lu processes ran\n", ok, n);
	return ok == n ? 0 : 1;
}
