/*
 * evfds.c - eventfd, timerfd and signalfd, alone and under epoll.
 *
 * eventfd: counter semantics (plain and EFD_SEMAPHORE), EAGAIN when empty or
 * full, EINVAL for short buffers and the value 2^64-1, a blocked read woken
 * by another thread. timerfd: one-shot and periodic expirations (counted
 * without depending on exact timing), TFD_TIMER_ABSTIME on both clocks,
 * gettime, disarming, the time64 calls. signalfd: blocked signals read as
 * struct signalfd_siginfo (kill, sigqueue, tgkill), mask update on an
 * existing descriptor, a blocked read woken by a signal. Then one epoll set
 * over all three, edge-triggered and level-triggered.
 */
#include "guest.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static void nap(long ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000L };
	nanosleep(&ts, 0);
}

static long rd64(int fd, uint64_t *v)
{
	return read(fd, v, 8);
}

static long wr64(int fd, uint64_t v)
{
	return write(fd, &v, 8);
}

static int efd_for_thread;

static void *add_later(void *arg)
{
	nap(20);
	wr64(efd_for_thread, 5);
	return arg;
}

static void eventfds(void)
{
	uint64_t v = 0;
	char small[4];
	int e = eventfd(3, EFD_NONBLOCK | EFD_CLOEXEC), s;
	pthread_t th;

	printf("fcntl flags: %#x, cloexec: %d\n", fcntl(e, F_GETFL) & ~O_LARGEFILE,
	       fcntl(e, F_GETFD));
	wr64(e, 4);
	{ long r = rd64(e, &v); printf("read: %ld value %llu\n", r, (unsigned long long)v); }
	report("read empty", rd64(e, &v));
	report("short read", read(e, small, 4));
	report("short write", write(e, small, 4));
	report("write 2^64-1", wr64(e, UINT64_MAX));
	report("write 2^64-2", wr64(e, UINT64_MAX - 1));
	report("write 1 more (full)", wr64(e, 1));
	rd64(e, &v);
	printf("full value: %llu\n", (unsigned long long)v);
	close(e);

	s = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
	rd64(s, &v);
	printf("semaphore read 1: %llu\n", (unsigned long long)v);
	rd64(s, &v);
	printf("semaphore read 2: %llu\n", (unsigned long long)v);
	report("semaphore empty", rd64(s, &v));
	close(s);

	report("eventfd bad flags", eventfd(0, 0x10));
	e = eventfd(0, 0);
	efd_for_thread = e;
	pthread_create(&th, 0, add_later, 0);
	{ long r = rd64(e, &v); printf("blocking read woken: %ld value %llu\n", r, (unsigned long long)v); }
	pthread_join(th, 0);
	{
		struct pollfd p = { e, POLLIN | POLLOUT, 0 };
		int r = poll(&p, 1, 0);
		printf("poll: %d revents %#x\n", r, p.revents);
	}
	close(e);
}

static double secs(struct timespec ts)
{
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void timerfds(void)
{
	int t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK), b;
	struct itimerspec its = { { 0, 0 }, { 0, 200000000 } }, cur; /* 200 ms: a loaded host stays well inside it */
	struct timespec now;
	uint64_t n = 0;

	report("timerfd bad clock", timerfd_create(CLOCK_MONOTONIC_RAW, 0));
	report("timerfd bad flags", timerfd_create(CLOCK_MONOTONIC, 1));
	report("read unarmed", rd64(t, &n));
	timerfd_gettime(t, &cur);
	printf("unarmed gettime: %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);
	timerfd_settime(t, 0, &its, 0);
	timerfd_gettime(t, &cur);
	check("armed gettime in (0, 200ms]", secs(cur.it_value) > 0 && secs(cur.it_value) <= 0.2);
	report("read before expiry", rd64(t, &n));
	nap(250);
	{ long r = rd64(t, &n); printf("one-shot: %ld expirations %llu\n", r, (unsigned long long)n); }
	report("read again", rd64(t, &n));
	timerfd_gettime(t, &cur);
	printf("expired gettime: %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);

	its = (struct itimerspec){ { 0, 5000000 }, { 0, 5000000 } };
	timerfd_settime(t, 0, &its, 0);
	nap(60);
	rd64(t, &n);
	check("periodic: several expirations", n >= 3);
	timerfd_gettime(t, &cur);
	check("periodic gettime interval", cur.it_interval.tv_nsec == 5000000);
	its = (struct itimerspec){ { 0, 0 }, { 0, 0 } };
	timerfd_settime(t, 0, &its, &cur);
	check("old value's interval", cur.it_interval.tv_nsec == 5000000);
	timerfd_gettime(t, &cur);
	printf("disarmed: %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);
	report("bad nsec", timerfd_settime(t, 0, &(struct itimerspec){ { 0, 0 }, { 0, 1000000000 } }, 0));
	report("bad settime flags", timerfd_settime(t, 4, &its, 0));
	report("settime on a non-timerfd", timerfd_settime(0, 0, &its, 0));
	close(t);

	/* blocking read, absolute expiry on CLOCK_REALTIME and CLOCK_MONOTONIC */
	b = timerfd_create(CLOCK_REALTIME, 0);
	clock_gettime(CLOCK_REALTIME, &now);
	now.tv_nsec += 20000000;
	if (now.tv_nsec >= 1000000000) {
		now.tv_sec++;
		now.tv_nsec -= 1000000000;
	}
	its = (struct itimerspec){ { 0, 0 }, now };
	timerfd_settime(b, TFD_TIMER_ABSTIME, &its, 0);
	{ long r = rd64(b, &n); printf("blocking read, realtime absolute: %ld expirations %llu\n", r, (unsigned long long)n); }
	close(b);
	b = timerfd_create(CLOCK_MONOTONIC, 0);
	its = (struct itimerspec){ { 0, 0 }, { 1, 0 } }; /* long past: fires at once */
	timerfd_settime(b, TFD_TIMER_ABSTIME, &its, 0);
	{ long r = rd64(b, &n); printf("monotonic absolute in the past: %ld expirations %llu\n", r, (unsigned long long)n); }
	close(b);
#ifdef SYS_timerfd_settime64
	{
		struct { long long isec, insec, vsec, vnsec; } t64 = { 0, 0, 0, 100000000 }, g64;
		b = timerfd_create(CLOCK_MONOTONIC, 0);
		printf("timerfd_settime64: %ld\n", syscall(SYS_timerfd_settime64, b, 0, &t64, 0));
		syscall(SYS_timerfd_gettime64, b, &g64);
		check("timerfd_gettime64 left in (0, 100ms]", g64.vsec == 0 && g64.vnsec > 0 && g64.vnsec <= 100000000);
		{ long r = rd64(b, &n); printf("read: %ld expirations %llu\n", r, (unsigned long long)n); }
		close(b);
	}
#endif
}

static void *signal_later(void *arg)
{
	nap(20);
	kill(getpid(), SIGUSR2);
	return arg;
}

static void print_ssi(const char *what, struct signalfd_siginfo *si)
{
	printf("%s: %s code %d pid-ok %d int %d\n", what, signame(si->ssi_signo), si->ssi_code,
	       si->ssi_pid == (unsigned)getpid(), si->ssi_int);
}

static void signalfds(void)
{
	sigset_t mask;
	struct signalfd_siginfo si[4];
	int s, n;
	pthread_t th;
	char small[8];

	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	sigaddset(&mask, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &mask, 0);
	sigdelset(&mask, SIGUSR2);
	s = signalfd(-1, &mask, SFD_NONBLOCK);
	report("read nothing pending", read(s, si, sizeof si));
	report("short read", read(s, small, sizeof small));
	kill(getpid(), SIGUSR1);
	sigqueue(getpid(), SIGRTMIN + 1, (union sigval){ .sival_int = 42 });
	sigqueue(getpid(), SIGRTMIN + 1, (union sigval){ .sival_int = 43 });
	raise(SIGUSR2);
	n = read(s, si, sizeof si);
	printf("read %d infos\n", n / (int)sizeof si[0]);
	for (int i = 0; i < n / (int)sizeof si[0]; i++)
		print_ssi("  got", &si[i]);
	report("SIGUSR2 not in the set", read(s, si, sizeof si));
	sigaddset(&mask, SIGUSR2);
	printf("mask update returns the same fd: %d\n", signalfd(s, &mask, 0) == s);
	n = read(s, si, sizeof si);
	printf("after update: %d infos, %s\n", n / (int)sizeof si[0], signame(si[0].ssi_signo));
	report("signalfd on a non-signalfd", signalfd(0, &mask, 0));
	report("signalfd bad size", syscall(SYS_signalfd4, -1, &mask, 4, 0));
	close(s);

	s = signalfd(-1, &mask, 0);
	pthread_create(&th, 0, signal_later, 0);
	n = read(s, si, sizeof si);
	printf("blocking read woken: %d info, %s\n", n / (int)sizeof si[0], signame(si[0].ssi_signo));
	pthread_join(th, 0);
	close(s);
}

static void show(const char *what, int ep, int timeout)
{
	struct epoll_event ev[8];
	unsigned seen[4] = { 0 };
	int n = epoll_wait(ep, ev, 8, timeout);
	for (int i = 0; i < n; i++)
		seen[ev[i].data.u32 & 3] = ev[i].events;
	printf("%s: %d [eventfd %#x timerfd %#x signalfd %#x]\n", what, n, seen[1], seen[2], seen[3]);
}

static void under_epoll(void)
{
	int ep = epoll_create1(0), e = eventfd(0, EFD_NONBLOCK), t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK), s;
	struct epoll_event ev;
	struct itimerspec its = { { 0, 0 }, { 0, 10000000 } };
	struct signalfd_siginfo si;
	sigset_t mask;
	uint64_t v;

	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	s = signalfd(-1, &mask, SFD_NONBLOCK);
	ev = (struct epoll_event){ EPOLLIN | EPOLLET, { .u32 = 1 } };
	epoll_ctl(ep, EPOLL_CTL_ADD, e, &ev);
	ev = (struct epoll_event){ EPOLLIN, { .u32 = 2 } };
	epoll_ctl(ep, EPOLL_CTL_ADD, t, &ev);
	ev = (struct epoll_event){ EPOLLIN, { .u32 = 3 } };
	epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
	show("nothing yet", ep, 0);
	wr64(e, 1);
	show("eventfd written", ep, 0);
	show("edge already reported", ep, 0);
	wr64(e, 1);
	show("written again: a new edge", ep, 0);
	rd64(e, &v);
	timerfd_settime(t, 0, &its, 0);
	show("timer expiry wakes epoll_wait", ep, 5000);
	show("level: still readable", ep, 0);
	rd64(t, &v);
	kill(getpid(), SIGUSR1);
	show("signal pending", ep, 0);
	read(s, &si, sizeof si);
	show("signal read", ep, 0);
	close(e);
	close(t);
	close(s);
	close(ep);
}

int main(void)
{
	setvbuf(stdout, 0, _IONBF, 0);
	eventfds();
	timerfds();
	signalfds();
	under_epoll();
	return guest_status();
}
