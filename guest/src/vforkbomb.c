/*
 * vforkbomb - process bombs that must end cleanly, with EAGAIN from the
 * process limit (or ENOMEM, if memory runs out first).
 *
 * Usage: vforkbomb chain      each process vforks, and its child execs this
 *                             program again one level deeper, until vfork or
 *                             execve fails; every level then waits for its
 *                             child and exits with the child's status
 *        vforkbomb clone      one process clones children (CLONE_VM, each on
 *                             its own stack, each waiting on a pipe) until
 *                             clone fails, then lets them all go and reaps them
 *
 * Prints the depth or the number of children reached and the errno that
 * stopped the bomb; exits 0 when that errno was EAGAIN or ENOMEM.
 */
#include "guest.h"
#include <fcntl.h>
#include <unistd.h>

static int ok_errno(int e)
{
	return e == EAGAIN || e == ENOMEM;
}

/* One level of the chain: start the next one and pass its status on. */
static int chain(const char *self, int depth)
{
	char next[16], msg[96];
	snprintf(next, sizeof next, "%d", depth + 1);
	pid_t pid = vfork();
	if (pid == 0) {
		execl(self, self, "chain", next, (char *)0);
		/* only _exit and write are safe here: this is the parent's memory */
		int n = snprintf(msg, sizeof msg, "chain: execve failed at depth %d: %s\n",
				 depth + 1, errname(errno));
		write(1, msg, n);
		_exit(ok_errno(errno) ? 0 : 1);
	}
	if (pid < 0) {
		int e = errno;
		printf("chain: vfork failed at depth %d: %s\n", depth, errname(e));
		return ok_errno(e) ? 0 : 1;
	}
	int status;
	if (waitpid(pid, &status, 0) != pid)
		return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static int gate[2];

static int waiter(void *arg)
{
	char c;
	close(gate[1]); /* this child's copy: only the parent's may keep the pipe open */
	read(gate[0], &c, 1); /* returns 0 when the parent closes the write end */
	return 0;
}

/* Clones waiting children until clone fails; then releases and reaps them. */
static int clone_bomb(void)
{
	int n = 0, e;
	if (pipe(gate) < 0)
		return 1;
	for (;;) {
		if (clone_process(waiter, NULL) < 0) {
			e = errno;
			break;
		}
		n++;
	}
	close(gate[1]);
	int reaped = 0;
	while (wait(NULL) > 0)
		reaped++;
	printf("clone: failed after %d children: %s\n", n, errname(e));
	check("clone: every child reaped", reaped == n);
	return ok_errno(e) ? guest_status() : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc > 1 && strcmp(argv[1], "chain") == 0)
		return chain(argv[0], argc > 2 ? atoi(argv[2]) : 1);
	if (argc > 1 && strcmp(argv[1], "clone") == 0)
		return clone_bomb();
	fprintf(stderr, "usage: vforkbomb chain|clone\n");
	return 2;
}
