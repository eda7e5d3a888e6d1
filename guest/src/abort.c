/*
 * abort - abort(3), which raises SIGABRT through musl's raise/sigaction path.
 *
 * Usage: abort
 * Prints one line, then calls abort(). Expected: killed by SIGABRT (shell
 * status 134).
 */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	printf("abort: calling abort()\n");
	fflush(stdout);
	abort();
}
