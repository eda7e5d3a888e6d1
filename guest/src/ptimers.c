/*
 * ptimers.c - POSIX timers: timer_create with the default sigevent
 * (SIGALRM carrying the timer id), SIGEV_SIGNAL to a handler, SIGEV_NONE,
 * SIGEV_THREAD_ID to one thread, musl's SIGEV_THREAD (a helper thread calls
 * the function), overruns while the signal is blocked, timer_gettime,
 * disarming, the time64 calls and the errors. Counts that depend on timing
 * are printed as ranges, so the output is the same natively and under nommu.
 */
#include "guest.h"

#include <pthread.h>
#include <semaphore.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The time64 numbers, the same on every 32-bit architecture. */
enum { NR_timer_settime64 = 409, NR_timer_gettime64 = 408 };

static void nap(long ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000L };
	nanosleep(&ts, 0);
}

/* The kernel's struct sigevent, for SIGEV_THREAD_ID through the raw call. */
struct ksigevent {
	union sigval value;
	int signo, notify, tid;
	int pad[12];
};

static struct itimerspec after(long ms, long every_ms)
{
	return (struct itimerspec){ { every_ms / 1000, every_ms % 1000 * 1000000L },
				    { ms / 1000, ms % 1000 * 1000000L } };
}

static void default_sigevent(void)
{
	timer_t a, b;
	sigset_t set;
	siginfo_t si;
	struct itimerspec its = after(10, 0);

	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	sigprocmask(SIG_BLOCK, &set, 0);
	timer_create(CLOCK_MONOTONIC, 0, &a);
	timer_create(CLOCK_REALTIME, 0, &b);
	check("two timers, two ids", a != b);
	timer_settime(b, 0, &its, 0);
	sigwaitinfo(&set, &si);
	printf("default: %s, SI_TIMER %d, value is the id %d\n", signame(si.si_signo),
	       si.si_code == SI_TIMER, si.si_value.sival_int == (int)(long)b);
	timer_delete(a);
	timer_delete(b);
	sigprocmask(SIG_UNBLOCK, &set, 0);
}

static volatile int handled, handled_code, handled_value;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	handled = sig;
	handled_code = si->si_code;
	handled_value = si->si_value.sival_int;
}

static void to_handler(void)
{
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1 };
	struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO };
	struct itimerspec its = after(100, 0), cur; /* 100 ms: a loaded host stays inside it */
	timer_t t;

	sigaction(SIGUSR1, &sa, 0);
	sev.sigev_value.sival_int = 1234;
	timer_create(CLOCK_MONOTONIC, &sev, &t);
	timer_settime(t, 0, &its, 0);
	timer_gettime(t, &cur);
	check("armed: time left in (0, 100ms]", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 &&
						    cur.it_value.tv_nsec <= 100000000);
	while (!handled)
		pause();
	printf("handler: %s SI_TIMER %d value %d\n", signame(handled), handled_code == SI_TIMER,
	       handled_value);
	timer_gettime(t, &cur);
	printf("after expiry: %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);
	timer_delete(t);
}

static void overrun(void)
{
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN + 2 };
	struct itimerspec its = after(2, 2);
	sigset_t set;
	siginfo_t si;
	timer_t t;

	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 2);
	/* Many expiries while the signal is blocked: one signal, whose
	   si_overrun counts the rest. */
	sigprocmask(SIG_BLOCK, &set, 0);
	timer_create(CLOCK_MONOTONIC, &sev, &t);
	its = after(2, 2);
	timer_settime(t, 0, &its, 0);
	nap(60);
	sigwaitinfo(&set, &si);
	printf("%s: si_overrun >= 5: %d, timer_getoverrun agrees: %d\n", signame(si.si_signo),
	       si.si_overrun >= 5, timer_getoverrun(t) == si.si_overrun);
	timer_delete(t);
	sigprocmask(SIG_UNBLOCK, &set, 0);
}

static void none(void)
{
	struct sigevent sev = { .sigev_notify = SIGEV_NONE };
	struct itimerspec its = after(200, 0), cur;
	timer_t t;

	report("SIGEV_NONE", timer_create(CLOCK_MONOTONIC, &sev, &t));
	timer_settime(t, 0, &its, 0);
	timer_gettime(t, &cur);
	check("counts down", cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 200000000);
	nap(250);
	timer_gettime(t, &cur);
	printf("expired quietly: %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);
	timer_delete(t);
}

static int waiter_tid;
static volatile int waiter_got;
static sem_t ready;

static void *waiter(void *arg)
{
	sigset_t set;
	siginfo_t si;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	waiter_tid = syscall(SYS_gettid);
	sem_post(&ready);
	if (sigwaitinfo(&set, &si) == SIGUSR2 && si.si_code == SI_TIMER)
		waiter_got = si.si_value.sival_int;
	return arg;
}

static void thread_id(void)
{
	struct ksigevent kev = { .signo = SIGUSR2, .notify = 4 /* SIGEV_THREAD_ID */ };
	struct itimerspec its = after(10, 0);
	sigset_t set;
	pthread_t th;
	int id;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, 0);
	sem_init(&ready, 0, 0);
	pthread_create(&th, 0, waiter, 0);
	sem_wait(&ready);
	kev.tid = waiter_tid;
	kev.value.sival_int = 77;
	report("SIGEV_THREAD_ID", syscall(SYS_timer_create, CLOCK_MONOTONIC, &kev, &id));
	syscall(NR_timer_settime64, id, 0, &its, 0);
	pthread_join(th, 0);
	printf("the thread took it: value %d\n", waiter_got);
	syscall(SYS_timer_delete, id);
	kev.tid = 99999;
	report("SIGEV_THREAD_ID, no such thread", syscall(SYS_timer_create, CLOCK_MONOTONIC, &kev, &id));
	sigprocmask(SIG_UNBLOCK, &set, 0);
}

static volatile int calls;
static sem_t called;

static void notify(union sigval v)
{
	calls += v.sival_int;
	sem_post(&called);
}

static void thread_notify(void)
{
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD, .sigev_notify_function = notify };
	struct itimerspec its = after(5, 5);
	timer_t t;

	sem_init(&called, 0, 0);
	sev.sigev_value.sival_int = 10;
	report("SIGEV_THREAD", timer_create(CLOCK_MONOTONIC, &sev, &t));
	timer_settime(t, 0, &its, 0);
	sem_wait(&called);
	sem_wait(&called);
	timer_delete(t);
	printf("function called at least twice with value 10: %d\n", calls >= 20 && calls % 10 == 0);
}

static void errors(void)
{
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1 };
	struct itimerspec its = after(10, 0), bad = { { 0, 0 }, { 0, 1000000000 } };
	timer_t t;

	report("bad clock", timer_create(99, &sev, &t));
	report("CLOCK_MONOTONIC_RAW", timer_create(CLOCK_MONOTONIC_RAW, &sev, &t));
	sev.sigev_notify = 99;
	report("bad sigev_notify", timer_create(CLOCK_MONOTONIC, &sev, &t));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = 0;
	report("signal 0", timer_create(CLOCK_MONOTONIC, &sev, &t));
	sev.sigev_signo = 65;
	report("signal 65", timer_create(CLOCK_MONOTONIC, &sev, &t));
	sev.sigev_signo = SIGUSR1;
	timer_create(CLOCK_MONOTONIC, &sev, &t);
	report("bad nsec", timer_settime(t, 0, &bad, 0));
	report("NULL new value", syscall(NR_timer_settime64, (int)(long)t, 0, 0, 0));
	report("delete", timer_delete(t));
	report("settime after delete", syscall(NR_timer_settime64, (int)(long)t, 0, &its, 0));
	report("gettime after delete", syscall(NR_timer_gettime64, (int)(long)t, &its));
	report("getoverrun after delete", syscall(SYS_timer_getoverrun, (int)(long)t));
	report("delete twice", syscall(SYS_timer_delete, (int)(long)t));
#if 1
	{
		struct { long long isec, insec, vsec, vnsec; } t64 = { 0, 0, 0, 100000000 }, g64;
		struct sigevent none = { .sigev_notify = SIGEV_NONE };
		timer_create(CLOCK_MONOTONIC, &none, &t);
		report("timer_settime64", syscall(NR_timer_settime64, (int)(long)t, 0, &t64, 0));
		syscall(NR_timer_gettime64, (int)(long)t, &g64);
		check("timer_gettime64 left in (0, 100ms]", g64.vsec == 0 && g64.vnsec > 0 && g64.vnsec <= 100000000);
		timer_delete(t);
	}
#endif
}

int main(void)
{
	setvbuf(stdout, 0, _IONBF, 0);
	default_sigevent();
	to_handler();
	overrun();
	none();
	thread_id();
	thread_notify();
	errors();
	return guest_status();
}
