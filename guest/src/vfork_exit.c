/*
 * vfork_exit - what goes wrong when a vfork child calls exit() instead of
 * _exit().
 *
 * Usage: vfork_exit
 * stdout is made fully buffered and the parent leaves "parent's unflushed
 * text; " in the buffer and registers an atexit handler. The child calls
 * exit(0), which runs the parent's atexit handler and flushes the parent's
 * stdio buffer from the child. Because the child shares the parent's memory,
 * that also consumes the handler list and empties the buffer for the parent:
 * the text is written once, by the child, and the handler never runs in the
 * parent. (After fork, the text and handler would run twice.) Output, same
 * natively and on no-MMU:
 *   parent's unflushed text; atexit handler ran in the child
 *   parent: after the child's exit(), the atexit list is empty and ...
 * Exits 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *role = "parent";
static int handler_runs;

static void handler(void)
{
	handler_runs++;
	printf("atexit handler ran in the %s\n", role);
}

int main(void)
{
	static char buf[4096];
	setvbuf(stdout, buf, _IOFBF, sizeof buf);
	atexit(handler);
	printf("parent's unflushed text; ");
	pid_t pid = vfork();
	if (pid == 0) {
		role = "child";
		exit(0);
	}
	role = "parent";
	waitpid(pid, NULL, 0);
	printf("parent: after the child's exit(), the handler has run %d time(s) "
	       "and will not run again\n",
	       handler_runs);
	return 0;
}
