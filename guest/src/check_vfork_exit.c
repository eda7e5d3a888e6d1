/*
 * check_vfork_exit - a vfork child calls exit() instead of _exit() (for
 * nommu check).
 *
 * Usage: check_vfork_exit
 * The parent registers an atexit handler and leaves text in stdout's buffer;
 * the child's exit(0) runs the handler and flushes the buffer, in the
 * child. Prints "parent: buffered text; atexit handler ran" and
 * "parent: done" (the handler does not run again). Exits 0. `nommu check`
 * reports vfork-exit at the marked line.
 */
#include "guest.h"
#include <unistd.h>

static void handler(void)
{
	printf("atexit handler ran\n");
}

int main(void)
{
	atexit(handler);
	printf("parent: buffered text; ");
	pid_t pid = vfork();
	if (pid == 0)
		exit(0); /* CHECK: vfork-exit */
	waitpid(pid, NULL, 0);
	printf("parent: done\n");
	return 0;
}
