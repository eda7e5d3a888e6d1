/*
 * flood - output without end, to meet an output limit.
 *
 * Usage: flood [ignore]
 * Writes 100-byte lines to stdout with write(2), forever. Past nommu's
 * --max-output a write fails with EFBIG and raises SIGXFSZ, whose default
 * action ends the program. With "ignore", SIGXFSZ is ignored and the program
 * stops at the first failed write instead: exit status 10 if it failed with
 * EFBIG, 1 for any other error.
 */
#include "guest.h"
#include <unistd.h>

int main(int argc, char **argv)
{
	char line[100];
	memset(line, 'x', sizeof line - 1);
	line[sizeof line - 1] = '\n';
	if (argc > 1 && strcmp(argv[1], "ignore") == 0)
		signal(SIGXFSZ, SIG_IGN);
	for (;;)
		if (write(1, line, sizeof line) < 0)
			return errno == EFBIG ? 10 : 1;
}
