/*
 * timeio - clocks and sleeps, reported as yes/no facts (never raw times).
 *
 * Usage: timeio
 * Checks clock_gettime(CLOCK_REALTIME) is a plausible date (after 2020),
 * CLOCK_MONOTONIC never goes back, gettimeofday and time() agree with the
 * real-time clock, nanosleep(20ms), clock_nanosleep relative (10ms) and
 * absolute (TIMER_ABSTIME, 10ms ahead) each sleep at least as long as asked,
 * and clock_getres succeeds. Exits 0 when every check passed.
 */
#include "guest.h"
#include <sys/time.h>
#include <time.h>

static long long ns_of(struct timespec t)
{
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static long long now_ns(clockid_t clock)
{
	struct timespec t;
	clock_gettime(clock, &t);
	return ns_of(t);
}

static void check_realtime(void)
{
	struct timespec rt;
	struct timeval tv;
	check("clock_gettime REALTIME succeeds", clock_gettime(CLOCK_REALTIME, &rt) == 0);
	check("REALTIME is after 2020", rt.tv_sec > 1577836800);
	check("gettimeofday succeeds", gettimeofday(&tv, NULL) == 0);
	check("gettimeofday within 2s of REALTIME", llabs((long long)tv.tv_sec - rt.tv_sec) <= 2);
	check("gettimeofday usec in range", tv.tv_usec >= 0 && tv.tv_usec < 1000000);
	check("time() within 2s of REALTIME", llabs((long long)time(NULL) - rt.tv_sec) <= 2);
}

static void check_monotonic(void)
{
	struct timespec res;
	long long prev = now_ns(CLOCK_MONOTONIC), backwards = 0;
	for (int i = 0; i < 1000; i++) {
		long long t = now_ns(CLOCK_MONOTONIC);
		backwards += t < prev;
		prev = t;
	}
	check("MONOTONIC never goes back over 1000 reads", backwards == 0);
	check("clock_getres MONOTONIC succeeds",
	      clock_getres(CLOCK_MONOTONIC, &res) == 0 && ns_of(res) > 0);
}

static void check_sleeps(void)
{
	struct timespec d20 = {0, 20000000}, d10 = {0, 10000000}, abs;
	long long t0 = now_ns(CLOCK_MONOTONIC);
	check("nanosleep 20ms returns 0", nanosleep(&d20, NULL) == 0);
	check("elapsed >= 20ms", now_ns(CLOCK_MONOTONIC) - t0 >= 20000000);

	t0 = now_ns(CLOCK_MONOTONIC);
	check("clock_nanosleep relative 10ms returns 0",
	      clock_nanosleep(CLOCK_MONOTONIC, 0, &d10, NULL) == 0);
	check("elapsed >= 10ms", now_ns(CLOCK_MONOTONIC) - t0 >= 10000000);

	t0 = now_ns(CLOCK_MONOTONIC);
	abs.tv_sec = (t0 + 10000000) / 1000000000;
	abs.tv_nsec = (t0 + 10000000) % 1000000000;
	check("clock_nanosleep TIMER_ABSTIME +10ms returns 0",
	      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL) == 0);
	check("now >= the absolute deadline", now_ns(CLOCK_MONOTONIC) >= ns_of(abs));
}

int main(void)
{
	check_realtime();
	check_monotonic();
	check_sleeps();
	return guest_status();
}
