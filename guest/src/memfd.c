/*
 * memfd.c - memfd_create, its MAP_SHARED mappings, seals and fallocate.
 *
 * Two MAP_SHARED mappings of one memfd are the same memory (and what
 * read/write see); F_ADD_SEALS/F_GET_SEALS and what each seal forbids;
 * fallocate on a memfd and on a disk file (mode 0 grows the file,
 * FALLOC_FL_KEEP_SIZE does not, a punched hole reads as zeroes) and its
 * errors. Uses ./memfd_test.tmp (removed).
 */
#include "guest.h"

#include <fcntl.h>
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 0x02
#endif
#ifndef FALLOC_FL_COLLAPSE_RANGE
#define FALLOC_FL_COLLAPSE_RANGE 0x08
#endif
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static long size_of(int fd)
{
	struct stat st;
	fstat(fd, &st);
	return (long)st.st_size;
}

int main(void)
{
	int m = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING), plain, f, p[2];
	char *a, *b, buf[16] = { 0 }, link[64] = { 0 };
	struct stat st;

	setvbuf(stdout, 0, _IONBF, 0);
	printf("cloexec: %d\n", fcntl(m, F_GETFD));
	fstat(m, &st);
	printf("mode %o nlink %ld size %ld\n", st.st_mode, (long)st.st_nlink, (long)st.st_size);
	readlink("/proc/self/fd/3", link, sizeof link - 1);
	printf("fd name: %s\n", m == 3 ? link : "?");
	report("a long name", memfd_create("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 0));
	report("bad flags", memfd_create("x", 0x100));

	ftruncate(m, 8192);
	a = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	b = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	check("two shared mappings", a != MAP_FAILED && b != MAP_FAILED);
	strcpy(a + 4096, "shared");
	check("  see each other's writes", strcmp(b + 4096, "shared") == 0);
	pread(m, buf, 6, 4096);
	check("  read() sees the mapping", strcmp(buf, "shared") == 0);
	pwrite(m, "WRITE", 5, 0);
	check("  the mapping sees write()", memcmp(b, "WRITE", 5) == 0);

	printf("seals: %#x\n", fcntl(m, F_GET_SEALS));
	report("F_SEAL_WRITE while mapped shared", fcntl(m, F_ADD_SEALS, F_SEAL_WRITE));
	munmap(a, 8192);
	munmap(b, 8192);
	report("F_SEAL_SHRINK | F_SEAL_GROW", fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW));
	report("  shrink", ftruncate(m, 4096));
	report("  grow", ftruncate(m, 16384));
	report("  write past the end", pwrite(m, "x", 1, 8192));
	report("  write inside", pwrite(m, "x", 1, 0));
	report("F_SEAL_WRITE", fcntl(m, F_ADD_SEALS, F_SEAL_WRITE));
	report("  write", pwrite(m, "x", 1, 0));
	report("  shared writable mmap", (long)mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0) == -1 ? -1 : 0);
	report("F_SEAL_SEAL", fcntl(m, F_ADD_SEALS, F_SEAL_SEAL));
	printf("seals: %#x\n", fcntl(m, F_GET_SEALS));
	report("  no more seals", fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK));
	plain = memfd_create("plain", 0);
	printf("without MFD_ALLOW_SEALING: seals %#x\n", fcntl(plain, F_GET_SEALS));
	report("  add", fcntl(plain, F_ADD_SEALS, F_SEAL_WRITE));
	pipe(p);
	report("seals of a pipe", fcntl(p[0], F_GET_SEALS));

	report("fallocate memfd mode 0", fallocate(plain, 0, 0, 10000));
	printf("  size %ld\n", size_of(plain));
	report("fallocate KEEP_SIZE", fallocate(plain, FALLOC_FL_KEEP_SIZE, 0, 50000));
	printf("  size %ld\n", size_of(plain));
	pwrite(plain, "abcdef", 6, 100);
	report("punch a hole", fallocate(plain, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 101, 3));
	pread(plain, buf, 6, 100);
	printf("  reads: %c%c%c%c%c%c (size %ld)\n", buf[0], buf[1] ? buf[1] : '0', buf[2] ? buf[2] : '0',
	       buf[3] ? buf[3] : '0', buf[4], buf[5], size_of(plain));
	report("PUNCH_HOLE without KEEP_SIZE", fallocate(plain, FALLOC_FL_PUNCH_HOLE, 0, 1));
	report("COLLAPSE_RANGE (tmpfs has none)", fallocate(plain, FALLOC_FL_COLLAPSE_RANGE, 0, 4096));
	report("length 0", fallocate(plain, 0, 0, 0));
	report("negative offset", fallocate(plain, 0, -1, 10));
	report("on a pipe", fallocate(p[1], 0, 0, 10));
	report("on a read-only fd", fallocate(p[0], 0, 0, 10));
	report("bad fd", fallocate(99, 0, 0, 10));

	f = open("memfd_test.tmp", O_CREAT | O_RDWR | O_TRUNC, 0644);
	report("fallocate a disk file", fallocate(f, 0, 0, 5000));
	printf("  size %ld\n", size_of(f));
	report("  KEEP_SIZE", fallocate(f, FALLOC_FL_KEEP_SIZE, 0, 90000));
	printf("  size %ld\n", size_of(f));
	close(f);
	f = open(".", O_RDONLY);
	report("on a directory (read-only fd)", fallocate(f, 0, 0, 10));
	close(f);
	unlink("memfd_test.tmp");
	return guest_status();
}
