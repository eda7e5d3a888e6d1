/*
 * env - print the environment, or run a program in a changed one.
 *
 * Usage: env [-i] [-u NAME]... [NAME=VALUE]... [PROGRAM [ARG...]]
 *   -i        start from an empty environment
 *   -u NAME   remove NAME
 * Without PROGRAM, prints the resulting environment, one NAME=VALUE a
 * line. With PROGRAM, env replaces itself with it: execvp() searches PATH
 * (of the new environment) and calls execve() - no fork or vfork is needed,
 * since env has nothing left to do. Exits 127 if PROGRAM is not found, 126
 * if it cannot be run, 125 on a bad option.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-i") == 0 || strcmp(argv[i], "-") == 0) {
			clearenv();
		} else if (strcmp(argv[i], "-u") == 0 && i + 1 < argc) {
			unsetenv(argv[++i]);
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else {
			fprintf(stderr, "usage: env [-i] [-u NAME]... [NAME=VALUE]... [PROGRAM [ARG...]]\n");
			return 125;
		}
	}
	for (; i < argc && strchr(argv[i], '='); i++) {
		if (putenv(argv[i]) != 0) {
			fprintf(stderr, "env: %s: %s\n", argv[i], strerror(errno));
			return 125;
		}
	}
	if (i >= argc) {
		for (char **e = environ; e && *e; e++)
			printf("%s\n", *e);
		return 0;
	}
	/* After clearenv() environ is NULL; Linux takes a NULL envp as empty,
	 * but pass a real empty list anyway. */
	static char *empty[] = {NULL};
	if (!environ)
		environ = empty;
	execvp(argv[i], argv + i);
	int e = errno;
	fprintf(stderr, "env: %s: %s\n", argv[i], strerror(e));
	return e == ENOENT ? 127 : 126;
}
