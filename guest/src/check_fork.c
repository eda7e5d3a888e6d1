/*
 * check_fork - calls fork(), which a no-MMU kernel refuses (for nommu check).
 *
 * Usage: check_fork
 * Prints "fork: EINVAL (Invalid argument)" on no-MMU ("fork: ok" natively,
 * where the child _exits at once and is reaped), then "done". Exits 0.
 * `nommu check` reports a fork finding at the marked line.
 */
#include "guest.h"
#include <unistd.h>

int main(void)
{
	fflush(stdout);
	pid_t pid = fork(); /* CHECK: fork */
	if (pid == 0)
		_exit(0);
	report("fork", pid);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	printf("done\n");
	return 0;
}
