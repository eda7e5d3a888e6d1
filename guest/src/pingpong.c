/*
 * pingpong - two processes bounce a byte through two pipes.
 *
 * Usage: pingpong [N]                  (N round trips, default 10000)
 *        pingpong N -- PROG [ARGS...]  (the partner is a program: see below)
 *        pingpong --echo               (be that partner)
 * The child is a clone(CLONE_VM|SIGCHLD) process (a separate process with its
 * own fd table, running concurrently, as no-MMU allows without exec). The
 * parent writes byte i to one pipe, the child reads it and writes back i+1 on
 * the other; the parent checks each answer. Measures pipe wakeup and context
 * switch cost. Prints "pingpong: N round trips ok"; exits 0, or 1 on a wrong
 * or missing byte (or a partner that does not exit 0).
 *
 * With "-- PROG [ARGS...]" the child is instead PROG ARGS... --echo started
 * with posix_spawn (vfork + execve), its stdin the read end of the first pipe
 * and its stdout the write end of the second; "pingpong --echo" echoes each
 * byte of stdin + 1 to stdout until EOF. Same output. PROG is a path, e.g.
 * /pingpong, or a wrapper such as qemu-i386 with ARGS the path of pingpong
 * (emulators that refuse clone(CLONE_VM) without the thread flags run this).
 */
#include "guest.h"
#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

extern char **environ;
static int to_child[2], to_parent[2];

/* Echoes each byte read from in + 1 to out until EOF; 0, or 1 on a failed
 * write. Touches no errno on success. */
static int echo_loop(int in, int out)
{
	unsigned char c;
	while (read(in, &c, 1) == 1) {
		c++;
		if (write(out, &c, 1) != 1)
			return 1;
	}
	return 0;
}

/* The clone child: closes the parent's ends, then echoes. */
static int echo(void *arg)
{
	close(to_child[1]);
	close(to_parent[0]);
	return echo_loop(to_child[0], to_parent[1]);
}

/* Starts prog[0] prog[1..] --echo on the pipes' child ends; its pid or -1. The
 * pipes are close-on-exec, so the partner holds only its two ends. */
static pid_t spawn_partner(int nprog, char **prog)
{
	char *args[nprog + 2];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int err;
	memcpy(args, prog, nprog * sizeof *args);
	args[nprog] = "--echo";
	args[nprog + 1] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, to_child[0], 0);
	posix_spawn_file_actions_adddup2(&fa, to_parent[1], 1);
	fflush(stdout);
	err = posix_spawn(&pid, prog[0], &fa, NULL, args, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err) {
		report_err("posix_spawn", err);
		return -1;
	}
	return pid;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--echo") == 0)
		return echo_loop(0, 1);
	unsigned long n = arg_ulong(argc, argv, 1, 10000), i;
	int spawned = argc > 3 && strcmp(argv[2], "--") == 0;
	int status = 0;
	pid_t pid;
	if (pipe2(to_child, spawned ? O_CLOEXEC : 0) < 0 ||
	    pipe2(to_parent, spawned ? O_CLOEXEC : 0) < 0) {
		report("pipe", -1);
		return 1;
	}
	if (spawned) {
		pid = spawn_partner(argc - 3, argv + 3);
		if (pid < 0)
			return 1;
	} else {
		pid = clone_process(echo, NULL);
		if (pid < 0) {
			report("clone", -1);
			return 1;
		}
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
