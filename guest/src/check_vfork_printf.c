/*
 * check_vfork_printf - a vfork child that uses stdio (for nommu check).
 *
 * Usage: check_vfork_printf
 * The child printf()s before _exit(0): stdio's buffer and FILE are the
 * parent's (global writes), and musl's first output to stdout makes system
 * calls (ioctl to see if it is a terminal, then the write), other than
 * execve/_exit. Prints "child: hello from the vfork child" then
 * "child: exited 0". Exits 0. `nommu check` reports vfork-write-global and
 * vfork-syscall at the marked line.
 */
#include "guest.h"
#include <unistd.h>

int main(void)
{
	int status = 0;
	pid_t pid = vfork();
	if (pid == 0) {
		printf("child: hello from the vfork child\n"); /* CHECK: vfork-write-global vfork-syscall */
		_exit(0);
	}
	waitpid(pid, &status, 0);
	print_wait_status("child", status);
	return 0;
}
