/*
 * fork_fail - fork() is refused on no-MMU; posix_spawn is the way out.
 *
 * Usage: fork_fail PROGRAM [ARGS...]
 * Calls fork(). On a no-MMU kernel it fails with EINVAL (there is no way to
 * give the child its own copy of memory); natively it succeeds, and the child
 * exits at once. Then runs PROGRAM ARGS with posix_spawn (musl implements it
 * with clone(CLONE_VM|CLONE_VFORK), which no-MMU supports) and prints its
 * status. Output differs natively by design (first line only):
 *   nommu:  "fork: EINVAL (Invalid argument)"
 *   native: "fork: succeeded (this kernel has an MMU)"
 * then "spawned: exited N". Exits 0 if the spawn worked, else 1.
 */
#include "guest.h"
#include <spawn.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	int status = 0;
	pid_t pid;
	if (argc < 2) {
		fprintf(stderr, "usage: fork_fail PROGRAM [ARGS...]\n");
		return 2;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid < 0) {
		report("fork", -1);
	} else {
		printf("fork: succeeded (this kernel has an MMU)\n");
		waitpid(pid, NULL, 0);
	}
	fflush(stdout);
	int err = posix_spawn(&pid, argv[1], NULL, NULL, argv + 1, environ);
	if (err) {
		report_err("posix_spawn", err);
		return 1;
	}
	waitpid(pid, &status, 0);
	print_wait_status("spawned", status);
	return 0;
}
