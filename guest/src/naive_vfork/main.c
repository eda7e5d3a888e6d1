/*
 * naive_vfork - a vfork stub that leaves its return address on the shared
 * stack lets the child redirect the parent.
 *
 * Usage: naive_vfork naive|safe [PROGRAM [ARGS...]]
 * Calls the chosen stub (stubs.S) from spawn(). The child calls child_run(),
 * which execs PROGRAM (argv[0] = PROGRAM) or, without one, _exit(0)s; a
 * failed execve _exit(127)s. That call pushes child_run's return address into
 * the stack slot holding the stub's return address, so with the naive stub
 * the parent "returns" from vfork to just after `call child_run`, a path only
 * a child should reach. spawn() notices and says so. Then the parent reaps
 * the child and prints its status.
 *
 * The outcome is deterministic, natively and on no-MMU alike, because vfork
 * suspends the parent until the child has made that call and exec'd/exited,
 * and because `call child_run` runs with the same %esp as `call vfork_stub`
 * (no arguments, no stack adjustment: checked in the disassembly).
 *
 * Output, naive:  "parent: resumed in the child's branch (return address
 *                  overwritten)" then "child: exited N"; exit status 3.
 * Output, safe:   "parent: vfork returned the child's pid" then
 *                 "child: exited N"; exit status 0.
 */
#include "guest.h"
#include <unistd.h>

pid_t naive_vfork(void);
pid_t safe_vfork(void);

extern char **environ;
static char **child_argv;

/* Runs in the vfork child only: execs child_argv, or exits. */
__attribute__((noipa)) static void child_run(void)
{
	if (child_argv[0])
		execve(child_argv[0], child_argv, environ);
	_exit(child_argv[0] ? 127 : 0);
}

/* Reached only by a parent whose stub returned through the child's slot. */
__attribute__((noipa)) static void parent_hijacked(void)
{
	printf("parent: resumed in the child's branch (return address overwritten)\n");
	fflush(stdout);
}

/*
 * Returns the child's pid, or 0 if the parent came back through the child's
 * branch. noipa keeps gcc from proving child_run never returns and deleting
 * the code after its call.
 */
__attribute__((noipa)) static pid_t spawn(pid_t (*stub)(void))
{
	pid_t pid = stub();
	if (pid == 0) {
		child_run();
		parent_hijacked();
		return 0;
	}
	return pid;
}

int main(int argc, char **argv)
{
	int status = 0, hijacked;
	if (argc < 2 || (strcmp(argv[1], "naive") && strcmp(argv[1], "safe"))) {
		fprintf(stderr, "usage: naive_vfork naive|safe [PROGRAM [ARGS...]]\n");
		return 2;
	}
	child_argv = argv + 2;
	fflush(stdout);
	pid_t pid = spawn(strcmp(argv[1], "naive") ? safe_vfork : naive_vfork);
	hijacked = pid == 0;
	if (!hijacked)
		printf("parent: vfork returned the child's pid\n");
	if (waitpid(-1, &status, 0) < 0)
		report("waitpid", -1);
	else
		print_wait_status("child", status);
	return hijacked ? 3 : 0;
}
