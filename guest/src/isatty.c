/*
 * isatty - which standard fds are terminals.
 *
 * Usage: isatty
 * Prints "isatty(N)=yes|no" for fds 0, 1 and 2. The answer depends on how the
 * program was started (tests run it with pipes, files and a pty), so its
 * output is compared per context, not against a fixed text. Exits 0.
 */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	int tty[3];
	for (int fd = 0; fd < 3; fd++)
		tty[fd] = isatty(fd);
	for (int fd = 0; fd < 3; fd++)
		printf("isatty(%d)=%s\n", fd, tty[fd] ? "yes" : "no");
	return 0;
}
