/*
 * check_clone - clone() without CLONE_VM (for nommu check).
 *
 * Usage: check_clone
 * Starts a child with clone(fn, stack, SIGCHLD, arg): no CLONE_VM, so the
 * child is meant to get a copy of the parent's memory. On no-MMU it gets none
 * and runs in the parent's memory (here on the static stack it was given).
 * The child returns 3; the parent prints "child: exited 3". Exits 0.
 * `nommu check` reports clone-without-vm at the marked line.
 */
#include "guest.h"

static char child_stack[16384] __attribute__((aligned(16)));

static int child(void *arg)
{
	return *(int *)arg;
}

int main(void)
{
	int code = 3, status = 0;
	pid_t pid = clone(child, child_stack + sizeof child_stack, SIGCHLD, &code); /* CHECK: clone-without-vm */
	if (pid < 0) {
		report("clone", -1);
		return 1;
	}
	waitpid(pid, &status, 0);
	print_wait_status("child", status);
	return 0;
}
