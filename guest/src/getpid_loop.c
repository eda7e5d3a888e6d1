/*
 * getpid_loop - the cheapest possible syscall, many times.
 *
 * Usage: getpid_loop [N]   (default 200000)
 * Calls syscall(SYS_getpid) N times (the raw syscall, so no libc cache can
 * skip the kernel), checks every answer is the same, prints "done". Measures
 * syscall round-trip cost. Exits 0, or 1 if the pid changed.
 */
#include "guest.h"
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	unsigned long n = arg_ulong(argc, argv, 1, 200000);
	long first = syscall(SYS_getpid);
	for (unsigned long i = 0; i < n; i++)
		if (syscall(SYS_getpid) != first) {
			printf("getpid changed\n");
			return 1;
		}
	printf("done\n");
	return 0;
}
