/*
 * crash_fpe - integer division by zero.
 *
 * Usage: crash_fpe
 * Prints one line, then divides by a volatile zero (idiv raises #DE).
 * Expected: killed by SIGFPE (shell status 136).
 */
#include <stdio.h>

int main(void)
{
	volatile int zero = 0, n = 7;
	printf("crash_fpe: dividing by zero\n");
	fflush(stdout);
	n = n / zero;
	printf("crash_fpe: still alive (wrong)\n");
	return 1;
}
