/*
 * check_vfork_global - a vfork child writes a global variable (for nommu check).
 *
 * Usage: check_vfork_global
 * The child stores 42 into a global and _exits; the parent, which shares
 * the memory, sees it: prints "counter=42". Exits 0. `nommu check` reports
 * vfork-write-global at the marked line.
 */
#include "guest.h"
#include <unistd.h>

static int counter;

int main(void)
{
	pid_t pid = vfork();
	if (pid == 0) {
		counter = 42; /* CHECK: vfork-write-global */
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	printf("counter=%d\n", counter);
	return 0;
}
