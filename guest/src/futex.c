/*
 * futex - the raw futex syscall (nr 240, and futex_time64 nr 422).
 *
 * Usage: futex
 * Without threads: WAKE with no waiters returns 0; WAIT when the word does
 * not hold the expected value fails with EAGAIN; WAIT with a 20ms timeout
 * fails with ETIMEDOUT after at least 20ms, both with futex (old 32-bit
 * timespec) and futex_time64 (64-bit timespec); the PRIVATE variants too.
 * With threads: 3 threads WAIT on one word; main changes the word and WAKEs
 * until all 3 have returned. Only totals are printed: how many waiters one
 * WAKE catches depends on timing. Exits 0 when every check passed.
 */
#include "guest.h"
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The i386 kernel's struct timespec for nr 240: 32-bit seconds. */
struct timespec32 {
	int32_t tv_sec, tv_nsec;
};

static long futex(volatile int *word, int op, int val, const void *timeout, int time64)
{
	return syscall(time64 ? SYS_futex_time64 : SYS_futex, word, op, val, timeout, 0, 0);
}

static long long monotonic_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void timed_wait(const char *what, int op, int time64)
{
	static volatile int word;
	struct timespec32 t32 = {0, 20000000};
	struct timespec t64 = {0, 20000000};
	char line[96];
	long long t0 = monotonic_ns();
	report(what, futex(&word, op, 0, time64 ? (void *)&t64 : (void *)&t32, time64));
	snprintf(line, sizeof line, "%s waited >= 20ms", what);
	check(line, monotonic_ns() - t0 >= 20000000);
}

static void single_thread_cases(void)
{
	static volatile int word = 5;
	printf("WAKE with no waiters -> %ld\n", futex(&word, FUTEX_WAKE, 1, NULL, 0));
	report("WAIT expecting 4 when word is 5", futex(&word, FUTEX_WAIT, 4, NULL, 0));
	report("WAIT_PRIVATE expecting 4 when word is 5",
	       futex(&word, FUTEX_WAIT_PRIVATE, 4, NULL, 0));
	timed_wait("WAIT with 20ms timeout", FUTEX_WAIT, 0);
	timed_wait("WAIT_PRIVATE with 20ms timeout", FUTEX_WAIT_PRIVATE, 0);
	timed_wait("futex_time64 WAIT with 20ms timeout", FUTEX_WAIT, 1);
}

static volatile int gate, returned;

static void *waiter(void *arg)
{
	while (!gate)
		futex(&gate, FUTEX_WAIT_PRIVATE, 0, NULL, 0);
	__atomic_add_fetch(&returned, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void wake_waiters(void)
{
	struct timespec ms = {0, 1000000};
	pthread_t t[3];
	long woken = 0;
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, waiter, NULL);
	nanosleep(&ms, NULL);
	gate = 1;
	while (__atomic_load_n(&returned, __ATOMIC_SEQ_CST) < 3) {
		woken += futex(&gate, FUTEX_WAKE_PRIVATE, 3, NULL, 0);
		nanosleep(&ms, NULL);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	check("all 3 waiters returned", returned == 3);
	check("WAKE woke at most 3", woken >= 0 && woken <= 3);
}

int main(void)
{
	single_thread_cases();
	wake_waiters();
	return guest_status();
}
