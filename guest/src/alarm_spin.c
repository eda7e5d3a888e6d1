/*
 * alarm_spin - pause() when the interval timer is already due.
 *
 * Usage: alarm_spin [N]     (N rounds, default 50)
 * A 2 ms interval timer; each round computes for longer than that (no
 * syscalls) and then calls pause(), so the timer has come due by the time
 * the process sleeps: the kernel finds it due as the process goes to sleep,
 * wakes it with SIGALRM at once, and pause returns after the handler.
 * Prints "alarm_spin: N pauses, each ended by SIGALRM"; exits 0.
 */
#include "guest.h"
#include <sys/time.h>
#include <unistd.h>

static volatile int hits;

static void on_alarm(int sig) { hits++; }

int main(int argc, char **argv)
{
	unsigned long n = arg_ulong(argc, argv, 1, 50);
	struct itimerval every_2ms = {{0, 2000}, {0, 2000}};
	signal(SIGALRM, on_alarm);
	setitimer(ITIMER_REAL, &every_2ms, NULL);
	for (unsigned long i = 0; i < n; i++) {
		for (volatile int j = 0; j < 2000000; j++)
			;
		int before = hits;
		pause();
		if (hits == before) {
			printf("alarm_spin: pause returned without a signal\n");
			return 1;
		}
	}
	printf("alarm_spin: %lu pauses, each ended by SIGALRM\n", n);
	return 0;
}
