/*
 * wake_spin - a woken thread gets the CPU while its waker spins.
 *
 * Usage: wake_spin
 * Three ways one thread wakes another and then spins, making no syscall,
 * until the woken one has run: FUTEX_WAKE, a signal (tgkill) to a thread in
 * pause(); then pthread_cancel of a thread blocked in sem_wait. On one
 * CPU Linux gives the woken thread the CPU within a time slice; a
 * scheduler whose running slice never ends hangs here (alarm(10) turns
 * that into death by SIGALRM). Exits 0 when every check passed.
 */
#include "guest.h"
#include <pthread.h>
#include <semaphore.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile int word, ran, in_pause;

static void *futex_waiter(void *arg)
{
	while (!word)
		syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0);
	ran = 1;
	return arg;
}

static void spin_until_ran(const char *what)
{
	while (!ran)
		; /* no syscall: only the end of this slice lets the other thread run */
	check(what, 1);
	ran = 0;
}

static void futex_case(void)
{
	pthread_t t;
	pthread_create(&t, 0, futex_waiter, 0);
	usleep(20000); /* the thread is asleep in FUTEX_WAIT by now */
	word = 1;
	syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
	spin_until_ran("thread woken by FUTEX_WAKE ran while its waker spun");
	pthread_join(t, 0);
}

static void on_usr1(int sig)
{
	ran = 1;
}

static void *pauser(void *arg)
{
	in_pause = 1;
	pause();
	return arg;
}

static void signal_case(void)
{
	pthread_t t;
	signal(SIGUSR1, on_usr1);
	pthread_create(&t, 0, pauser, 0);
	while (!in_pause)
		usleep(1000);
	usleep(20000);
	pthread_kill(t, SIGUSR1);
	spin_until_ran("thread woken by a signal ran while the sender spun");
	pthread_join(t, 0);
}

static sem_t sem;

static void *sem_waiter(void *arg)
{
	sem_wait(&sem);
	return arg;
}

static void cancel_case(void)
{
	pthread_t t;
	void *result = 0;
	sem_init(&sem, 0, 0);
	pthread_create(&t, 0, sem_waiter, 0);
	usleep(20000);
	pthread_cancel(t);
	pthread_join(t, &result);
	check("pthread_cancel of a thread in sem_wait", result == PTHREAD_CANCELED);
}

int main(void)
{
	setvbuf(stdout, 0, _IONBF, 0);
	alarm(10);
	futex_case();
	signal_case();
	cancel_case();
	return guest_status();
}
