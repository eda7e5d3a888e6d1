/*
 * robust - a robust mutex whose owner dies.
 *
 * Usage: robust
 * A thread locks a robust mutex and exits without unlocking it. The kernel
 * walks the dead thread's robust list (set_robust_list): it marks the lock
 * word FUTEX_OWNER_DIED and wakes a waiter, so the next locker gets
 * EOWNERDEAD instead of waiting forever. Two cases: main locks after the
 * owner is gone; main is already waiting when the owner dies. Prints what
 * each lock returned; exits 0.
 */
#include "guest.h"
#include <pthread.h>
#include <time.h>

static pthread_mutex_t m;
static volatile int locked;

static void *lock_and_die(void *linger)
{
	pthread_mutex_lock(&m);
	locked = 1;
	if (linger) {
		struct timespec t = {0, 100 * 1000 * 1000};
		nanosleep(&t, NULL); /* main is waiting for the lock by now */
	}
	return NULL; /* exits holding the lock */
}

static void round_(const char *what, int linger)
{
	pthread_t t;
	locked = 0;
	pthread_create(&t, NULL, lock_and_die, linger ? "yes" : NULL);
	if (!linger)
		pthread_join(t, NULL);
	while (!locked)
		sched_yield();
	int rc = pthread_mutex_lock(&m);
	printf("%s: lock -> %s", what, rc == EOWNERDEAD ? "EOWNERDEAD" : errname(rc));
	if (rc == EOWNERDEAD) {
		pthread_mutex_consistent(&m);
		pthread_mutex_unlock(&m);
		rc = pthread_mutex_lock(&m);
		printf(", made consistent, lock again -> %s", errname(rc));
	}
	printf("\n");
	pthread_mutex_unlock(&m);
	if (linger)
		pthread_join(t, NULL);
}

int main(void)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	int rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (rc) { /* musl asks get_robust_list whether the kernel has robust lists */
		printf("pthread_mutexattr_setrobust: %s\n", errname(rc));
		return 1;
	}
	pthread_mutex_init(&m, &a);
	round_("owner already dead", 0);
	round_("owner dies while main waits", 1);
	return 0;
}
