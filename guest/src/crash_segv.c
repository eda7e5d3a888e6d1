/*
 * crash_segv - a store to an unmapped address.
 *
 * Usage: crash_segv
 * Prints one line, then writes to address 0x1. Expected: killed by SIGSEGV
 * (shell status 139). On nommu the low page is never backed by memory, so
 * the access must fault as it does natively.
 */
#include <stdio.h>

int main(void)
{
	printf("crash_segv: storing to address 0x1\n");
	fflush(stdout);
	int *volatile bad = (int *)1;
	*bad = 42;
	printf("crash_segv: still alive (wrong)\n");
	return 1;
}
