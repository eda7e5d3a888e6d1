/*
 * fork_exec - the classic way to start a program: fork, execve, waitpid.
 *
 * Usage: fork_exec PROGRAM [ARGS...]
 * Forks; the child execs PROGRAM with ARGS (argv[0] = PROGRAM). The parent
 * waits and prints "child: exited N" / "child: killed by SIGNAME". Then a
 * child whose execve fails (/nonexistent/program): it prints the error itself
 * and exits 127 (unlike a vfork child it cannot leave errno in the parent's
 * memory: its writes land in its own copy). Needs an MMU; on no-MMU fork()
 * fails with EINVAL, which is printed. Exits with PROGRAM's exit status, or
 * 128+sig, or 1 if fork failed.
 */
#include "guest.h"
#include <unistd.h>

extern char **environ;

static int child_errno; /* set only in the child's copy */

/* Forks and execs argv[0] in the child; returns the child's pid or -1. */
static pid_t start(char **argv)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execve(argv[0], argv, environ);
		child_errno = errno;
		printf("child: execve %s: %s\n", argv[0], errname(child_errno));
		fflush(stdout);
		_exit(127);
	}
	return pid;
}

static int wait_for(const char *who, pid_t pid)
{
	int status = 0;
	if (pid < 0) {
		report("fork", -1);
		return -1;
	}
	if (waitpid(pid, &status, 0) != pid) {
		report("waitpid", -1);
		return -1;
	}
	print_wait_status(who, status);
	return status;
}

int main(int argc, char **argv)
{
	char *missing[] = {"/nonexistent/program", NULL};
	if (argc < 2) {
		fprintf(stderr, "usage: fork_exec PROGRAM [ARGS...]\n");
		return 2;
	}
	int status = wait_for("child", start(argv + 1));
	if (status < 0)
		return 1;
	wait_for("child with failing execve", start(missing));
	printf("parent's copy of child_errno: %d\n", child_errno);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
