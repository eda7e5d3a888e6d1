/*
 * pollsel.c - poll, ppoll, select and pselect on pipes and files, with timeouts.
 *
 * An empty pipe is not readable (the call times out after about the time
 * asked), a pipe with data is, a pipe whose writers are gone reports
 * POLLHUP/EOF, the write end of a pipe is writable, a regular file is always
 * ready, a closed descriptor is POLLNVAL (poll) or EBADF (select), and
 * output from a posix_spawn'd child (argv[1], e.g. ./hello) wakes a blocked
 * poll. Output is the same natively and under nommu.
 */
#include "guest.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int p[2], f;
	struct pollfd pf[2];
	fd_set rd, wr;
	struct timeval tv;
	double t0;
	char c;

	(void)argc;
	pipe(p);
	pf[0] = (struct pollfd){ .fd = p[0], .events = POLLIN };
	t0 = now();
	check("poll on an empty pipe times out", poll(pf, 1, 30) == 0);
	check("  after about 30 ms", now() - t0 >= 0.028);

	write(p[1], "x", 1);
	check("poll sees data", poll(pf, 1, 1000) == 1 && (pf[0].revents & POLLIN));
	pf[1] = (struct pollfd){ .fd = p[1], .events = POLLOUT };
	check("write end is writable", poll(&pf[1], 1, 0) == 1 && (pf[1].revents & POLLOUT));

	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	tv = (struct timeval){ 0, 0 };
	check("select sees data", select(p[0] + 1, &rd, 0, 0, &tv) == 1 && FD_ISSET(p[0], &rd));
	read(p[0], &c, 1);

	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	tv = (struct timeval){ 0, 20000 };
	t0 = now();
	check("select on an empty pipe times out", select(p[0] + 1, &rd, 0, 0, &tv) == 0);
	check("  after about 20 ms", now() - t0 >= 0.018);

	{
		struct timespec ts = { 0, 20000000 };
		sigset_t none;
		sigemptyset(&none);
		check("ppoll times out", ppoll(pf, 1, &ts, &none) == 0);
		FD_ZERO(&rd);
		FD_SET(p[0], &rd);
		check("pselect times out", pselect(p[0] + 1, &rd, 0, 0, &ts, &none) == 0);
	}

	f = open("pollsel.tmp", O_RDWR | O_CREAT | O_TRUNC, 0600);
	unlink("pollsel.tmp");
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_SET(f, &rd);
	tv = (struct timeval){ 1, 0 };
	check("a regular file is always readable", select(f + 1, &rd, 0, 0, &tv) == 1);
	close(f);
	pf[0].fd = f;
	check("a closed descriptor is POLLNVAL", poll(pf, 1, 0) == 1 && pf[0].revents == POLLNVAL);
	FD_ZERO(&rd);
	FD_SET(f, &rd);
	errno = 0;
	check("select on a closed descriptor: EBADF", select(f + 1, &rd, 0, 0, &tv) == -1 && errno == EBADF);

	{
		/* A child writes into the pipe: a blocked poll wakes up. */
		posix_spawn_file_actions_t fa;
		pid_t pid;
		int status;

		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, p[1], 1);
		if (argc > 1) {
			char *args[] = { argv[1], "late", 0 };
			posix_spawn(&pid, argv[1], &fa, 0, args, environ);
			pf[0] = (struct pollfd){ .fd = p[0], .events = POLLIN };
			check("poll wakes when a child writes", poll(pf, 1, 5000) == 1);
			waitpid(pid, &status, 0);
		}
	}

	close(p[1]);
	pf[0] = (struct pollfd){ .fd = p[0], .events = POLLIN };
	{
		char buf[64];
		while (poll(pf, 1, 0) == 1 && (pf[0].revents & POLLIN) && read(p[0], buf, sizeof buf) > 0)
			;
	}
	check("no writers left: POLLHUP", poll(pf, 1, 0) == 1 && (pf[0].revents & POLLHUP));
	check("and read gives EOF", read(p[0], &c, 1) == 0);
	return guest_status();
}
