/*
 * utimes - setting file times: utimensat (UTIME_NOW, UTIME_OMIT,
 * AT_SYMLINK_NOFOLLOW, relative to a directory descriptor, a NULL path =
 * futimens), utimensat_time64, futimesat, utimes and utime (the raw
 * syscalls), on a file of the root and on a /dev/shm file; and what each
 * shows in stat (seconds and nanoseconds).
 *
 * Usage: utimes     (the current directory must hold a writable tmp/)
 * "now" is checked against the clock read before and after, never printed.
 * Exits 0 when every check passed.
 */
#include "guest.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

static char file[64], dir_name[32], name_in_dir[32], link_name[64], shm[64];

/* struct timespec with a 32-bit time_t, as the old utimensat takes it */
struct ts32 {
	long sec, nsec;
};
struct tv32 {
	long sec, usec;
};

static void show(const char *what, const char *path, int follow)
{
	struct stat s;
	int rc = follow ? stat(path, &s) : lstat(path, &s);
	if (rc < 0) {
		report(what, -1);
		return;
	}
	printf("%s: atime %lld.%09ld mtime %lld.%09ld\n", what, (long long)s.st_atim.tv_sec,
	       s.st_atim.tv_nsec, (long long)s.st_mtim.tv_sec, s.st_mtim.tv_nsec);
}

static struct timespec now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return t;
}

/* Whether t lies between before and after (file times may lag the clock by a tick). */
static int between(struct timespec t, struct timespec before, struct timespec after)
{
	return t.tv_sec >= before.tv_sec - 1 && t.tv_sec <= after.tv_sec;
}

static long utimensat32(int dirfd, const char *path, const struct ts32 *t, int flags)
{
	return syscall(SYS_utimensat, dirfd, path, t, flags);
}

static void utimensat_calls(void)
{
	struct ts32 t[2] = {{1000000000, 123456789}, {1500000000, 987654321}};
	report("utimensat", utimensat32(AT_FDCWD, file, t, 0));
	show("after utimensat", file, 1);
	struct ts32 omit_a[2] = {{5, UTIME_OMIT}, {1600000000, 5}};
	report("utimensat atime UTIME_OMIT", utimensat32(AT_FDCWD, file, omit_a, 0));
	show("after omitting atime", file, 1);

	struct timespec before = now();
	struct ts32 now_m[2] = {{1200000000, 0}, {0, UTIME_NOW}};
	report("utimensat mtime UTIME_NOW", utimensat32(AT_FDCWD, file, now_m, 0));
	struct timespec after = now();
	struct stat s;
	stat(file, &s);
	printf("atime %lld.%09ld\n", (long long)s.st_atim.tv_sec, s.st_atim.tv_nsec);
	check("mtime is now", between(s.st_mtim, before, after));
	check("ctime is now", between(s.st_ctim, before, after));

	report("utimensat NULL times", utimensat32(AT_FDCWD, file, NULL, 0));
	after = now();
	stat(file, &s);
	check("both times are now", between(s.st_atim, before, after) && between(s.st_mtim, before, after));

	struct ts32 both_omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
	report("both UTIME_OMIT on a missing file", utimensat32(AT_FDCWD, "tmp/missing", both_omit, 0));
	report("utimensat on a missing file", utimensat32(AT_FDCWD, "tmp/missing", t, 0));
	struct ts32 bad[2] = {{0, 1000000000}, {0, 0}};
	report("tv_nsec 1000000000", utimensat32(AT_FDCWD, file, bad, 0));
	struct ts32 neg[2] = {{0, 0}, {0, -1}};
	report("tv_nsec -1", utimensat32(AT_FDCWD, file, neg, 0));
	report("bad tv_nsec on a missing file", utimensat32(AT_FDCWD, "tmp/missing", bad, 0));
	report("unknown flag", utimensat32(AT_FDCWD, file, t, 0x8000));
	report("AT_REMOVEDIR", utimensat32(AT_FDCWD, file, t, AT_REMOVEDIR));
	report("NULL path with AT_FDCWD", utimensat32(AT_FDCWD, NULL, t, 0));
}

static void symlinks_and_descriptors(void)
{
	struct ts32 t[2] = {{1100000000, 1}, {1100000000, 2}};
	struct ts32 l[2] = {{1300000000, 3}, {1300000000, 4}};
	report("symlink", symlink(file + 4, link_name)); /* relative: "utimes.N" in tmp/ */
	report("utimensat through the link", utimensat32(AT_FDCWD, link_name, t, 0));
	report("utimensat AT_SYMLINK_NOFOLLOW", utimensat32(AT_FDCWD, link_name, l, AT_SYMLINK_NOFOLLOW));
	show("the file", file, 1);
	show("the link itself", link_name, 0);

	int dfd = open(dir_name, O_RDONLY | O_DIRECTORY);
	struct ts32 d[2] = {{1400000000, 5}, {1400000000, 6}};
	report("utimensat relative to a directory fd", utimensat32(dfd, name_in_dir, d, 0));
	show("after the fd-relative call", file, 1);
	report("relative to a file fd", utimensat32(open(file, O_RDONLY), "x", d, 0));
	close(dfd);

	int fd = open(file, O_RDONLY);
	struct ts32 f[2] = {{1450000000, 7}, {1450000000, 8}};
	report("utimensat NULL path (futimens)", utimensat32(fd, NULL, f, 0));
	show("after futimens", file, 1);
	report("NULL path with AT_SYMLINK_NOFOLLOW", utimensat32(fd, NULL, f, AT_SYMLINK_NOFOLLOW));
	struct timespec g[2] = {{1460000000, 9}, {0, UTIME_OMIT}};
	report("libc futimens", futimens(fd, g));
	show("after libc futimens", file, 1);
	report("futimens of a closed descriptor", utimensat32(99, NULL, f, 0));
	int pfd = open(file, O_PATH);
	report("futimens of an O_PATH descriptor", utimensat32(pfd, NULL, f, 0));
	close(pfd);
	close(fd);
}

static void other_calls(void)
{
	long long t64[4] = {4102444800LL, 111, 4102444801LL, 222}; /* 2100-01-01 */
	report("utimensat_time64", syscall(SYS_utimensat_time64, AT_FDCWD, file, t64, 0));
	show("after utimensat_time64", file, 1);
	long long omit64[4] = {0, UTIME_OMIT, 1700000000, UTIME_NOW};
	report("utimensat_time64 OMIT and NOW", syscall(SYS_utimensat_time64, AT_FDCWD, file, omit64, 0));
	struct stat s;
	stat(file, &s);
	printf("atime still %lld.%09ld\n", (long long)s.st_atim.tv_sec, s.st_atim.tv_nsec);

	struct tv32 tv[2] = {{1234567890, 123456}, {1234567891, 654321}};
	report("utimes", syscall(SYS_utimes, file, tv));
	show("after utimes", file, 1);
	struct tv32 badtv[2] = {{0, 1000000}, {0, 0}};
	report("utimes tv_usec 1000000", syscall(SYS_utimes, file, badtv));
	report("utimes tv_usec 1000000 on a missing file", syscall(SYS_utimes, "tmp/missing", badtv));
	int dfd = open(dir_name, O_RDONLY | O_DIRECTORY);
	struct tv32 tv2[2] = {{1234000000, 1}, {1234000000, 2}};
	report("futimesat", syscall(SYS_futimesat, dfd, name_in_dir, tv2));
	show("after futimesat", file, 1);
	int fd = open(file, O_RDONLY);
	report("futimesat NULL path", syscall(SYS_futimesat, fd, NULL, tv));
	show("after futimesat on a descriptor", file, 1);
	close(fd);
	close(dfd);
	long ub[2] = {1111111111, 1222222222};
	report("utime", syscall(SYS_utime, file, ub));
	show("after utime", file, 1);
	struct timespec before = now();
	report("utime NULL", syscall(SYS_utime, file, NULL));
	stat(file, &s);
	check("utime NULL sets now", between(s.st_mtim, before, now()));
	struct utimbuf lib = {1300000000, 1300000001};
	report("libc utime", utime(file, &lib));
	show("after libc utime", file, 1);
	struct timeval ltv[2] = {{1310000000, 5}, {1310000000, 6}};
	report("libc utimes", utimes(file, ltv));
	show("after libc utimes", file, 1);
}

static void shm_file(void)
{
	int fd = open(shm, O_CREAT | O_RDWR, 0600);
	report("create a /dev/shm file", fd);
	struct ts32 t[2] = {{1000000000, 11}, {1000000001, 22}};
	report("utimensat on it", utimensat32(AT_FDCWD, shm, t, 0));
	show("the /dev/shm file", shm, 1);
	struct ts32 o[2] = {{1, UTIME_OMIT}, {1000000002, 33}};
	report("futimens on it", utimensat32(fd, NULL, o, 0));
	show("after futimens", shm, 1);
	struct timespec before = now();
	report("write to it", write(fd, "x", 1));
	struct stat s;
	fstat(fd, &s);
	check("a write sets mtime to now", between(s.st_mtim, before, now()));
	unlink(shm);
	close(fd);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	int pid = getpid();
	snprintf(file, sizeof file, "tmp/utimes.%d", pid);
	snprintf(dir_name, sizeof dir_name, "tmp");
	snprintf(name_in_dir, sizeof name_in_dir, "utimes.%d", pid);
	snprintf(link_name, sizeof link_name, "tmp/utimes.%d.link", pid);
	snprintf(shm, sizeof shm, "/dev/shm/utimes.%d", pid);
	int fd = open(file, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	report("create", fd);
	close(fd);
	utimensat_calls();
	symlinks_and_descriptors();
	other_calls();
	shm_file();
	unlink(link_name);
	unlink(file);
	return guest_status();
}
