/*
 * check_mmap_shared - a MAP_SHARED mapping of a regular file (for nommu
 * check).
 *
 * Usage: check_mmap_shared
 * Maps the first page of its own program file MAP_SHARED, read-only. A
 * no-MMU kernel cannot share a disk file's pages: ENODEV. Prints
 * "mmap MAP_SHARED: ENODEV (No such device)" on no-MMU. Exits 0.
 * `nommu check` reports mmap-shared-file at the marked line.
 */
#include "guest.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int fd = open(argv[0], O_RDONLY);
	if (fd < 0) {
		report("open", -1);
		return 1;
	}
	void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0); /* CHECK: mmap-shared-file */
	report("mmap MAP_SHARED", p == MAP_FAILED ? -1 : 0);
	close(fd);
	return 0;
}
