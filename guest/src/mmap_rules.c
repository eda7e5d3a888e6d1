/*
 * mmap_rules - the rules of mmap, munmap, mremap and brk, one line per rule.
 *
 * Usage: mmap_rules [DIR]   (DIR: where to put a scratch file; default "tmp")
 *        mmap_rules --proc [DIR]
 * With --proc, maps a /dev/shm file MAP_SHARED, a read-only copy of a file
 * and an anonymous block shrunk by mremap, and prints /proc/self/maps,
 * /proc/self/status and /proc/meminfo (with addresses: for a test to read).
 * Each line is "rule: ok", "rule: ENAME (text)" or a yes/no fact; never an
 * address, so runs can be compared. Without an MMU (nommu) the answers are
 * those of mm/nommu.c (the table in the reference, section 2): MAP_FIXED is
 * EINVAL, hints are ignored, file mappings are copies, MAP_SHARED works only
 * on RAM files (/dev/shm), munmap must name mapped memory, mremap never
 * moves, brk cannot grow, mprotect & co. are ENOSYS. With an MMU (natively,
 * or nommu --mmu) the answers are mm/mmap.c's.
 * Uses a scratch file DIR/mmap_rules.PID and /dev/shm/mmap_rules.PID, removed
 * at the end. Exits 0.
 */
#include "guest.h"
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PG 4096UL
#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)
#define FILE_BYTES 5000 /* one page and a bit: the copy's tail must be zero */

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MREMAP_FIXED
#define MREMAP_FIXED 2
#endif

static char scratch[256], shmname[64];

/* report(), knowing two errno names guest.h does not. */
static void rule(const char *what, long rc)
{
	if (rc < 0 && (errno == EOVERFLOW || errno == ETXTBSY))
		printf("%s: %s (%s)\n", what, errno == EOVERFLOW ? "EOVERFLOW" : "ETXTBSY",
		       strerror(errno));
	else
		report(what, rc);
}

/* mmap's answer as rule() wants it (MAP_FAILED -> -1 with errno set). */
static long rc(void *p)
{
	return p == MAP_FAILED ? -1 : 0;
}

static void yes_no(const char *what, int fact)
{
	printf("%s: %s\n", what, fact ? "yes" : "no");
}

static int all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static int open_scratch(int flags)
{
	return open(scratch, flags);
}

/* A /dev/shm file (what shm_open opens) of `size` bytes, grown from empty. */
static int shm_file(size_t size)
{
	int fd = shm_open(shmname, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0 && size)
		ftruncate(fd, size);
	return fd;
}

static void anonymous_rules(void)
{
	char *a = mmap(NULL, 4 * PG, RW, ANON, -1, 0);
	rule("anonymous MAP_PRIVATE", rc(a));
	yes_no("anonymous memory is zeroed", a != MAP_FAILED && all_zero(a, 4 * PG));
	memset(a, 0xaa, 4 * PG);
	rule("MAP_FIXED over a mapping", rc(mmap(a, PG, RW, ANON | MAP_FIXED, -1, 0)));
	rule("MAP_FIXED_NOREPLACE over a mapping",
	       rc(mmap(a, PG, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0)));
	munmap(a, 4 * PG);
	char *b = mmap(NULL, 4 * PG, RW, ANON, -1, 0);
	yes_no("memory given back and taken again is zeroed", all_zero(b, 4 * PG));
	munmap(b, 4 * PG);
	char *hint = a + PG; /* free now, and not where a first fit would land */
	char *h = mmap(hint, PG, RW, ANON, -1, 0);
	yes_no("a free address hint is honoured", h == hint);
	munmap(h, PG);
	char *s = mmap(NULL, 2 * PG, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	rule("anonymous MAP_SHARED", rc(s));
	yes_no("anonymous shared memory is zeroed", s != MAP_FAILED && all_zero(s, 2 * PG));
	munmap(s, 2 * PG);
	rule("anonymous MAP_SHARED_VALIDATE",
	       rc(mmap(NULL, PG, RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, -1, 0)));
	rule("flags neither MAP_PRIVATE nor MAP_SHARED",
	       rc(mmap(NULL, PG, RW, MAP_ANONYMOUS, -1, 0)));
	rule("length 0", rc(mmap(NULL, 0, RW, ANON, -1, 0)));
	rule("length that rounds up to 0", rc(mmap(NULL, (size_t)-PG + 1, RW, ANON, -1, 0)));
	rule("length above TASK_SIZE", rc(mmap(NULL, 0xc0001000UL, RW, ANON, -1, 0)));
	long p = syscall(SYS_mmap2, 0, 2 * PG, RW, ANON, -1, 0xffffffffUL);
	rule("page offset that overflows", p == -1 ? -1 : 0);
	if (p != -1)
		munmap((void *)p, 2 * PG);
	unsigned long args[6] = {0, PG, RW, ANON, (unsigned long)-1, 100};
	rule("old mmap with an unaligned offset", syscall(SYS_mmap, args) == -1 ? -1 : 0);
}

static void file_rules(void)
{
	int fd = open_scratch(O_RDWR);
	char *c = mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	rule("file MAP_PRIVATE", rc(c));
	yes_no("the mapping has the file's bytes", c[0] == 'f' && c[FILE_BYTES - 1] == 'f');
	yes_no("past the end of the file it is zero", all_zero(c + FILE_BYTES, 2 * PG - FILE_BYTES));
	pwrite(fd, "X", 1, 0);
	yes_no("a later write to the file shows in the mapping", c[0] == 'X');
	char *w = mmap(NULL, PG, RW, MAP_PRIVATE, fd, 0);
	w[1] = 'Y';
	char byte = 0;
	pread(fd, &byte, 1, 1);
	yes_no("a write to a MAP_PRIVATE mapping reaches the file", byte == 'Y');
	munmap(w, PG);
	char *c2 = mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	yes_no("two read-only MAP_PRIVATE mappings of a range share memory", c2 == c);
	char *o = mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE, fd, PG);
	rule("read-only MAP_PRIVATE overlapping another, not inside it", rc(o));
	if (o != MAP_FAILED)
		munmap(o, 2 * PG);
	rule("munmap of part of a file mapping", munmap(c + PG, PG));
	rule("mremap of a read-only file mapping", mremap(c2, 2 * PG, PG, 0) == MAP_FAILED ? -1 : 0);
	munmap(c2, 2 * PG);
	rule("munmap of a whole file mapping", munmap(c, 2 * PG));
	munmap(c, PG); /* under an MMU the first page is still mapped */

	rule("MAP_SHARED read-only of a disk file", rc(mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0)));
	rule("MAP_SHARED read-write of a disk file", rc(mmap(NULL, PG, RW, MAP_SHARED, fd, 0)));
	close(fd);
	fd = open_scratch(O_RDONLY);
	rule("MAP_SHARED PROT_WRITE of a read-only descriptor",
	       rc(mmap(NULL, PG, RW, MAP_SHARED, fd, 0)));
	close(fd);
	fd = open_scratch(O_WRONLY);
	rule("MAP_PRIVATE of a write-only descriptor", rc(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 0)));
	close(fd);
}

static void device_rules(void)
{
	int fd = open("/dev/zero", O_RDWR);
	char *z = mmap(NULL, 2 * PG, RW, MAP_PRIVATE, fd, 0);
	rule("/dev/zero MAP_PRIVATE", rc(z));
	yes_no("/dev/zero mapping is zeroed", z != MAP_FAILED && all_zero(z, 2 * PG));
	rule("/dev/zero MAP_SHARED", rc(mmap(NULL, PG, RW, MAP_SHARED, fd, 0)));
	close(fd);
	fd = open("/dev/null", O_RDWR);
	rule("/dev/null MAP_PRIVATE", rc(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 0)));
	close(fd);
	int fds[2];
	pipe(fds);
	rule("pipe MAP_PRIVATE", rc(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fds[0], 0)));
	close(fds[0]);
	close(fds[1]);
	fd = open(".", O_RDONLY | O_DIRECTORY);
	rule("directory MAP_PRIVATE", rc(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 0)));
	close(fd);
}

static void shm_rules(void)
{
	int fd = shm_file(2 * PG);
	char *a = mmap(NULL, 2 * PG, RW, MAP_SHARED, fd, 0);
	rule("/dev/shm MAP_SHARED", rc(a));
	char *b = mmap(NULL, 2 * PG, RW, MAP_SHARED, fd, 0);
	strcpy(a + PG, "shared");
	yes_no("two MAP_SHARED mappings see each other's writes", !strcmp(b + PG, "shared"));
	yes_no("two MAP_SHARED mappings are at one address", a == b);
	char buf[8] = "";
	pread(fd, buf, 6, PG);
	yes_no("the file has the mapping's writes", !memcmp(buf, "shared", 6));
	char *r = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, PG);
	pwrite(fd, "SH", 2, PG);
	yes_no("a read-only MAP_PRIVATE mapping of it sees later writes", r[0] == 'S');
	rule("ftruncate smaller under a MAP_SHARED mapping", ftruncate(fd, PG));
	rule("mremap of a MAP_SHARED /dev/shm mapping", mremap(b, 2 * PG, PG, 0) == MAP_FAILED ? -1 : 0);
	munmap(r, PG);
	munmap(b, 2 * PG);
	munmap(a, 2 * PG);
	rule("/dev/shm MAP_SHARED past the end of the file",
	       rc(mmap(NULL, 4 * PG, RW, MAP_SHARED, fd, 0)));
	ftruncate(fd, PG);
	ftruncate(fd, 3 * PG); /* grown from non-empty: the new pages are holes */
	rule("/dev/shm MAP_SHARED of a file grown with holes",
	       rc(mmap(NULL, 3 * PG, RW, MAP_SHARED, fd, 0)));
	close(fd);
	fd = shm_open(shmname, O_WRONLY, 0);
	rule("/dev/shm MAP_SHARED of a write-only descriptor",
	       rc(mmap(NULL, PG, PROT_WRITE, MAP_SHARED, fd, 0)));
	close(fd);
	shm_unlink(shmname);
}

/* Two mappings of 2 pages each that touch; *lo is the lower. Memory taken on
 * the way (to fill holes a first fit would use) is given back. */
static void adjacent_pair(char **lo)
{
	char *held[64];
	int n = 0;
	*lo = NULL;
	while (n < 64) {
		char *x = mmap(NULL, 2 * PG, RW, ANON, -1, 0);
		char *y = mmap(NULL, 2 * PG, RW, ANON, -1, 0);
		if (x + 2 * PG == y || y + 2 * PG == x) {
			*lo = x < y ? x : y;
			break;
		}
		held[n++] = x;
		munmap(y, 2 * PG);
	}
	while (n > 0)
		munmap(held[--n], 2 * PG);
}

static void munmap_rules(void)
{
	char *a = mmap(NULL, 4 * PG, RW, ANON, -1, 0);
	rule("munmap length 0", munmap(a, 0));
	rule("munmap of an unaligned address", munmap(a + 1, PG));
	rule("munmap of the middle of a mapping", munmap(a + PG, 2 * PG));
	a[0] = a[3 * PG] = 1;
	yes_no("both ends still usable", a[0] == 1 && a[3 * PG] == 1);
	rule("munmap of the hole again (unmapped memory)", munmap(a + PG, PG));
	rule("munmap of the head", munmap(a, PG));
	rule("munmap of the tail end", munmap(a + 3 * PG, PG));
	char *lo;
	adjacent_pair(&lo);
	rule("munmap across two adjacent mappings", lo ? munmap(lo, 4 * PG) : -1);
	if (lo) {
		munmap(lo, 2 * PG);
		munmap(lo + 2 * PG, 2 * PG);
	}
}

static long mremap_rc(void *p)
{
	return p == MAP_FAILED ? -1 : 0;
}

static void mremap_rules(void)
{
	char *a = mmap(NULL, 4 * PG, RW, ANON, -1, 0);
	yes_no("mremap shrinks in place", mremap(a, 4 * PG, 2 * PG, 0) == a);
	yes_no("mremap grows back in place", mremap(a, 2 * PG, 4 * PG, 0) == a);
	rule("mremap growing past its block (MREMAP_MAYMOVE)",
	       mremap_rc(mremap(a, 4 * PG, 64 * PG, MREMAP_MAYMOVE)));
	char *b = mmap(NULL, 4 * PG, RW, ANON, -1, 0);
	rule("mremap to length 0", mremap_rc(mremap(b, 4 * PG, 0, 0)));
	rule("mremap of an unaligned address", mremap_rc(mremap(b + 1, PG, PG, 0)));
	rule("mremap with old length 0", mremap_rc(mremap(b, 0, PG, 0)));
	rule("mremap of part of a mapping", mremap_rc(mremap(b, PG, PG, 0)));
	char *t = mmap(NULL, 4 * PG, RW, ANON, -1, 0);
	rule("mremap MREMAP_FIXED to another address",
	       mremap_rc(mremap(b, 4 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, t)));
	char *s = mmap(NULL, 2 * PG, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	rule("mremap of an anonymous MAP_SHARED mapping", mremap_rc(mremap(s, 2 * PG, PG, 0)));
}

static void brk_rules(void)
{
	uintptr_t start = syscall(SYS_brk, 0);
	yes_no("brk grows by a page", (uintptr_t)syscall(SYS_brk, start + PG) == start + PG);
	yes_no("brk below its start keeps the break", (uintptr_t)syscall(SYS_brk, start - PG) != start - PG);
	yes_no("brk back to its start", (uintptr_t)syscall(SYS_brk, start) == start);
}

static void mmu_only_rules(void)
{
	char *a = mmap(NULL, PG, RW, ANON, -1, 0);
	unsigned char vec[1];
	rule("mprotect", mprotect(a, PG, PROT_READ));
	mprotect(a, PG, RW);
	rule("madvise", madvise(a, PG, MADV_DONTNEED));
	rule("msync", msync(a, PG, MS_SYNC));
	rule("mlock", mlock(a, PG));
	rule("munlock", munlock(a, PG));
	rule("mlock2", syscall(SYS_mlock2, a, PG, 0));
	rule("munlock again", munlock(a, PG));
	rule("mlockall", mlockall(MCL_FUTURE));
	rule("munlockall", munlockall());
	rule("mincore", mincore(a, PG, vec));
	rule("pkey_mprotect", syscall(SYS_pkey_mprotect, a, PG, RW, -1));
	rule("remap_file_pages", syscall(SYS_remap_file_pages, a, PG, 0, 0, 0));
	rule("mseal", syscall(462, a, PG, 0));
	munmap(a, PG);
}

static void cat(const char *path)
{
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY);
	printf("== %s\n", path);
	while (fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0)
		fwrite(buf, 1, n, stdout);
	close(fd);
}

static void proc_views(void)
{
	int fd = shm_file(2 * PG), f = open_scratch(O_RDONLY);
	char *s = mmap(NULL, 2 * PG, RW, MAP_SHARED, fd, 0);
	char *c = mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE, f, 0);
	char *a = mmap(NULL, 4 * PG, RW, ANON, -1, 0);
	mremap(a, 4 * PG, PG, 0);
	s[0] = c[0] = a[0] = 1;
	cat("/proc/self/maps");
	cat("/proc/self/status");
	cat("/proc/meminfo");
	munmap(a, PG);
	munmap(c, 2 * PG);
	munmap(s, 2 * PG);
	close(f);
	close(fd);
	shm_unlink(shmname);
}

int main(int argc, char **argv)
{
	int proc = argc > 1 && !strcmp(argv[1], "--proc");
	const char *dir = argc > 1 + proc ? argv[1 + proc] : "tmp";
	snprintf(scratch, sizeof scratch, "%s/mmap_rules.%d", dir, (int)getpid());
	snprintf(shmname, sizeof shmname, "/mmap_rules.%d", (int)getpid());
	int fd = open(scratch, O_RDWR | O_CREAT | O_TRUNC, 0600);
	char data[FILE_BYTES];
	memset(data, 'f', sizeof data);
	if (fd < 0 || write(fd, data, sizeof data) != sizeof data) {
		printf("cannot write %s: %s\n", scratch, strerror(errno));
		return 1;
	}
	close(fd);
	setvbuf(stdout, NULL, _IONBF, 0);
	if (proc) {
		proc_views();
		unlink(scratch);
		return 0;
	}
	anonymous_rules();
	file_rules();
	device_rules();
	shm_rules();
	munmap_rules();
	mremap_rules();
	brk_rules();
	mmu_only_rules();
	unlink(scratch);
	return 0;
}
