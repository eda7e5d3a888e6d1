/*
 * partial_write - a blocking write interrupted by a signal.
 *
 * Usage: partial_write
 * A 100000-byte write into an empty pipe nobody reads fills it (65536 bytes)
 * and waits; SIGALRM comes (a handler, with and without SA_RESTART). Linux
 * returns the 65536 bytes written: a write that moved something succeeds
 * with the count, and the pipe holds exactly those bytes (a restart from
 * byte 0 would duplicate them). A write that moved nothing fails with EINTR
 * without SA_RESTART. Exits 0 when every check passed.
 */
#include "guest.h"
#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

enum { SIZE = 100000 };

static char buf[SIZE];
static volatile int alarms;

static void on_alarm(int sig)
{
	alarms++;
}

static void arm(int flags)
{
	struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = flags};
	struct itimerval it = {.it_value = {0, 50000}};
	sigaction(SIGALRM, &sa, 0);
	setitimer(ITIMER_REAL, &it, 0);
}

/* Empties the pipe (made non-blocking) and returns how many bytes it held,
 * checking they are the bytes written, in order. */
static long drain(int fd)
{
	static char in[SIZE];
	long total = 0;
	ssize_t n;
	int same = 1;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while ((n = read(fd, in, sizeof in)) > 0) {
		same &= memcmp(in, buf + total, n) == 0;
		total += n;
	}
	check("the pipe holds the bytes written, once, in order", same);
	return total;
}

static void partial(const char *how, int flags)
{
	int p[2];
	pipe(p);
	arm(flags);
	ssize_t n = write(p[1], buf, SIZE);
	printf("%s: write returned %ld, the reader gets %ld\n", how, (long)n, drain(p[0]));
	close(p[0]);
	close(p[1]);
}

static void nothing_written(void)
{
	int p[2];
	pipe(p);
	write(p[1], buf, 65536); /* full */
	arm(0);
	ssize_t n = write(p[1], buf, 10);
	report("a write into a full pipe, interrupted", n);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	for (int i = 0; i < SIZE; i++)
		buf[i] = (char)(i * 7 + i / 251);
	partial("interrupted, no SA_RESTART", 0);
	partial("interrupted, SA_RESTART", SA_RESTART);
	nothing_written();
	printf("handlers ran: %d\n", alarms);
	return guest_status();
}
