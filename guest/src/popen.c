/*
 * popen - reads a command's output, and feeds another command's input,
 * through popen(3).
 *
 *   popen READ-COMMAND [WRITE-COMMAND]
 *
 * Prints each line READ-COMMAND writes as "read: LINE", then how pclose
 * says it ended; then writes three lines into WRITE-COMMAND (whose output
 * goes to our stdout) and prints how that ended. musl runs both with
 * "/bin/sh -c" through posix_spawn, so a shell at /bin/sh is needed (a root
 * made by `nommu mkroot` has one).
 */
#include <stdio.h>
#include <sys/wait.h>

static void ended(const char *what, int ws)
{
	if (ws < 0)
		perror("pclose");
	else if (WIFEXITED(ws))
		printf("%s: exit %d\n", what, WEXITSTATUS(ws));
	else
		printf("%s: signal %d\n", what, WTERMSIG(ws));
}

int main(int argc, char **argv)
{
	char line[512];
	if (argc < 2) {
		fprintf(stderr, "usage: popen READ-COMMAND [WRITE-COMMAND]\n");
		return 2;
	}
	FILE *in = popen(argv[1], "r");
	if (!in) {
		perror("popen r");
		return 1;
	}
	while (fgets(line, sizeof line, in))
		printf("read: %s", line);
	ended("reader", pclose(in));
	if (argc < 3)
		return 0;
	fflush(stdout);
	FILE *out = popen(argv[2], "w");
	if (!out) {
		perror("popen w");
		return 1;
	}
	fputs("one\ntwo\nthree\n", out);
	ended("writer", pclose(out));
	return 0;
}
