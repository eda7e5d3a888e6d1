/*
 * daemon - calls daemon(), which needs fork() (for nommu check).
 *
 * Usage: daemon
 * Asks libc's daemon(1, 1) to put the program in the background (keeping
 * the working directory and stdout) and prints the result, then "done".
 * daemon() calls fork(), which fails with EINVAL on a no-MMU kernel: the
 * program prints "daemon: EINVAL (Invalid argument)" and stays in the
 * foreground. (Natively the parent exits 0 at once and the detached child
 * prints "daemon: ok".) Exits 0. `nommu check` reports a daemon finding at
 * the marked line, with what to do instead on no-MMU.
 */
#include "guest.h"
#include <unistd.h>

int main(void)
{
	fflush(stdout);
	int rc = daemon(1, 1); /* CHECK: daemon */
	report("daemon", rc);
	printf("done\n");
	return 0;
}
