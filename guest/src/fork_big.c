/*
 * fork_big - the cost of fork() for a big process, against vfork().
 *
 * Usage: fork_big MIB CYCLES [fork|vfork]   (default 16 100 fork)
 * Allocates MIB MiB, writes every page (so each one is really there), then
 * runs CYCLES times: fork (or vfork), the child _exits at once, the parent
 * waits. With copy-on-write the cost of a fork grows with the page table,
 * not with the memory; vfork copies nothing at all. Prints one fixed line
 * (the benchmark measures wall time). Exits 0 when every child exited 0.
 */
#include "guest.h"
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	unsigned long mib = arg_ulong(argc, argv, 1, 16), cycles = arg_ulong(argc, argv, 2, 100);
	int use_vfork = argc > 3 && strcmp(argv[3], "vfork") == 0;
	size_t size = mib << 20;
	volatile unsigned char *mem = malloc(size ? size : 1);
	unsigned long wrong = 0;
	if (!mem) {
		report("malloc", -1);
		return 1;
	}
	for (size_t i = 0; i < size; i += 4096)
		mem[i] = (unsigned char)i;
	for (unsigned long i = 0; i < cycles; i++) {
		int status;
		pid_t pid = use_vfork ? vfork() : fork();
		if (pid == 0)
			_exit(0);
		if (pid < 0) {
			report(use_vfork ? "vfork" : "fork", -1);
			return 1;
		}
		if (waitpid(pid, &status, 0) != pid || status != 0)
			wrong++;
	}
	printf("fork_big: %lu %s cycles of a %lu MiB process, %lu wrong\n", cycles,
	       use_vfork ? "vfork" : "fork", mib, wrong);
	return wrong ? 1 : 0;
}
