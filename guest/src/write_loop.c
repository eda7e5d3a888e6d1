/*
 * write_loop - many small writes to /dev/null.
 *
 * Usage: write_loop [N]    (default 100000)
 * Opens /dev/null and writes 16 bytes N times, checking each write returns
 * 16; prints "done". Measures the cost of a syscall that copies from user
 * memory through the file layer. Exits 0, or 1 on a short or failed write.
 */
#include "guest.h"
#include <fcntl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static const char msg[16] = "0123456789abcdef";
	unsigned long n = arg_ulong(argc, argv, 1, 100000);
	int fd = open("/dev/null", O_WRONLY);
	if (fd < 0) {
		report("open /dev/null", fd);
		return 1;
	}
	for (unsigned long i = 0; i < n; i++)
		if (write(fd, msg, sizeof msg) != sizeof msg) {
			report("write", -1);
			return 1;
		}
	printf("done\n");
	return 0;
}
