/*
 * check_vfork_translated - a vfork child writes a local variable of its
 * parent with code the parent already ran (for nommu check).
 *
 * Usage: check_vfork_translated
 * run() stores into its local through poke(), then vforks; the child pokes
 * the same local again and _exits; the parent sees the store: prints
 * "local=2". Exits 0. `nommu check` reports vfork-write-stack at the marked
 * line: the store runs code translated before the child existed, on a page
 * the parent has written (and the child has just written below its
 * parent's frames), which an emulator's fast store path would let by.
 */
#include "guest.h"
#include <unistd.h>

__attribute__((noinline)) static void poke(volatile int *p, int value)
{
	*p = value; /* CHECK: vfork-write-stack */
}

__attribute__((noinline)) static int run(void)
{
	volatile int local = 0;
	poke(&local, 1);
	pid_t pid = vfork();
	if (pid == 0) {
		poke(&local, 2);
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
