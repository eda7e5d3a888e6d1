/*
 * readonly - on a read-only root every change fails with EROFS, and
 * everything else still works.
 *
 * Usage: readonly FILE     (FILE: an existing regular file; /tmp must exist)
 * Run it on a read-only root (nommu --read-only). Every way to change the
 * root must fail with EROFS (or with the error Linux gives first: EEXIST,
 * ENOENT, EISDIR), and FILE must read back unchanged; reading, /dev/null,
 * pipes and /proc still work. Prints one line per call; exits 0 when every
 * result was the expected one.
 */
#include "guest.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#include <utime.h>

/* Checks that rc failed with errno want (want 0: that it succeeded). */
static void expect(const char *what, long rc, int want)
{
	int got = rc < 0 ? errno : 0;
	if (got == want) {
		printf("%s: %s\n", what, got ? errname(got) : "ok");
		return;
	}
	printf("%s: %s, expected %s: no\n", what, got ? errname(got) : "ok",
	       want ? errname(want) : "ok");
	guest_failures++;
}

static void changes(const char *file)
{
	expect("open FILE O_WRONLY", open(file, O_WRONLY), EROFS);
	expect("open FILE O_RDWR", open(file, O_RDWR), EROFS);
	expect("open FILE O_RDONLY|O_TRUNC", open(file, O_RDONLY | O_TRUNC), EROFS);
	expect("open FILE O_WRONLY|O_APPEND", open(file, O_WRONLY | O_APPEND), EROFS);
	expect("open /tmp/new O_CREAT", open("/tmp/new", O_WRONLY | O_CREAT, 0644), EROFS);
	expect("creat /tmp/new", creat("/tmp/new", 0644), EROFS);
	expect("open FILE O_CREAT|O_EXCL", open(file, O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	expect("open /missing/x O_CREAT", open("/missing/x", O_WRONLY | O_CREAT, 0644), ENOENT);
	expect("open /tmp O_WRONLY", open("/tmp", O_WRONLY), EISDIR);
	expect("mkdir /tmp/d", mkdir("/tmp/d", 0755), EROFS);
	expect("mkdir /tmp (exists)", mkdir("/tmp", 0755), EEXIST);
	expect("rmdir /tmp", rmdir("/tmp"), EROFS);
	expect("unlink FILE", unlink(file), EROFS);
	expect("unlink /missing", unlink("/missing"), ENOENT);
	expect("rename FILE /tmp/moved", rename(file, "/tmp/moved"), EROFS);
	expect("symlink FILE /tmp/link", symlink(file, "/tmp/link"), EROFS);
	expect("link FILE /tmp/hard", link(file, "/tmp/hard"), EROFS);
	expect("chmod FILE 0777", chmod(file, 0777), EROFS);
	expect("truncate FILE 0", truncate(file, 0), EROFS);
	expect("utimensat FILE", utimensat(AT_FDCWD, file, NULL, 0), EROFS);
	struct timespec omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
	expect("utimensat FILE, both UTIME_OMIT (nothing to do)", utimensat(AT_FDCWD, file, omit, 0), 0);
	expect("utimensat /missing", utimensat(AT_FDCWD, "/missing", NULL, 0), ENOENT);
	expect("utimes FILE", utimes(file, NULL), EROFS);
	expect("utime FILE", utime(file, NULL), EROFS);
	int fd = open(file, O_RDONLY | O_CREAT, 0644);
	expect("open FILE O_RDONLY|O_CREAT (exists: nothing to create)", fd, 0);
	expect("fchmod FILE", fchmod(fd, 0777), EROFS);
	expect("futimens FILE", futimens(fd, NULL), EROFS);
	expect("ftruncate of a read-only descriptor", ftruncate(fd, 0), EINVAL);
	close(fd);
}

static void still_works(const char *file)
{
	char buf[256];
	struct stat st;
	int p[2];
	int fd = open(file, O_RDONLY);
	expect("read FILE", fd >= 0 ? read(fd, buf, sizeof buf) : -1, 0);
	close(fd);
	expect("stat FILE", stat(file, &st), 0);
	fd = open("/dev/null", O_WRONLY);
	expect("write /dev/null", write(fd, "x", 1), 0);
	close(fd);
	expect("pipe", pipe(p), 0);
	expect("write to the pipe", write(p[1], "hi", 2), 0);
	expect("read from the pipe", read(p[0], buf, 2), 0);
	fd = open("/proc/self/status", O_RDONLY);
	expect("read /proc/self/status", fd >= 0 ? read(fd, buf, sizeof buf) : -1, 0);
	close(fd);
	expect("opendir /", open("/", O_RDONLY | O_DIRECTORY), 0);
	fd = open("/dev/shm/readonly", O_RDWR | O_CREAT, 0600);
	expect("create a /dev/shm file (another file system)", fd, 0);
	expect("futimens of the /dev/shm file", futimens(fd, NULL), 0);
	expect("utimensat of the /dev/shm file", utimensat(AT_FDCWD, "/dev/shm/readonly", NULL, 0), 0);
	expect("unlink the /dev/shm file", unlink("/dev/shm/readonly"), 0);
	close(fd);
	struct statvfs v;
	expect("statvfs /", statvfs("/", &v), 0);
	expect("statvfs / says ST_RDONLY", (v.f_flag & ST_RDONLY) ? 0 : -1, 0);
	fd = open(file, O_RDONLY);
	expect("fstatvfs FILE says ST_RDONLY", fstatvfs(fd, &v) == 0 && (v.f_flag & ST_RDONLY) ? 0 : -1, 0);
	close(fd);
	expect("statvfs /dev/shm", statvfs("/dev/shm", &v), 0);
	expect("/dev/shm is writable", (v.f_flag & ST_RDONLY) ? -1 : 0, 0);
	expect("chdir /tmp", chdir("/tmp"), 0);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: readonly FILE\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	changes(argv[1]);
	still_works(argv[1]);
	return guest_status();
}
