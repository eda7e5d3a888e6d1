/*
 * fork_noexec - forked children that keep running the parent's program.
 *
 * Usage: fork_noexec [N]   (N default 100000)
 * The parent fills an array with the numbers 1..N, then:
 *  1. forks 4 children one at a time; child i sums its quarter of the array
 *     (memory it got from the parent, without exec) and prints the sum; the
 *     parent waits for each before forking the next, so the order is fixed;
 *  2. forks 4 children at once; each sends its partial sum through its own
 *     pipe; the parent adds them up and checks the total is N(N+1)/2.
 * Needs an MMU (fork); on no-MMU fork() fails with EINVAL, printed. Exits 0
 * when the totals are right.
 */
#include "guest.h"
#include <unistd.h>

enum { PARTS = 4 };

static unsigned long long partial_sum(const unsigned *a, unsigned long n, int part)
{
	unsigned long long sum = 0;
	for (unsigned long i = n * part / PARTS; i < n * (part + 1) / PARTS; i++)
		sum += a[i];
	return sum;
}

/* Part 1: children one after the other, each printing its sum. */
static int sequential(const unsigned *a, unsigned long n)
{
	for (int part = 0; part < PARTS; part++) {
		int status;
		fflush(stdout);
		pid_t pid = fork();
		if (pid < 0) {
			report("fork", -1);
			return 1;
		}
		if (pid == 0) {
			printf("child %d: sum of part %d = %llu\n", part, part, partial_sum(a, n, part));
			fflush(stdout);
			_exit(0);
		}
		if (waitpid(pid, &status, 0) != pid || status != 0)
			return 1;
	}
	return 0;
}

/* Part 2: all children at once, answers through pipes. */
static int concurrent(const unsigned *a, unsigned long n)
{
	int fds[PARTS][2];
	pid_t pids[PARTS];
	unsigned long long total = 0;
	for (int part = 0; part < PARTS; part++) {
		if (pipe(fds[part]) < 0 || (pids[part] = fork()) < 0) {
			report("pipe/fork", -1);
			return 1;
		}
		if (pids[part] == 0) {
			unsigned long long sum = partial_sum(a, n, part);
			_exit(write(fds[part][1], &sum, sizeof sum) == sizeof sum ? 0 : 1);
		}
		close(fds[part][1]);
	}
	for (int part = 0; part < PARTS; part++) {
		unsigned long long sum = 0;
		int status;
		check("partial sum received", read(fds[part][0], &sum, sizeof sum) == sizeof sum);
		close(fds[part][0]);
		check("child exited 0", waitpid(pids[part], &status, 0) == pids[part] && status == 0);
		total += sum;
	}
	printf("total = %llu\n", total);
	check("total is N(N+1)/2", total == (unsigned long long)n * (n + 1) / 2);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long n = arg_ulong(argc, argv, 1, 100000);
	unsigned *a = malloc(n * sizeof *a);
	if (!a)
		return 1;
	for (unsigned long i = 0; i < n; i++)
		a[i] = (unsigned)(i + 1);
	if (sequential(a, n) || concurrent(a, n))
		return 1;
	return guest_status();
}
