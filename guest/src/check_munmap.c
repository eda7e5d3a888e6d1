/*
 * check_munmap - unmaps the same memory twice (for nommu check).
 *
 * Usage: check_munmap
 * The second munmap names memory that is no longer mapped: no-MMU says
 * EINVAL (an MMU kernel returns 0). Prints "first munmap: ok" and "second
 * munmap: EINVAL (Invalid argument)" on no-MMU. Exits 0. `nommu check`
 * reports munmap-unmapped at the marked line.
 */
#include "guest.h"
#include <sys/mman.h>

int main(void)
{
	void *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	report("first munmap", munmap(p, 8192));
	int rc = munmap(p, 8192); /* CHECK: munmap-unmapped */
	report("second munmap", rc);
	return 0;
}
