/*
 * check_mmap_fixed - mmap with an address hint and with MAP_FIXED (for nommu
 * check).
 *
 * Usage: check_mmap_fixed
 * Asks for a page at a hint 1 MiB past an existing mapping (no-MMU ignores
 * the hint), then for MAP_FIXED at that address (no-MMU: EINVAL). Prints
 * "hint honoured: no" and "mmap MAP_FIXED: EINVAL (Invalid argument)" on
 * no-MMU. Exits 0. `nommu check` reports mmap-hint and mmap-fixed at the
 * marked lines.
 */
#include "guest.h"
#include <sys/mman.h>

int main(void)
{
	int prot = PROT_READ | PROT_WRITE, flags = MAP_PRIVATE | MAP_ANONYMOUS;
	char *base = mmap(NULL, 4096, prot, flags, -1, 0);
	if (base == MAP_FAILED)
		return 1;
	void *hint = base + (1 << 20);
	void *p = mmap(hint, 4096, prot, flags, -1, 0); /* CHECK: mmap-hint */
	printf("hint honoured: %s\n", p == hint ? "yes" : "no");
	void *q = mmap(hint, 4096, prot, flags | MAP_FIXED, -1, 0); /* CHECK: mmap-fixed */
	report("mmap MAP_FIXED", q == MAP_FAILED ? -1 : 0);
	return 0;
}
