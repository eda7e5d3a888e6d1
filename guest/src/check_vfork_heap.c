/*
 * check_vfork_heap - a vfork child writes a heap object (for nommu check).
 *
 * Usage: check_vfork_heap
 * The child stores into a malloc'd array of the parent's and _exits; the
 * parent sees the store: prints "shared[0]=2". (volatile: the compiler
 * does not know that a vfork child shares the parent's memory, and would
 * drop a store that no one else could see.) Exits 0. `nommu check`
 * reports vfork-write-heap at the marked line.
 */
#include "guest.h"
#include <unistd.h>

int main(void)
{
	volatile int *shared = malloc(64 * sizeof *shared);
	if (!shared)
		return 1;
	shared[0] = 1;
	pid_t pid = vfork();
	if (pid == 0) {
		shared[0] = 2; /* CHECK: vfork-write-heap */
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	printf("shared[0]=%d\n", shared[0]);
	return 0;
}
