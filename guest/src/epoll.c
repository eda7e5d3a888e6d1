/*
 * epoll.c - epoll over pipes: level and edge triggering, EPOLLONESHOT,
 * EPOLLHUP/EPOLLERR, MOD/DEL, the error rules of epoll_ctl and epoll_wait,
 * nested epoll instances, a wait woken by another thread, a signal that
 * interrupts a wait (EINTR), and epoll_pwait's signal mask.
 *
 * Results that could come in any order are printed sorted, so the output is
 * the same natively and under nommu.
 *
 * Usage: epoll            (all of the above)
 *        epoll stdin      (wait up to 10 s for input on descriptor 0, level
 *                          and edge triggered, and echo it)
 */
#include "guest.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void nap(long ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000L };
	nanosleep(&ts, 0);
}

/* Waits (timeout ms) and prints "what: n [data:events ...]" sorted by data. */
static int show(const char *what, int ep, int max, int timeout)
{
	struct epoll_event ev[16];
	int n = epoll_wait(ep, ev, max, timeout), i, j;
	if (n < 0) {
		printf("%s: %s\n", what, errname(errno));
		return n;
	}
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && ev[j - 1].data.u64 > ev[j].data.u64; j--) {
			struct epoll_event tmp = ev[j];
			ev[j] = ev[j - 1];
			ev[j - 1] = tmp;
		}
	printf("%s: %d", what, n);
	for (i = 0; i < n; i++)
		printf(" %llu:%#x", (unsigned long long)ev[i].data.u64, ev[i].events);
	printf("\n");
	return n;
}

static int add(int ep, int fd, unsigned events, unsigned long long data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int mod(int ep, int fd, unsigned events, unsigned long long data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };
	return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static void level_and_edge(void)
{
	int ep = epoll_create1(EPOLL_CLOEXEC), a[2], b[2];
	char buf[8];
	pipe(a);
	pipe(b);
	add(ep, a[0], EPOLLIN, 1);
	add(ep, b[0], EPOLLIN | EPOLLET, 2);
	show("empty", ep, 8, 0);
	write(a[1], "x", 1);
	write(b[1], "y", 1);
	show("both written", ep, 8, 0);
	{
		int n = -1;
		ioctl(a[0], FIONREAD, &n);
		printf("FIONREAD on the pipe: %d\n", n);
	}
	show("level stays, edge reported once", ep, 8, 0);
	write(b[1], "y", 1);
	show("a new write is a new edge", ep, 8, 0);
	read(a[0], buf, 1);
	show("level gone after read", ep, 8, 0);
	read(b[0], buf, 2);
	mod(ep, b[0], EPOLLIN | EPOLLONESHOT, 3);
	write(b[1], "z", 1);
	show("oneshot", ep, 8, 0);
	show("oneshot disabled", ep, 8, 0);
	mod(ep, b[0], EPOLLIN, 4);
	show("re-armed by MOD", ep, 8, 0);
	epoll_ctl(ep, EPOLL_CTL_DEL, b[0], 0);
	show("after DEL", ep, 8, 0);
	add(ep, a[1], EPOLLOUT, 5);
	show("write end writable", ep, 8, 0);
	close(a[0]);
	show("reader gone: EPOLLERR", ep, 8, 0);
	close(b[1]);
	add(ep, b[0], EPOLLIN, 6);
	epoll_ctl(ep, EPOLL_CTL_DEL, a[1], 0);
	show("writer gone: EPOLLHUP", ep, 8, 0);
	close(b[0]);
	show("closed file leaves the set", ep, 8, 0);
	close(a[1]);
	close(ep);
}

static void rotation(void)
{
	int ep = epoll_create(1), p[3][2], i;
	for (i = 0; i < 3; i++) {
		pipe(p[i]);
		write(p[i][1], "x", 1);
		add(ep, p[i][0], EPOLLIN, 10 + i);
	}
	show("maxevents 1, first", ep, 1, 0);
	show("maxevents 1, second", ep, 1, 0);
	show("maxevents 1, third", ep, 1, 0);
	show("maxevents 1, first again", ep, 1, 0);
	show("all", ep, 8, 0);
	for (i = 0; i < 3; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
	close(ep);
}

static void errors(void)
{
	int ep = epoll_create1(0), ep2 = epoll_create1(0), p[2], f;
	struct epoll_event ev = { .events = EPOLLIN }, out[1];
	pipe(p);
	report("epoll_create(0)", epoll_create(0));
	report("epoll_create1(bad flag)", epoll_create1(1));
	report("ADD", add(ep, p[0], EPOLLIN, 0));
	report("ADD again", add(ep, p[0], EPOLLIN, 0));
	report("MOD missing", mod(ep, p[1], EPOLLOUT, 0));
	report("DEL missing", epoll_ctl(ep, EPOLL_CTL_DEL, p[1], 0));
	report("bad op", epoll_ctl(ep, 7, p[0], &ev));
	report("epfd itself", add(ep, ep, EPOLLIN, 0));
	report("epfd not epoll", add(p[0], p[1], EPOLLIN, 0));
	report("bad fd", add(ep, 999, EPOLLIN, 0));
	report("bad epfd", add(999, p[0], EPOLLIN, 0));
	f = open("/proc/self/exe", O_RDONLY);
	report("regular file", add(ep, f, EPOLLIN, 0));
	report("EXCLUSIVE add", add(ep, p[1], EPOLLOUT | EPOLLEXCLUSIVE, 0));
	report("EXCLUSIVE mod", mod(ep, p[1], EPOLLOUT | EPOLLEXCLUSIVE, 0));
	report("MOD of an EXCLUSIVE item", mod(ep, p[1], EPOLLOUT, 0));
	report("EXCLUSIVE with ONESHOT", add(ep2, p[1], EPOLLOUT | EPOLLEXCLUSIVE | EPOLLONESHOT, 0));
	report("event NULL", epoll_ctl(ep, EPOLL_CTL_ADD, p[1], (void *)0));
	report("wait maxevents 0", epoll_wait(ep, out, 0, 0));
	report("wait not epoll", epoll_wait(p[0], out, 1, 0));
	report("wait bad fd", epoll_wait(999, out, 1, 0));
	report("nest ep2 in ep", add(ep, ep2, EPOLLIN, 0));
	report("nest ep in ep2 (loop)", add(ep2, ep, EPOLLIN, 0));
	close(f);
	close(p[0]);
	close(p[1]);
	close(ep);
	close(ep2);
}

static void nested(void)
{
	int outer = epoll_create1(0), inner = epoll_create1(0), p[2];
	char c;
	pipe(p);
	add(inner, p[0], EPOLLIN, 1);
	add(outer, inner, EPOLLIN, 2);
	show("nested, empty", outer, 4, 0);
	write(p[1], "x", 1);
	show("nested, inner ready", outer, 4, 0);
	show("inner itself", inner, 4, 0);
	read(p[0], &c, 1);
	show("nested, drained", outer, 4, 0);
	close(p[0]);
	close(p[1]);
	close(inner);
	close(outer);
}

/* An AF_UNIX socketpair: readable, edge, the peer's shutdown (EPOLLRDHUP). */
static void sockets(void)
{
	int ep = epoll_create1(0), sv[2];
	char buf[8];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	add(ep, sv[0], EPOLLIN | EPOLLRDHUP, 1);
	add(ep, sv[1], EPOLLOUT | EPOLLET, 2);
	show("socket: writable once (edge)", ep, 8, 0);
	show("socket: edge taken", ep, 8, 0);
	epoll_ctl(ep, EPOLL_CTL_DEL, sv[1], 0);
	write(sv[1], "abc", 3);
	show("socket: data", ep, 8, 0);
	read(sv[0], buf, 3);
	shutdown(sv[1], SHUT_WR);
	show("socket: peer shut down writing", ep, 8, 0);
	close(sv[0]);
	close(sv[1]);
	close(ep);
}

static int wake_fd;

static void *writer(void *arg)
{
	nap(20);
	write(wake_fd, "w", 1);
	return arg;
}

static void woken(void)
{
	int ep = epoll_create1(0), p[2];
	pthread_t th;
	pipe(p);
	wake_fd = p[1];
	add(ep, p[0], EPOLLIN | EPOLLET, 7);
	pthread_create(&th, 0, writer, 0);
	show("woken by a thread's write", ep, 4, 5000);
	pthread_join(th, 0);
	show("timeout with nothing new", ep, 4, 30);
	close(p[0]);
	close(p[1]);
	close(ep);
}

static volatile int got;

static void on_usr1(int sig)
{
	got = sig;
}

static void *signaller(void *arg)
{
	nap(20);
	kill(getpid(), SIGUSR1);
	return arg;
}

static void interrupted(void)
{
	int ep = epoll_create1(0), p[2];
	struct epoll_event ev;
	sigset_t block, old;
	pthread_t th;
	pipe(p);
	add(ep, p[0], EPOLLIN, 1);
	signal(SIGUSR1, on_usr1);
	pthread_create(&th, 0, signaller, 0);
	report("epoll_wait interrupted", epoll_wait(ep, &ev, 1, 5000));
	pthread_join(th, 0);
	check("handler ran", got == SIGUSR1);

	/* SIGUSR1 blocked, then unblocked only while epoll_pwait waits. */
	got = 0;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);
	raise(SIGUSR1);
	check("blocked: not delivered yet", got == 0);
	sigdelset(&old, SIGUSR1);
	report("epoll_pwait with SIGUSR1 unblocked", epoll_pwait(ep, &ev, 1, 5000, &old));
	check("delivered during epoll_pwait", got == SIGUSR1);
	sigprocmask(SIG_SETMASK, 0, &old);
	check("mask restored", sigismember(&old, SIGUSR1));
	sigprocmask(SIG_UNBLOCK, &block, 0);
	close(p[0]);
	close(p[1]);
	close(ep);
}

static void pwait2(void)
{
#ifdef SYS_epoll_pwait2
	int ep = epoll_create1(0), p[2];
	struct epoll_event ev;
	struct { long long sec, nsec; } ts = { 0, 20000000 };
	pipe(p);
	add(ep, p[0], EPOLLIN, 1);
	printf("epoll_pwait2 times out: %ld\n", syscall(SYS_epoll_pwait2, ep, &ev, 1, &ts, 0, 8));
	write(p[1], "x", 1);
	printf("epoll_pwait2 ready: %ld\n", syscall(SYS_epoll_pwait2, ep, &ev, 1, 0, 0, 8));
	close(p[0]);
	close(p[1]);
	close(ep);
#endif
}

/* Input arriving on stdin (a terminal or the host's pipe) wakes epoll_wait. */
static int from_stdin(void)
{
	int ep = epoll_create1(0), et = epoll_create1(0);
	char buf[64];
	long n;
	add(ep, 0, EPOLLIN, 1);
	add(et, 0, EPOLLIN | EPOLLET, 2);
	show("stdin, level", ep, 4, 10000);
	show("stdin, edge", et, 4, 0);
	show("stdin, edge again", et, 4, 0);
	n = read(0, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	printf("read: %s", buf);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, 0, _IONBF, 0);
	if (argc > 1 && !strcmp(argv[1], "stdin"))
		return from_stdin();
	level_and_edge();
	rotation();
	errors();
	nested();
	sockets();
	woken();
	interrupted();
	pwait2();
	return guest_status();
}
