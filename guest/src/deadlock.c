/*
 * deadlock - two threads that wait for each other forever.
 *
 * Usage: deadlock
 * Prints "deadlock: starting", starts threads A and B; once both exist, A
 * joins B and B joins A, while main joins A. Every task is then blocked in
 * futex waits that nothing can satisfy. Natively this hangs (run it only with
 * a timeout); nommu is expected to detect that no task can run and report
 * the deadlock.
 */
#include <pthread.h>
#include <stdio.h>

static pthread_t a, b;
static pthread_mutex_t both_started = PTHREAD_MUTEX_INITIALIZER;

static void *join_other(void *other)
{
	pthread_mutex_lock(&both_started);
	pthread_mutex_unlock(&both_started);
	pthread_join(*(pthread_t *)other, NULL);
	return NULL;
}

int main(void)
{
	printf("deadlock: starting\n");
	fflush(stdout);
	pthread_mutex_lock(&both_started);
	pthread_create(&a, NULL, join_other, &b);
	pthread_create(&b, NULL, join_other, &a);
	pthread_mutex_unlock(&both_started);
	pthread_join(a, NULL);
	printf("deadlock: not reached\n");
	return 1;
}
