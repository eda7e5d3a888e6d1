/*
 * system - runs each argument with system(3) and prints how it ended.
 *
 * musl's system() starts "/bin/sh -c COMMAND" with posix_spawn (vfork +
 * execve inside libc), so it needs a root with a shell at /bin/sh: a root
 * made by `nommu mkroot` has one. Natively it uses the host's /bin/sh.
 *
 *   system 'echo hi | cat' 'exit 3'   ->   hi / "exit 0" / "exit 3"
 *
 * Exit status: that of the last command (0 without arguments).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
	int last = 0;
	for (int i = 1; i < argc; i++) {
		fflush(stdout); /* the command writes to the same stdout */
		int ws = system(argv[i]);
		if (ws < 0) {
			perror("system");
			return 126;
		}
		if (WIFEXITED(ws)) {
			last = WEXITSTATUS(ws);
			printf("exit %d\n", last);
		} else {
			last = 128 + WTERMSIG(ws);
			printf("signal %d\n", WTERMSIG(ws));
		}
	}
	return last;
}
