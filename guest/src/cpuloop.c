/*
 * cpuloop - a compute-bound loop with a deterministic result.
 *
 * Usage: cpuloop [ITERATIONS]     (default 300000000)
 * Mixes an LCG and xorshift per iteration, register-only, and prints the
 * final value, so emulator speed is measured without syscalls or memory
 * traffic. Exits 0.
 */
#include "guest.h"
#include <stdint.h>

int main(int argc, char **argv)
{
	unsigned long n = arg_ulong(argc, argv, 1, 300000000UL);
	uint32_t x = 12345, y = 0x9e3779b9;
	for (unsigned long i = 0; i < n; i++) {
		x = x * 1664525u + 1013904223u;
		y ^= y << 13;
		y ^= y >> 17;
		y ^= y << 5;
		x ^= y >> 3;
	}
	printf("cpuloop: %lu iterations, result %08x\n", n, (unsigned)(x ^ y));
	return 0;
}
