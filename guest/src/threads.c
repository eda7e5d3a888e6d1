/*
 * threads - pthreads: create/join, a mutex, a condition variable, and TLS.
 *
 * Usage: threads
 * Starts 4 threads (musl: mmap'd stacks, clone with CLONE_VM|CLONE_SETTLS|
 * CLONE_CHILD_CLEARTID..., each with its own TLS block). Each checks in under
 * a mutex and signals a condition variable; main waits until all 4 have, then
 * broadcasts "go"; each thread then adds 1 to a shared counter 100000 times
 * under the mutex and counts its own adds in a __thread variable. Prints only
 * totals and yes/no facts; the order threads ran in never shows. Exits 0 when
 * every check passed.
 */
#include "guest.h"
#include <pthread.h>
#include <stdint.h>

enum { THREADS = 4, ADDS = 100000 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int ready, go;
static long counter;
static __thread long my_adds;
static __thread int tls_initialized = 42;
static void *tls_address[THREADS];

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg, initial = tls_initialized;
	tls_address[id] = &my_adds;
	pthread_mutex_lock(&lock);
	ready++;
	pthread_cond_broadcast(&changed);
	while (!go)
		pthread_cond_wait(&changed, &lock);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < ADDS; i++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
		my_adds++;
	}
	return (void *)(intptr_t)(initial == 42 && my_adds == ADDS ? 1000 + id : -1);
}

static int addresses_distinct(void)
{
	for (int i = 0; i < THREADS; i++)
		for (int j = 0; j < THREADS; j++)
			if ((i != j && tls_address[i] == tls_address[j]) || tls_address[i] == &my_adds)
				return 0;
	return 1;
}

int main(void)
{
	pthread_t t[THREADS];
	int created = 0, joined_ok = 0;
	for (int i = 0; i < THREADS; i++)
		created += pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) == 0;
	check("4 threads created", created == THREADS);

	pthread_mutex_lock(&lock);
	while (ready < THREADS)
		pthread_cond_wait(&changed, &lock);
	go = 1;
	pthread_cond_broadcast(&changed);
	pthread_mutex_unlock(&lock);
	check("all threads checked in before go", ready == THREADS);

	for (int i = 0; i < THREADS; i++) {
		void *ret;
		joined_ok += pthread_join(t[i], &ret) == 0 && ret == (void *)(intptr_t)(1000 + i);
	}
	check("joined 4 threads, each saw its own TLS", joined_ok == THREADS);
	printf("counter=%ld\n", counter);
	check("counter is 4 x 100000", counter == (long)THREADS * ADDS);
	check("__thread variables are per thread", addresses_distinct());
	check("main's __thread values untouched", my_adds == 0 && tls_initialized == 42);
	return guest_status();
}
