/*
 * check_brk - grows the heap with brk (for nommu check).
 *
 * Usage: check_brk
 * Asks the kernel (raw SYS_brk, as uClibc's sbrk would; musl's sbrk refuses
 * by itself) to move the break up 64 KiB. A no-MMU kernel has a zero-size
 * brk and returns the old break. Prints "brk grew: no" on no-MMU. Exits 0.
 * `nommu check` reports brk-growth at the marked line.
 */
#include "guest.h"
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	long cur = syscall(SYS_brk, 0);
	long got = syscall(SYS_brk, cur + 65536); /* CHECK: brk-growth */
	printf("brk grew: %s\n", got == cur + 65536 ? "yes" : "no");
	return 0;
}
