/*
 * check_frag - runs out of memory through fragmentation (for nommu check).
 *
 * Usage: check_frag
 * Maps 64 KiB blocks until memory runs out, unmaps every other one, then
 * asks for 1 MiB: half the memory is free, but in 64 KiB pieces, and a
 * no-MMU mapping must be contiguous, so it fails with ENOMEM. Prints
 * "blocks mapped: many", "mmap of 1 MiB: ENOMEM (Out of memory)" on no-MMU.
 * Exits 0. `nommu check` reports enomem-fragmentation at the marked line.
 */
#include "guest.h"
#include <sys/mman.h>

#define BLOCK (64 * 1024)
#define MAX_BLOCKS 4096

static void *blocks[MAX_BLOCKS];

int main(void)
{
	int prot = PROT_READ | PROT_WRITE, flags = MAP_PRIVATE | MAP_ANONYMOUS, n = 0;
	while (n < MAX_BLOCKS) {
		void *p = mmap(NULL, BLOCK, prot, flags, -1, 0);
		if (p == MAP_FAILED)
			break;
		blocks[n++] = p;
	}
	printf("blocks mapped: %s\n", n >= 16 ? "many" : "few");
	for (int i = 0; i < n; i += 2)
		munmap(blocks[i], BLOCK);
	void *big = mmap(NULL, 16 * BLOCK, prot, flags, -1, 0); /* CHECK: enomem-fragmentation */
	report("mmap of 1 MiB", big == MAP_FAILED ? -1 : 0);
	return 0;
}
