/*
 * check_mprotect - makes a page read-only with mprotect (for nommu check).
 *
 * Usage: check_mprotect
 * mprotect needs an MMU: ENOSYS. Prints "mprotect: ENOSYS (Function not
 * implemented)" on no-MMU. Exits 0. `nommu check` reports mprotect at the
 * marked line.
 */
#include "guest.h"
#include <sys/mman.h>

int main(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	int rc = mprotect(p, 4096, PROT_READ); /* CHECK: mprotect */
	report("mprotect", rc);
	return 0;
}
