/*
 * futex_pingpong - two threads hand a turn back and forth with futexes.
 *
 * Usage: futex_pingpong [N]    (N round trips, default 10000)
 * A shared word says whose turn it is (0 main, 1 the other thread). Each side
 * waits with FUTEX_WAIT_PRIVATE while it is not its turn, then hands the turn
 * over and FUTEX_WAKEs the other. Measures futex wakeup and thread switch
 * cost. Prints "futex_pingpong: N round trips ok". Exits 0.
 */
#include "guest.h"
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile int turn;
static unsigned long rounds;

/* Waits until turn == me, then gives the turn to the other side. */
static void take_and_pass(int me)
{
	while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) != me)
		syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, !me, NULL, 0, 0);
	__atomic_store_n(&turn, !me, __ATOMIC_RELEASE);
	syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, 0, 0);
}

static void *partner(void *arg)
{
	for (unsigned long i = 0; i < rounds; i++)
		take_and_pass(1);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;
	rounds = arg_ulong(argc, argv, 1, 10000);
	if (pthread_create(&t, NULL, partner, NULL)) {
		printf("futex_pingpong: pthread_create failed\n");
		return 1;
	}
	for (unsigned long i = 0; i < rounds; i++)
		take_and_pass(0);
	take_and_pass(0);
	pthread_join(t, NULL);
	printf("futex_pingpong: %lu round trips ok\n", rounds);
	return 0;
}
