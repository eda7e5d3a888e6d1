/*
 * pwd - print the current directory.
 *
 * Usage: pwd [-L|-P]      (both print getcwd(); there are no symlink games)
 * Exits 0, or 1 if getcwd fails.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof cwd)) {
		fprintf(stderr, "pwd: %s\n", strerror(errno));
		return 1;
	}
	printf("%s\n", cwd);
	return 0;
}
