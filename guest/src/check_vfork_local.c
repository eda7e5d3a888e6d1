/*
 * check_vfork_local - a vfork child writes a local variable of the function
 * that called vfork (for nommu check).
 *
 * Usage: check_vfork_local
 * run() vforks; the child stores into run()'s local and _exits; the parent
 * sees the store: prints "local=2". Exits 0. `nommu check` reports
 * vfork-write-stack at the marked line.
 */
#include "guest.h"
#include <unistd.h>

__attribute__((noinline)) static int run(void)
{
	volatile int local = 1;
	pid_t pid = vfork();
	if (pid == 0) {
		local = 2; /* CHECK: vfork-write-stack */
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	return local;
}

int main(void)
{
	printf("local=%d\n", run());
	return 0;
}
