/*
 * memloop - a memory-bound loop over a 4 MiB buffer.
 *
 * Usage: memloop [PASSES]  (default 20)
 * Each pass stores a word derived from the pass and index to every 4-byte
 * slot of a malloc'd 4 MiB buffer (mmap-backed in musl), reading the old
 * value first; prints the final checksum. Measures guest memory access cost.
 * Exits 0.
 */
#include "guest.h"
#include <stdint.h>

int main(int argc, char **argv)
{
	enum { WORDS = (4 << 20) / 4 };
	unsigned long passes = arg_ulong(argc, argv, 1, 20);
	uint32_t *buf = calloc(WORDS, sizeof *buf), sum = 0;
	if (!buf) {
		printf("memloop: out of memory\n");
		return 1;
	}
	for (unsigned long p = 0; p < passes; p++)
		for (uint32_t i = 0; i < WORDS; i++) {
			sum += buf[i];
			buf[i] = (uint32_t)(i * 2654435761u + p);
		}
	printf("memloop: %lu passes over 4 MiB, checksum %08x\n", passes, (unsigned)sum);
	return 0;
}
