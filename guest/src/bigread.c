/*
 * bigread - transfers asked for with absurd sizes get what there is.
 *
 * Usage: bigread FILE DIR LINK   (FILE: a small file, DIR: a directory,
 *                                 LINK: a symlink)
 * read, readv, pread and getdents64 with a count of 0x7fffffff, and readlink
 * with a buffer size of 0x7fffffff, into a small buffer: each returns the
 * size of what there is (the file, the listing, the link), which fits. A
 * kernel must not set aside 2 GiB for them. Prints each count; exits 0 when
 * every call succeeded.
 */
#include "guest.h"
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static void show(const char *what, long n)
{
	if (n < 0)
		guest_failures++;
	report(what, n);
	if (n >= 0)
		printf("  %s returned %ld\n", what, n);
}

int main(int argc, char **argv)
{
	static char buf[65536];
	const size_t huge = 0x7fffffff;
	if (argc < 4) {
		fprintf(stderr, "usage: bigread FILE DIR LINK\n");
		return 2;
	}
	int fd = open(argv[1], O_RDONLY);
	show("read", read(fd, buf, huge));
	struct iovec iov[2] = {{buf, huge}, {buf + 16, huge}};
	lseek(fd, 0, SEEK_SET);
	show("readv", readv(fd, iov, 2));
	show("pread", pread(fd, buf, huge, 0));
	int dir = open(argv[2], O_RDONLY | O_DIRECTORY);
	show("getdents64", syscall(SYS_getdents64, dir, buf, huge) > 0 ? 1 : -1);
	show("readlink", readlink(argv[3], buf, huge));
	return guest_status();
}
