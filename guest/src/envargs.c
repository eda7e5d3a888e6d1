/*
 * envargs - the initial process stack: argv, the environment, and uname.
 *
 * Usage: envargs [ARGS...]
 * Prints argc, every argv[i], the environment sorted by name (so the order
 * the loader laid it out in does not matter), then uname's sysname and
 * machine. Natively on an x86_64 kernel the machine is "x86_64"; under nommu
 * it is whatever nommu reports (differs by design). Exits 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

extern char **environ;

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	struct utsname u;
	size_t n = 0;
	printf("argc=%d\n", argc);
	for (int i = 0; i < argc; i++)
		printf("argv[%d]=%s\n", i, argv[i]);
	while (environ[n])
		n++;
	char **env = malloc((n + 1) * sizeof *env);
	memcpy(env, environ, (n + 1) * sizeof *env);
	qsort(env, n, sizeof *env, compare_strings);
	printf("envc=%zu\n", n);
	for (size_t i = 0; i < n; i++)
		printf("env: %s\n", env[i]);
	if (uname(&u) == 0)
		printf("uname: sysname=%s machine=%s\n", u.sysname, u.machine);
	return 0;
}
