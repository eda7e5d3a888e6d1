/*
 * hello - the smallest end-to-end check: arguments, environment, stdout, exit.
 *
 * Usage: hello [ARGS...]
 * Prints "Hello, world!", argc, every argv[i], and the environment variables
 * NOMMU_TEST_VAR and NOMMU_TEST_EMPTY (or "(unset)"). Exits 0.
 * Tests pass argv[0] and the variables explicitly, so the output is the same
 * natively and under nommu.
 */
#include <stdio.h>
#include <stdlib.h>

static void print_env(const char *name)
{
	const char *value = getenv(name);
	printf("%s=%s\n", name, value ? value : "(unset)");
}

int main(int argc, char **argv)
{
	printf("Hello, world!\n");
	printf("argc=%d\n", argc);
	for (int i = 0; i < argc; i++)
		printf("argv[%d]=%s\n", i, argv[i]);
	print_env("NOMMU_TEST_VAR");
	print_env("NOMMU_TEST_EMPTY");
	return 0;
}
