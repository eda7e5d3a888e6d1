/*
 * check_exec_fail - a vfork child goes on after a failed execve (for nommu
 * check).
 *
 * Usage: check_exec_fail
 * The child's execve of a missing program fails; it then printf()s the
 * error (writing the parent's stdio buffer) before _exit(127). Prints
 * "exec failed: ENOENT" and "child: exited 127". Exits 0. `nommu check`
 * reports vfork-exec-failed at the marked line.
 */
#include "guest.h"
#include <unistd.h>

extern char **environ;

int main(void)
{
	char *argv[] = {"/nonexistent/program", NULL};
	int status = 0;
	pid_t pid = vfork();
	if (pid == 0) {
		execve(argv[0], argv, environ);
		printf("exec failed: %s\n", errname(errno)); /* CHECK: vfork-exec-failed */
		_exit(127);
	}
	waitpid(pid, &status, 0);
	print_wait_status("child", status);
	return 0;
}
