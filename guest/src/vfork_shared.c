/*
 * vfork_shared - a vfork child shares the parent's memory, and the parent
 * waits for it.
 *
 * Usage: vfork_shared
 * The child sleeps 20ms, writes a global and one of the parent's locals, and
 * _exits. Because vfork suspends the parent until the child exits (or
 * execs), the parent sees both writes as soon as vfork returns, and at least
 * 20ms have passed. True natively too (Linux vfork shares memory on MMU
 * kernels as well) and on no-MMU, where it is the only way. Exits 0 when
 * every check passed.
 */
#include "guest.h"
#include <time.h>
#include <unistd.h>

static int global_value = 1;

static long long monotonic_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(void)
{
	volatile int local_value = 2;
	struct timespec pause = {0, 20000000};
	long long t0 = monotonic_ns();
	pid_t pid = vfork();
	if (pid == 0) {
		nanosleep(&pause, NULL);
		global_value = 100;
		local_value = 200;
		_exit(0);
	}
	long long waited = monotonic_ns() - t0;
	int status = 0;
	check("vfork succeeded", pid > 0);
	printf("parent sees global_value=%d local_value=%d\n", global_value, local_value);
	check("child's writes visible", global_value == 100 && local_value == 200);
	check("parent was suspended >= 20ms", waited >= 20000000);
	check("waitpid reaps the child", waitpid(pid, &status, 0) == pid);
	print_wait_status("child", status);
	return guest_status();
}
