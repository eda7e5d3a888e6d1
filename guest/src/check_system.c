/*
 * check_system - system() as programs use it: nommu check finds nothing.
 *
 * Usage: check_system [COMMAND]
 * Runs COMMAND (default: a pipeline with redirections through /tmp) with
 * system() and prints "status N" for its exit status. musl's system()
 * starts "/bin/sh -c COMMAND" with posix_spawn: a clone(CLONE_VM |
 * CLONE_VFORK) child on a stack of its own, whose setup (signal actions,
 * mask) libc does before execve. The bundled shell starts its commands
 * with posix_spawn too, so on a no-MMU machine nothing here breaks a rule.
 */
#include "guest.h"

int main(int argc, char **argv)
{
	const char *command = argc > 1 ? argv[1]
				       : "echo hi | cat > /tmp/check_system.out; "
					 "cat < /tmp/check_system.out; rm /tmp/check_system.out; exit 3";
	fflush(stdout);
	int status = system(command);
	if (status < 0) {
		report("system", -1);
		return 1;
	}
	if (WIFEXITED(status))
		printf("status %d\n", WEXITSTATUS(status));
	else
		printf("killed by %s\n", signame(WTERMSIG(status)));
	return 0;
}
