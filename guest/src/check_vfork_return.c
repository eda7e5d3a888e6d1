/*
 * check_vfork_return - a vfork child returns from the function that called
 * vfork (for nommu check).
 *
 * Usage: check_vfork_return
 * start_child() returns vfork()'s result, so the child returns into main()
 * and its call of _exit() pushes a return address into the slot that
 * start_child()'s return address occupied. When the parent resumes,
 * start_child() returns there: into the code after the call of _exit(),
 * which is not meant to run. What happens then is deterministic but
 * undefined (on nommu: a crash); `nommu check` reports vfork-return at the
 * marked line, and the crash.
 */
#include "guest.h"
#include <unistd.h>

__attribute__((noinline, noipa)) static pid_t start_child(void)
{
	return vfork();
}

int main(void)
{
	fflush(stdout);
	pid_t pid = start_child(); /* CHECK: vfork-return */
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	printf("parent: back from start_child\n");
	return 0;
}
