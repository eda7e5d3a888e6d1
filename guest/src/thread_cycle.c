/*
 * thread_cycle - many pthread_create + pthread_join cycles.
 *
 * Usage: thread_cycle [N]      (N default 1000)
 * Creates a thread that adds its argument to a total and returns, joins it,
 * N times, one thread at a time. Prints "thread_cycle: N threads, total T";
 * exits 0, or 1 if a create or join failed. The thread-creation benchmark.
 */
#include "guest.h"
#include <pthread.h>

static unsigned long total;

static void *add(void *arg)
{
	total += (unsigned long)arg;
	return arg;
}

int main(int argc, char **argv)
{
	unsigned long n = arg_ulong(argc, argv, 1, 1000);
	for (unsigned long i = 0; i < n; i++) {
		pthread_t t;
		void *back;
		if (pthread_create(&t, NULL, add, (void *)i) || pthread_join(t, &back) ||
		    back != (void *)i) {
			printf("thread_cycle: failed at thread %lu\n", i);
			return 1;
		}
	}
	printf("thread_cycle: %lu threads, total %lu\n", n, total);
	return 0;
}
