/*
 * rtsig - real-time signals queue; standard signals do not.
 *
 * Usage: rtsig
 * - While blocked, SIGRTMIN+1 is sent 5 times (3 sigqueue with values 1..3,
 *   kill, pthread_kill), SIGRTMIN once (raise), SIGUSR1 3 times (kill).
 *   Unblocked, with handlers that block everything, they run lowest number
 *   first, those sent to the thread before those sent to the process:
 *   SIGRTMIN, SIGRTMIN+1 (pthread_kill), then SIGUSR1 once and SIGRTMIN+1 4
 *   times, each with its own si_code and (for sigqueue) si_value.
 * - Without that mask, handlers nest as Linux sets them up (each frame on
 *   top of the last: the highest signal's handler runs first).
 * - sigtimedwait takes one queued instance at a time (sigpending shows the
 *   signal until the last is taken); a zero timeout with nothing pending is
 *   EAGAIN; sigwaitinfo wakes for a blocked signal another thread sends, and
 *   for a blocked SIGCHLD whose action is the default (ignore).
 * - With RLIMIT_SIGPENDING lowered to 8, sigqueue fails with EAGAIN once 8
 *   are queued (Linux counts the signals pending for the user in every
 *   process, so natively fewer may fit), while kill still succeeds (the
 *   signal is pending already: it adds no instance).
 * Exits 0 when every check passed.
 */
#include "guest.h"
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static char log_text[512];
static int log_len;

static const char *name(int sig)
{
	static char buf[16];
	if (sig >= SIGRTMIN) {
		snprintf(buf, sizeof buf, "SIGRTMIN+%d", sig - SIGRTMIN);
		return buf;
	}
	return signame(sig);
}

static const char *code_name(int code)
{
	switch (code) {
	case SI_USER: return "SI_USER";
	case SI_QUEUE: return "SI_QUEUE";
	case SI_TKILL: return "SI_TKILL";
	case CLD_EXITED: return "CLD_EXITED";
	}
	return "other";
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	log_len += snprintf(log_text + log_len, sizeof log_text - log_len, "  %s %s value %d\n",
			    name(sig), code_name(si->si_code),
			    si->si_code == SI_QUEUE ? si->si_value.sival_int : 0);
}

static void handle(int sig, int mask_all)
{
	struct sigaction sa = {.sa_sigaction = on_signal, .sa_flags = SA_SIGINFO};
	if (mask_all)
		sigfillset(&sa.sa_mask);
	sigaction(sig, &sa, 0);
}

static sigset_t set_of(int a, int b, int c)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, a);
	if (b)
		sigaddset(&s, b);
	if (c)
		sigaddset(&s, c);
	return s;
}

static void queue_while_blocked(void)
{
	int rt1 = SIGRTMIN + 1;
	sigset_t s = set_of(SIGUSR1, SIGRTMIN, rt1);
	handle(SIGUSR1, 1);
	handle(SIGRTMIN, 1);
	handle(rt1, 1);
	sigprocmask(SIG_BLOCK, &s, 0);
	for (int i = 1; i <= 3; i++)
		sigqueue(getpid(), rt1, (union sigval){.sival_int = i});
	kill(getpid(), rt1);
	pthread_kill(pthread_self(), rt1);
	raise(SIGRTMIN);
	for (int i = 0; i < 3; i++)
		kill(getpid(), SIGUSR1);
	sigset_t pending;
	sigpending(&pending);
	check("sigpending shows all three", sigismember(&pending, SIGUSR1) &&
						    sigismember(&pending, SIGRTMIN) &&
						    sigismember(&pending, rt1));
	sigprocmask(SIG_UNBLOCK, &s, 0);
	printf("handlers, with every signal masked in them:\n%s", log_text);
	log_len = 0;
}

static void nested(void)
{
	sigset_t s = set_of(SIGUSR1, SIGUSR2, SIGRTMIN);
	handle(SIGUSR1, 0);
	handle(SIGUSR2, 0);
	handle(SIGRTMIN, 0);
	sigprocmask(SIG_BLOCK, &s, 0);
	raise(SIGUSR1);
	raise(SIGRTMIN);
	raise(SIGUSR2);
	sigprocmask(SIG_UNBLOCK, &s, 0);
	printf("handlers that do not mask each other (nested):\n%s", log_text);
	log_len = 0;
}

static void *send_later(void *arg)
{
	usleep(20000);
	sigqueue(getpid(), SIGRTMIN + 2, (union sigval){.sival_int = 42});
	return arg;
}

static void waiting(void)
{
	int rt2 = SIGRTMIN + 2;
	sigset_t s = set_of(rt2, SIGCHLD, 0), pending;
	struct timespec zero = {0, 0};
	siginfo_t si;
	signal(SIGCHLD, SIG_DFL);
	sigprocmask(SIG_BLOCK, &s, 0);
	for (int i = 1; i <= 3; i++)
		sigqueue(getpid(), rt2, (union sigval){.sival_int = 10 * i});
	for (int i = 0; i < 3; i++) {
		int sig = sigtimedwait(&s, &si, &zero);
		sigpending(&pending);
		printf("sigtimedwait: %s value %d, still pending: %s\n", name(sig),
		       si.si_value.sival_int, sigismember(&pending, rt2) ? "yes" : "no");
	}
	report("sigtimedwait with nothing pending, zero timeout", sigtimedwait(&s, &si, &zero));
	pthread_t t;
	pthread_create(&t, 0, send_later, 0);
	int sig = sigwaitinfo(&s, &si);
	printf("sigwaitinfo: %s %s value %d\n", name(sig), code_name(si.si_code),
	       si.si_value.sival_int);
	pthread_join(t, 0);
	pid_t child = vfork();
	if (child == 0)
		_exit(7);
	sig = sigwaitinfo(&s, &si);
	printf("sigwaitinfo: %s %s status %d, from the child: %s\n", name(sig),
	       code_name(si.si_code), si.si_status, si.si_pid == child ? "yes" : "no");
	waitpid(child, 0, 0);
}

static void limit(void)
{
	int rt3 = SIGRTMIN + 3;
	sigset_t s = set_of(rt3, 0, 0);
	struct rlimit rl = {8, 8};
	struct timespec zero = {0, 0};
	int queued = 0, taken = 0;
	sigprocmask(SIG_BLOCK, &s, 0);
	report("setrlimit RLIMIT_SIGPENDING 8", setrlimit(RLIMIT_SIGPENDING, &rl));
	while (queued < 20 && sigqueue(getpid(), rt3, (union sigval){.sival_int = queued}) == 0)
		queued++;
	report("sigqueue past the limit", -1);
	check("at most 8 queued", queued <= 8);
	report("kill past the limit", kill(getpid(), rt3));
	while (sigtimedwait(&s, 0, &zero) == rt3)
		taken++;
	check("every signal queued is taken, kill's adds none", taken == (queued ? queued : 1));
}

int main(void)
{
	setvbuf(stdout, 0, _IONBF, 0);
	alarm(10);
	queue_while_blocked();
	nested();
	waiting();
	limit();
	return guest_status();
}
