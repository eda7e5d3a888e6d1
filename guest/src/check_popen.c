/*
 * check_popen - popen() both ways, as programs use it: nommu check finds
 * nothing.
 *
 * Usage: check_popen
 * Reads the output of `echo from-child | cat` through popen(..., "r"),
 * then writes two lines through popen("cat", "w") (they appear on stdout),
 * printing each pclose() status. musl's popen() starts "/bin/sh -c ..."
 * with posix_spawn and a file action (adddup2 of its pipe onto the child's
 * stdin or stdout); the bundled shell starts cat with posix_spawn.
 */
#include "guest.h"

int main(void)
{
	char line[128];
	FILE *in = popen("echo from-child | cat", "r");
	if (!in) {
		report("popen r", -1);
		return 1;
	}
	while (fgets(line, sizeof line, in))
		printf("read: %s", line);
	printf("pclose r: %d\n", WEXITSTATUS(pclose(in)));
	fflush(stdout);

	FILE *out = popen("cat", "w");
	if (!out) {
		report("popen w", -1);
		return 1;
	}
	fprintf(out, "written 1\nwritten 2\n");
	printf("pclose w: %d\n", WEXITSTATUS(pclose(out)));
	return 0;
}
