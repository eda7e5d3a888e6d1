/*
 * fork_wait - fork() and wait: each child is a copy that exits on its own.
 *
 * Usage: fork_wait [CODE...]   (default: 0 3 42 255)
 * For each CODE, forks a child that checks it is a new process (its own pid,
 * its parent's pid as ppid) and exits with CODE; the parent waits for it and
 * prints "child N: exited CODE". Then a child that kills itself with SIGTERM
 * ("killed by SIGTERM"), and a final wait with no children left (ECHILD).
 * Needs an MMU: on no-MMU fork() fails with EINVAL, which is printed, and
 * the program exits 1. Exits 0 when every child ended as expected.
 */
#include "guest.h"
#include <unistd.h>

/* Forks a child that runs body(arg) and exits with its result; -1 on failure. */
static pid_t spawn_copy(int (*body)(int), int arg)
{
	fflush(stdout); /* a child must not inherit (and print) buffered output */
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		if (getppid() != parent || getpid() == parent)
			_exit(200);
		_exit(body(arg));
	}
	return pid;
}

static int exit_with(int code)
{
	return code;
}

static int die_by(int sig)
{
	kill(getpid(), sig);
	return 201;
}

/* Waits for pid and prints its status; returns the status, or -1. */
static int reap(int n, pid_t pid)
{
	char who[32];
	int status = 0;
	if (waitpid(pid, &status, 0) != pid) {
		report("waitpid", -1);
		return -1;
	}
	snprintf(who, sizeof who, "child %d", n);
	print_wait_status(who, status);
	return status;
}

int main(int argc, char **argv)
{
	char *defaults[] = {"0", "3", "42", "255"};
	char **codes = argc > 1 ? argv + 1 : defaults;
	int n = argc > 1 ? argc - 1 : 4, wrong = 0;
	for (int i = 0; i < n; i++) {
		int code = atoi(codes[i]) & 0xff;
		pid_t pid = spawn_copy(exit_with, code);
		if (pid < 0) {
			report("fork", -1);
			return 1;
		}
		int status = reap(i + 1, pid);
		wrong += !(WIFEXITED(status) && WEXITSTATUS(status) == code);
	}
	int status = reap(n + 1, spawn_copy(die_by, SIGTERM));
	wrong += !(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
	int left = wait(NULL);
	report("wait with no children left", left);
	wrong += !(left < 0 && errno == ECHILD);
	printf("fork_wait: %d children, %d wrong\n", n + 1, wrong);
	return wrong ? 1 : 0;
}
