/*
 * futex_pingpong - two threads hand a turn back and forth with futexes.
 *
 * Usage: futex_pingpong [N]    (N round trips, default 10000)
 *        futex_pingpong --alarm (hand the turn over until SIGALRM, after 1 s)
 * A shared word says whose turn it is (0 main, 1 the other thread, 2 game
 * over). Each side waits with FUTEX_WAIT_PRIVATE while it is not its turn,
 * then hands the turn over and FUTEX_WAKEs the other. Measures futex wakeup
 * and thread switch cost. Prints "futex_pingpong: N round trips ok", or with
 * --alarm "futex_pingpong: stopped by SIGALRM" (the handler ends the game).
 * Exits 0.
 */
#include "guest.h"
#include <limits.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { OVER = 2 };
static volatile int turn;
static unsigned long rounds;

/* Waits until turn == me, then gives the turn to the other side; 0 once the
 * game is over. */
static int take_and_pass(int me)
{
	for (;;) {
		int seen = __atomic_load_n(&turn, __ATOMIC_ACQUIRE);
		if (seen == OVER)
			return 0;
		if (seen != me) {
			syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, seen, NULL, 0, 0);
			continue;
		}
		if (__atomic_compare_exchange_n(&turn, &seen, !me, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			break;
	}
	syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, 0, 0);
	return 1;
}

static void game_over(int sig)
{
	__atomic_store_n(&turn, OVER, __ATOMIC_RELEASE);
	syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, 0, 0);
}

static void *partner(void *arg)
{
	for (unsigned long i = 0; i < rounds; i++)
		if (!take_and_pass(1))
			break;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;
	int until_alarm = argc > 1 && !strcmp(argv[1], "--alarm");
	rounds = until_alarm ? ULONG_MAX : arg_ulong(argc, argv, 1, 10000);
	if (until_alarm) {
		signal(SIGALRM, game_over);
		alarm(1);
	}
	if (pthread_create(&t, NULL, partner, NULL)) {
		printf("futex_pingpong: pthread_create failed\n");
		return 1;
	}
	for (unsigned long i = 0; i < rounds; i++)
		if (!take_and_pass(0))
			break;
	take_and_pass(0);
	pthread_join(t, NULL);
	if (until_alarm)
		printf("futex_pingpong: stopped by SIGALRM\n");
	else
		printf("futex_pingpong: %lu round trips ok\n", rounds);
	return 0;
}
