/*
 * vfork_relies - a program that relies on what vfork() really does.
 *
 * Usage: vfork_relies
 * The child sleeps 200ms, records its pid in a global and _exits. The program
 * assumes two things only vfork guarantees:
 *   - the child's write is in the parent's memory (they share it), and
 *   - the parent does not run until the child has exited (it is suspended),
 * so the parent reads the global right after vfork returns, without waiting.
 * With real vfork (natively, on nommu with or without --mmu) both hold.
 * Under `nommu run --mmu --vfork-as-fork` (the classic `#define vfork fork`)
 * the child writes its own copy and the parent runs on at once: both checks
 * print "no". Exits 0 when both held, 1 otherwise.
 */
#include "guest.h"
#include <time.h>
#include <unistd.h>

static volatile pid_t child_pid_seen; /* written by the child */

static long long monotonic_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(void)
{
	struct timespec pause = {0, 200000000};
	long long t0 = monotonic_ns();
	pid_t pid = vfork();
	if (pid == 0) {
		nanosleep(&pause, NULL);
		child_pid_seen = getpid();
		_exit(0);
	}
	if (pid < 0) {
		report("vfork", -1);
		return 2;
	}
	long long waited = monotonic_ns() - t0;
	check("the child's write reached the parent", child_pid_seen == pid);
	check("the parent waited for the child", waited >= 200000000);
	int status = 0;
	waitpid(pid, &status, 0);
	print_wait_status("child", status);
	return guest_status();
}
