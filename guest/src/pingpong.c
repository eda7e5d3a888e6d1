/*
 * pingpong - two processes bounce a byte through two pipes.
 *
 * Usage: pingpong [N]      (N round trips, default 10000)
 * The child is a clone(CLONE_VM|SIGCHLD) process (a separate process with its
 * own fd table, running concurrently, as no-MMU allows without exec). The
 * parent writes byte i to one pipe, the child reads it and writes back i+1 on
 * the other; the parent checks each answer. Measures pipe wakeup and context
 * switch cost. Prints "pingpong: N round trips ok"; exits 0, or 1 on a wrong
 * or missing byte.
 */
#include "guest.h"
#include <unistd.h>

static int to_child[2], to_parent[2];

/* Echoes each byte + 1 until the pipe closes. Touches no errno on success. */
static int echo(void *arg)
{
	unsigned char c;
	close(to_child[1]);
	close(to_parent[0]);
	while (read(to_child[0], &c, 1) == 1) {
		c++;
		if (write(to_parent[1], &c, 1) != 1)
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long n = arg_ulong(argc, argv, 1, 10000), i;
	int status = 0;
	if (pipe(to_child) < 0 || pipe(to_parent) < 0) {
		report("pipe", -1);
		return 1;
	}
	pid_t pid = clone_process(echo, NULL);
	if (pid < 0) {
		report("clone", -1);
		return 1;
	}
	close(to_child[0]);
	close(to_parent[1]);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)i, back;
		if (write(to_child[1], &c, 1) != 1 || read(to_parent[0], &back, 1) != 1 ||
		    back != (unsigned char)(c + 1))
			break;
	}
	close(to_child[1]);
	waitpid(pid, &status, 0);
	if (i != n) {
		printf("pingpong: failed at round trip %lu\n", i);
		return 1;
	}
	printf("pingpong: %lu round trips ok\n", n);
	return status == 0 ? 0 : 1;
}
