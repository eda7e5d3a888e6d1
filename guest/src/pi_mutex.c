/*
 * pi_mutex - priority-inheritance futexes and mutexes.
 *
 * Usage: pi_mutex
 * The raw calls: FUTEX_LOCK_PI on 0 stores the caller's TID; again, or
 * TRYLOCK_PI, is EDEADLK; UNLOCK_PI clears the word, and is EPERM for a
 * lock not held; a word naming no thread is ESRCH; a lock another thread
 * holds is EAGAIN for TRYLOCK_PI and ETIMEDOUT for LOCK_PI with an absolute
 * CLOCK_REALTIME timeout (FUTEX_CLOCK_REALTIME with LOCK_PI is ENOSYS); an
 * unlock hands the lock straight to the waiter (the word holds its TID and
 * FUTEX_WAITERS); a signal handler does not end a LOCK_PI wait (no EINTR).
 * Then PTHREAD_PRIO_INHERIT mutexes: 4 threads counting under one; an
 * error-checking one (EDEADLK, EPERM); timedlock (ETIMEDOUT); a robust one
 * whose owner exits (EOWNERDEAD, consistent, lock again).
 * Exits 0 when every check passed.
 */
#include "guest.h"
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { LOCK_PI = 6, UNLOCK_PI = 7, TRYLOCK_PI = 8, CLOCK_RT = 256 };
#define WAITERS 0x80000000u
#define TID_MASK 0x3fffffffu

static volatile unsigned word;
static volatile int holding, release, handled;

static long futex(int op, const struct timespec *at)
{
	return syscall(SYS_futex, &word, op, 0, at, 0, 0);
}

static pid_t tid(void)
{
	return syscall(SYS_gettid);
}

static void raw_single(void)
{
	report("LOCK_PI on 0", futex(LOCK_PI, 0));
	check("the word holds our TID", word == (unsigned)tid());
	report("LOCK_PI again", futex(LOCK_PI, 0));
	report("TRYLOCK_PI held by us", futex(TRYLOCK_PI, 0));
	report("UNLOCK_PI", futex(UNLOCK_PI, 0));
	check("the word is 0", word == 0);
	report("UNLOCK_PI not held", futex(UNLOCK_PI, 0));
	report("TRYLOCK_PI on 0", futex(TRYLOCK_PI, 0));
	report("UNLOCK_PI", futex(UNLOCK_PI, 0));
	word = 0x3ffffff0;
	report("LOCK_PI of a word naming no thread", futex(LOCK_PI, 0));
	word = 0;
	report("LOCK_PI | FUTEX_CLOCK_REALTIME", futex(LOCK_PI | CLOCK_RT, 0));
}

/* Takes the lock, says so, and releases it when told to. */
static void *holder(void *arg)
{
	futex(LOCK_PI, 0);
	holding = 1;
	while (!release)
		usleep(1000);
	if (arg)
		pthread_kill(*(pthread_t *)arg, SIGUSR1), usleep(20000);
	futex(UNLOCK_PI, 0);
	return 0;
}

static void on_usr1(int sig)
{
	handled++;
}

static void *release_later(void *arg)
{
	usleep(20000);
	release = 1;
	return arg;
}

static void raw_contended(int with_signal)
{
	pthread_t h, r, self = pthread_self();
	holding = release = 0;
	pthread_create(&h, 0, holder, with_signal ? &self : 0);
	while (!holding)
		usleep(1000);
	if (!with_signal) {
		report("TRYLOCK_PI held by another thread", futex(TRYLOCK_PI, 0));
		struct timespec at;
		clock_gettime(CLOCK_REALTIME, &at);
		at.tv_nsec += 30000000;
		if (at.tv_nsec >= 1000000000)
			at.tv_sec++, at.tv_nsec -= 1000000000;
		report("LOCK_PI with a timeout, held by another thread", futex(LOCK_PI, &at));
	}
	pthread_create(&r, 0, release_later, 0);
	long rc = futex(LOCK_PI, 0);
	report(with_signal ? "LOCK_PI through a signal handler" : "LOCK_PI, handed over", rc);
	check("the word holds our TID and FUTEX_WAITERS", word == (WAITERS | (unsigned)tid()));
	report("UNLOCK_PI", futex(UNLOCK_PI, 0));
	check("the word is 0", word == 0);
	pthread_join(h, 0);
	pthread_join(r, 0);
}

static pthread_mutex_t m;
static long counter;

static void *count(void *arg)
{
	for (int i = 0; i < 2000; i++) {
		pthread_mutex_lock(&m);
		long c = counter;
		if (i % 100 == 0)
			sched_yield();
		counter = c + 1;
		pthread_mutex_unlock(&m);
	}
	return arg;
}

static void init(int type, int robust)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	report_err("setprotocol PTHREAD_PRIO_INHERIT",
		   pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT));
	pthread_mutexattr_settype(&a, type);
	pthread_mutexattr_setrobust(&a, robust);
	pthread_mutex_init(&m, &a);
}

static void *unlock_it(void *arg)
{
	report_err("unlock of an error-checking PI mutex held by another thread",
		   pthread_mutex_unlock(&m));
	struct timespec at;
	clock_gettime(CLOCK_REALTIME, &at);
	at.tv_nsec += 30000000;
	if (at.tv_nsec >= 1000000000)
		at.tv_sec++, at.tv_nsec -= 1000000000;
	report_err("timedlock of a PI mutex held by another thread", pthread_mutex_timedlock(&m, &at));
	return arg;
}

static void *lock_and_exit(void *arg)
{
	pthread_mutex_lock(&m);
	return arg;
}

static void mutexes(void)
{
	pthread_t t[4];
	init(PTHREAD_MUTEX_NORMAL, 0);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], 0, count, 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], 0);
	printf("4 threads counted to %ld under a PI mutex\n", counter);
	init(PTHREAD_MUTEX_ERRORCHECK, 0);
	report_err("lock", pthread_mutex_lock(&m));
	report_err("lock again", pthread_mutex_lock(&m));
	pthread_create(&t[0], 0, unlock_it, 0);
	pthread_join(t[0], 0);
	report_err("unlock", pthread_mutex_unlock(&m));
	init(PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_ROBUST);
	pthread_create(&t[0], 0, lock_and_exit, 0);
	pthread_join(t[0], 0);
	report_err("lock a robust PI mutex whose owner exited", pthread_mutex_lock(&m));
	report_err("consistent", pthread_mutex_consistent(&m));
	report_err("unlock", pthread_mutex_unlock(&m));
	report_err("lock", pthread_mutex_lock(&m));
	report_err("unlock", pthread_mutex_unlock(&m));
}

int main(void)
{
	setvbuf(stdout, 0, _IONBF, 0);
	alarm(20);
	signal(SIGUSR1, on_usr1);
	raw_single();
	raw_contended(0);
	raw_contended(1);
	printf("handler ran during LOCK_PI: %d\n", handled);
	mutexes();
	return guest_status();
}
