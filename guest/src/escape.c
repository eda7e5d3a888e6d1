/*
 * escape - try every way out of the guest root; each must fail as Linux
 * would fail it inside a chroot.
 *
 * Usage: escape HOST_SECRET HOST_DIR
 *   HOST_SECRET  the host path of a file outside the root (the canary)
 *   HOST_DIR     the host path of the directory holding it
 *
 * The program works in /tmp (which must exist) and tries: ".." chains,
 * absolute host paths, absolute and relative symlinks pointing outside
 * (creating them is allowed, following them must stay inside), symlink
 * loops (ELOOP), /proc/self/{root,cwd,fd/N,exe}, hard links, renameat2,
 * openat with a directory descriptor and "..", O_PATH and fchdir, mkdir,
 * unlink, rename, chmod, truncate, utimensat/utimes/utime, statfs and execve
 * through all of the above.
 * Each line is "route: ok" or "route: ENAME"; a result other than the one
 * Linux gives inside a chroot adds ", expected ENAME: no" and makes the exit
 * status 1. What a successful open reads is printed (so a test can check
 * the canary never shows up). Without /proc (a bare chroot) the /proc routes
 * are skipped.
 */
#include "guest.h"
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <utime.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif

static const char *secret, *outdir;

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

/* Prints up to 60 bytes of what fd reads (printable characters only). */
static void show(int fd)
{
	char buf[64];
	ssize_t n = read(fd, buf, 60);
	if (n < 0) {
		printf("  read: %s\n", errname(errno));
		return;
	}
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] < 32 || buf[i] > 126)
			buf[i] = '.';
	printf("  read: %.*s\n", (int)n, buf);
}

/* open(path, flags) expecting errno want; prints what it reads if it opened. */
static void try_open(const char *what, const char *path, int flags, int want)
{
	int fd = open(path, flags, 0644);
	expect(what, fd, want);
	if (fd >= 0) {
		show(fd);
		close(fd);
	}
}

/* openat(dirfd, path) expecting want, printing what it reads. */
static void try_openat(const char *what, int dirfd, const char *path, int flags, int want)
{
	int fd = openat(dirfd, path, flags, 0644);
	expect(what, fd, want);
	if (fd >= 0) {
		show(fd);
		close(fd);
	}
}

/* Checks that readlink(path) gives want. */
static void expect_link(const char *what, const char *path, const char *want)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof buf - 1);
	buf[n < 0 ? 0 : n] = 0;
	char line[PATH_MAX + 64];
	snprintf(line, sizeof line, "%s is %s", what, want);
	check(line, n >= 0 && strcmp(buf, want) == 0);
}

/* Checks that the current directory is want. */
static void expect_cwd(const char *what, const char *want)
{
	char buf[PATH_MAX];
	int ok = getcwd(buf, sizeof buf) && strcmp(buf, want) == 0;
	char line[128];
	snprintf(line, sizeof line, "%s: getcwd is %s", what, want);
	check(line, ok);
}

/* Whether a and b are the same file. */
static int same_file(const char *a, const char *b)
{
	struct stat x, y;
	return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_ino == y.st_ino &&
	       x.st_dev == y.st_dev;
}

static void dotdot_routes(void)
{
	struct stat st;
	try_open("open ../../outside/secret", "../../outside/secret", O_RDONLY, ENOENT);
	try_open("open /../outside/secret", "/../outside/secret", O_RDONLY, ENOENT);
	try_open("open /../../../../../../../../outside/secret",
		 "/../../../../../../../../outside/secret", O_RDONLY, ENOENT);
	try_open("open HOST_SECRET", secret, O_RDONLY, ENOENT);
	expect("stat HOST_SECRET", stat(secret, &st), ENOENT);
	expect("lstat ../outside/secret", lstat("../outside/secret", &st), ENOENT);
	expect("access ../../outside/secret", access("../../outside/secret", F_OK), ENOENT);
	expect("stat HOST_DIR", stat(outdir, &st), ENOENT);
	check("/.. is /", same_file("/..", "/"));
	check("/../../.. is /", same_file("/../../..", "/"));
	expect("chdir ../../..", chdir("../../.."), 0);
	expect_cwd("after chdir ../../..", "/");
	expect("chdir HOST_DIR", chdir(outdir), ENOENT);
	expect("chdir /tmp", chdir("/tmp"), 0);
}

static void symlink_routes(void)
{
	struct stat st;
	char deep[256] = "";
	for (int i = 0; i < 20; i++)
		strcat(deep, "../");
	strcat(deep, "etc/passwd");
	/* making links that point outside is allowed ... */
	expect("symlink HOST_SECRET abs", symlink(secret, "abs"), 0);
	expect("symlink HOST_DIR absdir", symlink(outdir, "absdir"), 0);
	expect("symlink ../../outside/secret rel", symlink("../../outside/secret", "rel"), 0);
	expect("symlink /etc/passwd pw", symlink("/etc/passwd", "pw"), 0);
	expect("symlink ../../../(x20)etc/passwd deep", symlink(deep, "deep"), 0);
	expect("symlink / rootlink", symlink("/", "rootlink"), 0);
	expect("symlink .. up", symlink("..", "up"), 0);
	expect_link("readlink abs", "abs", secret);
	/* ... following them lands inside the root */
	try_open("open abs", "abs", O_RDONLY, ENOENT);
	try_open("open rel", "rel", O_RDONLY, ENOENT);
	try_open("open absdir/secret", "absdir/secret", O_RDONLY, ENOENT);
	try_open("open pw (the root's /etc/passwd)", "pw", O_RDONLY, 0);
	try_open("open deep (the root's /etc/passwd)", "deep", O_RDONLY, 0);
	try_open("open rootlink/../outside/secret", "rootlink/../outside/secret", O_RDONLY, ENOENT);
	try_open("open up/up/up/../outside/secret", "up/up/up/../outside/secret", O_RDONLY, ENOENT);
	check("rootlink/.. is /", same_file("rootlink/..", "/"));
	expect("stat abs", stat("abs", &st), ENOENT);
	expect("lstat abs (the link itself)", lstat("abs", &st), 0);
	expect("chdir absdir", chdir("absdir"), ENOENT);
	expect("opendir absdir", opendir("absdir") ? 0 : -1, ENOENT);
	expect("mkdir absdir/x", mkdir("absdir/x", 0755), ENOENT);
	expect("chmod abs", chmod("abs", 0777), ENOENT);
	expect("truncate abs", truncate("abs", 0), ENOENT);
	try_open("open abs O_CREAT (creates the target inside)", "abs", O_WRONLY | O_CREAT, ENOENT);
	expect("symlink /made-through-link dangling", symlink("/made-through-link", "dangling"), 0);
	try_open("open dangling O_CREAT", "dangling", O_WRONLY | O_CREAT, 0);
	expect("stat /made-through-link", stat("/made-through-link", &st), 0);
	expect("chdir rootlink", chdir("rootlink"), 0);
	expect_cwd("after chdir rootlink", "/");
	expect("chdir /tmp/up/tmp", chdir("/tmp/up/tmp"), 0);
	expect_cwd("after chdir /tmp/up/tmp", "/tmp");
}

static void loop_routes(void)
{
	struct stat st;
	char name[16], target[16];
	expect("symlink loop1 -> loop2", symlink("loop2", "loop1"), 0);
	expect("symlink loop2 -> loop1", symlink("loop1", "loop2"), 0);
	expect("symlink self -> self", symlink("self", "self"), 0);
	try_open("open loop1", "loop1", O_RDONLY, ELOOP);
	try_open("open self", "self", O_RDONLY, ELOOP);
	expect("stat loop1", stat("loop1", &st), ELOOP);
	expect("chdir self", chdir("self"), ELOOP);
	expect("execve loop1", execve("loop1", (char *[]){"x", 0}, (char *[]){0}), ELOOP);
	try_open("open loop1 O_CREAT", "loop1", O_WRONLY | O_CREAT, ELOOP);
	try_open("open self/x", "self/x", O_RDONLY, ELOOP);
	/* a chain of 40 symlinks is followed, 41 is too many */
	expect("mkdir chain", mkdir("chain", 0755), 0);
	close(open("chain/end", O_WRONLY | O_CREAT, 0644));
	for (int i = 0; i < 41; i++) {
		snprintf(name, sizeof name, "chain/l%d", i);
		snprintf(target, sizeof target, i ? "l%d" : "end", i - 1);
		symlink(target, name);
	}
	try_open("open chain of 40 links", "chain/l39", O_RDONLY, 0);
	try_open("open chain of 41 links", "chain/l40", O_RDONLY, ELOOP);
}

static void change_routes(void)
{
	int fd = open("victim", O_WRONLY | O_CREAT, 0644);
	close(fd);
	expect("mkdir ../outside/newdir", mkdir("../outside/newdir", 0755), ENOENT);
	expect("mkdir /../../made-by-guest (inside)", mkdir("/../../made-by-guest", 0755), 0);
	expect("rmdir /../../made-by-guest", rmdir("/../../made-by-guest"), 0);
	expect("rmdir ../outside", rmdir("../outside"), ENOENT);
	expect("unlink ../../outside/secret", unlink("../../outside/secret"), ENOENT);
	expect("unlink HOST_SECRET", unlink(secret), ENOENT);
	expect("rename victim ../../outside/renamed",
	       rename("victim", "../../outside/renamed"), ENOENT);
	expect("rename HOST_SECRET stolen", rename(secret, "stolen"), ENOENT);
	expect("rename victim absdir/secret", rename("victim", "absdir/secret"), ENOENT);
	expect("chmod ../../outside/secret", chmod("../../outside/secret", 0777), ENOENT);
	expect("truncate HOST_SECRET", truncate(secret, 0), ENOENT);
	struct timespec t[2] = {{1, 0}, {1, 0}};
	expect("utimensat HOST_SECRET", utimensat(AT_FDCWD, secret, t, 0), ENOENT);
	expect("utimensat abs (follows it inside)", utimensat(AT_FDCWD, "abs", t, 0), ENOENT);
	expect("utimensat abs AT_SYMLINK_NOFOLLOW (the link itself)",
	       utimensat(AT_FDCWD, "abs", t, AT_SYMLINK_NOFOLLOW), 0);
	expect("utimes ../../outside/secret", utimes("../../outside/secret", NULL), ENOENT);
	expect("utime absdir/secret", utime("absdir/secret", NULL), ENOENT);
	struct statfs sf;
	expect("statfs HOST_DIR", statfs(outdir, &sf), ENOENT);
	expect("statfs absdir", statfs("absdir", &sf), ENOENT);
	expect("renameat2 NOREPLACE victim ../outside/secret",
	       syscall(SYS_renameat2, AT_FDCWD, "victim", AT_FDCWD, "../outside/secret",
		       RENAME_NOREPLACE), ENOENT);
	close(open("other", O_WRONLY | O_CREAT, 0644));
	expect("renameat2 NOREPLACE victim other",
	       syscall(SYS_renameat2, AT_FDCWD, "victim", AT_FDCWD, "other", RENAME_NOREPLACE),
	       EEXIST);
	expect("link ../../outside/secret hard", link("../../outside/secret", "hard"), ENOENT);
	expect("link HOST_SECRET hard", link(secret, "hard"), ENOENT);
	expect("link abs hard (the symlink itself)", link("abs", "hard"), 0);
	try_open("open hard", "hard", O_RDONLY, ENOENT);
	expect("linkat abs hard2 AT_SYMLINK_FOLLOW",
	       linkat(AT_FDCWD, "abs", AT_FDCWD, "hard2", AT_SYMLINK_FOLLOW), ENOENT);
	expect("link victim absdir/hard", link("victim", "absdir/hard"), ENOENT);
	expect("link victim /../victim-hard (inside)", link("victim", "/../victim-hard"), 0);
	expect("unlink /victim-hard", unlink("/victim-hard"), 0);
	expect("symlinkat ../../.. /tmp/up3", symlinkat("../../..", AT_FDCWD, "up3"), 0);
	try_open("open up3/outside/secret", "up3/outside/secret", O_RDONLY, ENOENT);
	expect("unlink abs (the link, not its target)", unlink("abs"), 0);
}

static void at_routes(void)
{
	struct stat st, root;
	int tmp = open("/tmp", O_RDONLY | O_DIRECTORY);
	expect("open /tmp O_DIRECTORY", tmp, 0);
	try_openat("openat tmp ../../outside/secret", tmp, "../../outside/secret", O_RDONLY, ENOENT);
	int top = openat(tmp, "../../../..", O_RDONLY | O_DIRECTORY);
	expect("openat tmp ../../../..", top, 0);
	stat("/", &root);
	check("openat tmp ../../../.. is /", top >= 0 && fstat(top, &st) == 0 &&
		  st.st_ino == root.st_ino && st.st_dev == root.st_dev);
	try_openat("openat / ../outside/secret", top, "../outside/secret", O_RDONLY, ENOENT);
	expect("fstatat tmp ../../outside", fstatat(tmp, "../../outside", &st, 0), ENOENT);
	expect("mkdirat tmp ../../outside/x", mkdirat(tmp, "../../outside/x", 0755), ENOENT);
	expect("unlinkat tmp ../../outside/secret", unlinkat(tmp, "../../outside/secret", 0),
	       ENOENT);
	expect("renameat tmp victim tmp ../../outside/secret",
	       renameat(tmp, "victim", tmp, "../../outside/secret"), ENOENT);
	int opath = open("/tmp", O_PATH | O_DIRECTORY);
	expect("open /tmp O_PATH", opath, 0);
	try_openat("openat O_PATH-dir ../../outside/secret", opath, "../../outside/secret",
		   O_RDONLY, ENOENT);
	try_open("open /../outside O_PATH", "/../outside", O_PATH, ENOENT);
	int lnk = open("pw", O_PATH | O_NOFOLLOW);
	expect("open pw O_PATH|O_NOFOLLOW (the link itself)", lnk, 0);
	check("fstat of it is a symlink", lnk >= 0 && fstat(lnk, &st) == 0 && S_ISLNK(st.st_mode));
	char c;
	expect("read from an O_PATH descriptor", read(lnk, &c, 1), EBADF);
	try_open("open pw O_NOFOLLOW", "pw", O_RDONLY | O_NOFOLLOW, ELOOP);
	expect("fchdir O_PATH /tmp", fchdir(opath), 0);
	expect_cwd("after fchdir", "/tmp");
	expect("fchdir tmp", fchdir(tmp), 0);
	expect("chdir ../../../../..", chdir("../../../../.."), 0);
	expect_cwd("after fchdir and chdir ../../../../..", "/");
	expect("chdir /tmp", chdir("/tmp"), 0);
	close(lnk);
	close(opath);
	close(top);
	close(tmp);
}

static void proc_routes(void)
{
	char path[64];
	expect_link("readlink /proc/self/root", "/proc/self/root", "/");
	try_open("open /proc/self/root/../outside/secret", "/proc/self/root/../outside/secret",
		 O_RDONLY, ENOENT);
	try_open("open /proc/self/root/../../etc/passwd", "/proc/self/root/../../etc/passwd",
		 O_RDONLY, 0);
	check("/proc/self/root/.. is /", same_file("/proc/self/root/..", "/"));
	expect_link("readlink /proc/self/cwd", "/proc/self/cwd", "/tmp");
	try_open("open /proc/self/cwd/../../outside/secret",
		 "/proc/self/cwd/../../outside/secret", O_RDONLY, ENOENT);
	expect_link("readlink /proc/self/exe", "/proc/self/exe", "/escape");
	try_open("open /proc/self/exe/..", "/proc/self/exe/..", O_RDONLY, ENOTDIR);
	int tmp = open("/tmp", O_RDONLY | O_DIRECTORY);
	snprintf(path, sizeof path, "/proc/self/fd/%d", tmp);
	expect_link("readlink /proc/self/fd/N (/tmp)", path, "/tmp");
	snprintf(path, sizeof path, "/proc/self/fd/%d/../../outside/secret", tmp);
	try_open("open /proc/self/fd/N/../../outside/secret", path, O_RDONLY, ENOENT);
	expect("chdir /proc/self/root", chdir("/proc/self/root"), 0);
	expect_cwd("after chdir /proc/self/root", "/");
	expect("chdir /tmp", chdir("/tmp"), 0);
	close(tmp);
}

static void exec_routes(void)
{
	char *argv[] = {"x", 0}, *envp[] = {0};
	expect("execve ../../outside/secret", execve("../../outside/secret", argv, envp), ENOENT);
	expect("execve HOST_SECRET", execve(secret, argv, envp), ENOENT);
	expect("execve absdir/secret", execve("absdir/secret", argv, envp), ENOENT);
}

/* Whether a directory listing of path names `name`. */
static int lists(const char *path, const char *name)
{
	DIR *d = opendir(path);
	int found = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		found |= strcmp(e->d_name, name) == 0;
	if (d)
		closedir(d);
	return found;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: escape HOST_SECRET HOST_DIR\n");
		return 2;
	}
	secret = argv[1];
	outdir = argv[2];
	setvbuf(stdout, NULL, _IONBF, 0);
	if (chdir("/tmp") < 0) {
		report("chdir /tmp", -1);
		return 2;
	}
	dotdot_routes();
	symlink_routes();
	loop_routes();
	change_routes();
	at_routes();
	if (access("/proc/self", F_OK) == 0)
		proc_routes();
	else
		printf("/proc routes: skipped (no /proc)\n");
	exec_routes();
	check("listing /.. does not name outside", !lists("/..", "outside"));
	return guest_status();
}
