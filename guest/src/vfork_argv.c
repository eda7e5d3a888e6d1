/*
 * vfork_argv - the commonest correct vfork idiom: the child builds the argv
 * of the program it execs in its caller's frame (for nommu check).
 *
 * Usage: vfork_argv PROGRAM ARG
 * run() vforks twice; each time the child fills run()'s argv array (the
 * parent's memory: the child borrows its frame) and execs PROGRAM ARG. The
 * parent never reads those slots again, so it runs exactly as on Linux.
 * Prints "child: exited N" for each run. Exits 0. `nommu check` finds no
 * problem (its notes list the child's stores: POSIX forbids them, but no one
 * sees them); `nommu check --strict-vfork` reports them.
 */
#include "guest.h"
#include <unistd.h>

extern char **environ;

__attribute__((noinline)) static int run(char *program, char *arg)
{
	char *argv[4];
	int status = 0;
	pid_t pid = vfork();
	if (pid == 0) {
		argv[0] = program;
		argv[1] = arg;
		argv[2] = NULL;
		argv[3] = NULL;
		execve(program, argv, environ);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: vfork_argv PROGRAM ARG\n");
		return 2;
	}
	for (int i = 0; i < 2; i++)
		print_wait_status("child", run(argv[1], argv[2]));
	return 0;
}
