/*
 * epoll_pingpong - two threads hand a byte back and forth through two pipes,
 * each waiting for it in epoll_wait.
 *
 * Usage: epoll_pingpong [N]    (N round trips, default 10000)
 * Each side has its own epoll instance watching the read end of its pipe:
 * it waits in epoll_wait, reads the byte, and writes it into the other
 * side's pipe. Measures the pipe write -> epoll_wait wakeup path (an event
 * loop's basic step). Prints "epoll_pingpong: N round trips ok". Exits 0.
 */
#include "guest.h"
#include <pthread.h>
#include <sys/epoll.h>
#include <unistd.h>

struct side {
	int ep, in, out;
	unsigned long rounds, ok;
};

/* Wait for the byte, read it, pass it on; `first` starts by sending. */
static void *play(void *arg)
{
	struct side *s = arg;
	struct epoll_event ev;
	char c = 'x';
	for (unsigned long i = 0; i < s->rounds; i++) {
		if (epoll_wait(s->ep, &ev, 1, -1) != 1 || read(s->in, &c, 1) != 1)
			break;
		if (write(s->out, &c, 1) != 1)
			break;
		s->ok++;
	}
	return NULL;
}

static int watcher(int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(0);
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	return ep;
}

int main(int argc, char **argv)
{
	unsigned long n = arg_ulong(argc, argv, 1, 10000);
	int ab[2], ba[2];
	struct side echo;
	pthread_t t;
	struct epoll_event ev;
	char c = 'x';
	unsigned long done = 0;

	pipe(ab);
	pipe(ba);
	echo = (struct side){ watcher(ab[0]), ab[0], ba[1], n, 0 };
	pthread_create(&t, NULL, play, &echo);
	int ep = watcher(ba[0]);
	for (unsigned long i = 0; i < n; i++) {
		if (write(ab[1], &c, 1) != 1)
			break;
		if (epoll_wait(ep, &ev, 1, -1) != 1 || read(ba[0], &c, 1) != 1)
			break;
		done++;
	}
	pthread_join(t, NULL);
	if (done != n || echo.ok != n) {
		printf("epoll_pingpong: %lu of %lu round trips\n", done, n);
		return 1;
	}
	printf("epoll_pingpong: %lu round trips ok\n", n);
	return 0;
}
