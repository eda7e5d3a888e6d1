/*
 * clone_vm - a raw clone(CLONE_VM|SIGCHLD) child on its own stack.
 *
 * Usage: clone_vm
 * Uses musl's clone() with a malloc'd stack. The child is a separate process
 * that shares the parent's memory and runs concurrently with it (no vfork
 * suspension): it writes a shared variable and returns 7, which becomes its
 * exit status. The parent waits with waitpid and checks the write. The child
 * touches no libc state (it shares the parent's TLS and errno). Exits 0 when
 * every check passed.
 */
#include "guest.h"

static volatile int shared;

static int child(void *arg)
{
	shared = *(int *)arg + 1;
	return 7;
}

int main(void)
{
	int arg = 41, status = 0;
	pid_t pid = clone_process(child, &arg);
	if (pid < 0) {
		report("clone", -1);
		return 1;
	}
	check("waitpid returns the child", waitpid(pid, &status, 0) == pid);
	print_wait_status("child", status);
	printf("shared=%d\n", shared);
	check("child's write is visible", shared == 42);
	return guest_status();
}
