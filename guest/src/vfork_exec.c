/*
 * vfork_exec - start a program the no-MMU way: vfork, execve, waitpid.
 *
 * Usage: vfork_exec PROGRAM [ARGS...]
 * Runs PROGRAM with ARGS (argv[0] = PROGRAM) in a vfork child and prints how
 * it ended ("child: exited N" / "child: killed by SIGNAME"). Then vforks a
 * child whose execve fails (/nonexistent/program): the child stores errno in
 * a variable, which the parent can read because a vfork child shares its
 * memory, and calls _exit(127). Exits with PROGRAM's exit status, or 128+sig.
 * Example: vfork_exec /exitcode 3 -> "child: exited 3", ..., status 3.
 */
#include "guest.h"
#include <unistd.h>

extern char **environ;

/* Written by the vfork child, read by the parent after the child is gone. */
static int child_errno;

/* vforks, execs argv[0]; the child reports a failed execve via child_errno. */
static pid_t start(char **argv)
{
	fflush(stdout);
	pid_t pid = vfork();
	if (pid == 0) {
		execve(argv[0], argv, environ);
		child_errno = errno;
		_exit(127);
	}
	return pid;
}

static int wait_for(const char *who, pid_t pid)
{
	int status = 0;
	if (pid < 0) {
		report("vfork", -1);
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
		fprintf(stderr, "usage: vfork_exec PROGRAM [ARGS...]\n");
		return 2;
	}
	int status = wait_for("child", start(argv + 1));

	child_errno = 0;
	wait_for("child with failing execve", start(missing));
	printf("execve error seen by the parent: %s\n", errname(child_errno));

	if (status < 0)
		return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
