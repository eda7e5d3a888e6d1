/*
 * shmlink - hard links and renames inside /dev/shm, and POSIX named
 * semaphores (sem_open), which musl builds on them: sem_open(O_CREAT)
 * creates a temporary file in /dev/shm and link()s it to the final name.
 *
 * Usage: shmlink                 run everything (the parent)
 *        shmlink child NAME      (started by the parent with vfork+execve:
 *                                 opens semaphore NAME and posts it twice)
 *        shmlink spawned NAME REPLY  (started with posix_spawn: waits on
 *                                 NAME, then posts REPLY)
 * Names carry the pid so that runs side by side do not meet; the output does
 * not show them. Exits 0 when every check passed.
 */
#include "guest.h"
#include <fcntl.h>
#include <semaphore.h>
#include <spawn.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static char a[64], b[64], c[64], d[64], disk[64], sem_name[64], reply_name[64];

static void names(void)
{
	int pid = getpid();
	snprintf(a, sizeof a, "/dev/shm/shmlink.%d.a", pid);
	snprintf(b, sizeof b, "/dev/shm/shmlink.%d.b", pid);
	snprintf(c, sizeof c, "/dev/shm/shmlink.%d.c", pid);
	snprintf(d, sizeof d, "/dev/shm/shmlink.%d.d", pid);
	snprintf(disk, sizeof disk, "tmp/shmlink.%d", pid); /* in the root: another fs */
	snprintf(sem_name, sizeof sem_name, "/shmlink.%d", pid);
	snprintf(reply_name, sizeof reply_name, "/shmlink.%d.reply", pid);
}

static void print_links(const char *what, const char *path)
{
	struct stat s;
	if (stat(path, &s) < 0)
		report(what, -1);
	else
		printf("%s: nlink %lu, size %lld\n", what, (unsigned long)s.st_nlink,
		       (long long)s.st_size);
}

static void hard_links(void)
{
	int fd = open(a, O_CREAT | O_EXCL | O_RDWR, 0600);
	report("create a", fd);
	report("write a", write(fd, "abc", 3));
	report("link a b", link(a, b));
	print_links("a after link", a);
	struct stat sa, sb;
	stat(a, &sa);
	stat(b, &sb);
	check("a and b are one file", sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev);
	report("link a b again", link(a, b));
	report("link missing c", link(c, d));
	report("link /dev/shm itself", link("/dev/shm", c));
	report("link a into the root", link(a, disk));
	int dfd = open(disk, O_CREAT | O_WRONLY, 0600);
	report("link a root file into /dev/shm", link(disk, c));
	close(dfd);
	unlink(disk);
	report("linkat a c", linkat(AT_FDCWD, a, AT_FDCWD, c, 0));
	print_links("b with three names", b);
	report("unlink a", unlink(a));
	print_links("b after unlinking a", b);
	char buf[8] = {0};
	int fb = open(b, O_RDONLY);
	report("read b", read(fb, buf, sizeof buf - 1));
	printf("b holds \"%s\"\n", buf);
	report("rename c d", rename(c, d));
	print_links("c after rename", c);
	print_links("d after rename", d);
	report("rename d b (same file)", rename(d, b));
	print_links("d still", d);
	report("rename d into the root", rename(d, disk));
	report("unlink b", unlink(b));
	report("unlink d", unlink(d));
	struct stat sf;
	fstat(fb, &sf);
	printf("open b after unlinking every name: nlink %lu\n", (unsigned long)sf.st_nlink);
	memset(buf, 0, sizeof buf);
	report("pread b", pread(fb, buf, sizeof buf - 1, 0));
	printf("b still holds \"%s\"\n", buf);
	close(fb);
}

static int child(const char *name)
{
	sem_t *s = sem_open(name, 0);
	if (s == SEM_FAILED)
		return 2;
	sem_post(s);
	sem_post(s);
	return sem_close(s) ? 3 : 0;
}

static int spawned(const char *name, const char *reply)
{
	sem_t *s = sem_open(name, 0), *r = sem_open(reply, 0);
	if (s == SEM_FAILED || r == SEM_FAILED)
		return 2;
	if (sem_wait(s))
		return 3;
	sem_post(r);
	return sem_close(s) || sem_close(r) ? 4 : 0;
}

static void semaphores(void)
{
	sem_t *s = sem_open(sem_name, O_CREAT | O_EXCL, 0600, 0);
	report("sem_open O_CREAT|O_EXCL", s == SEM_FAILED ? -1 : 0);
	if (s == SEM_FAILED)
		return;
	report("sem_open O_CREAT|O_EXCL again", sem_open(sem_name, O_CREAT | O_EXCL, 0600, 0) == SEM_FAILED ? -1 : 0);
	check("sem_open of the same name is the same semaphore", sem_open(sem_name, 0) == s);
	report("sem_open of a missing name", sem_open("/shmlink.none", 0) == SEM_FAILED ? -1 : 0);
	int v = -1;
	sem_getvalue(s, &v);
	printf("value at start: %d\n", v);
	report("sem_trywait at 0", sem_trywait(s));

	pid_t pid = vfork();
	if (pid == 0) {
		execl("./shmlink", "./shmlink", "child", sem_name, (char *)NULL);
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	print_wait_status("vfork+exec child", status);
	sem_getvalue(s, &v);
	printf("value after the child posted twice: %d\n", v);
	report("sem_wait", sem_wait(s));
	report("sem_wait", sem_wait(s));

	sem_t *r = sem_open(reply_name, O_CREAT | O_EXCL, 0600, 0);
	report("sem_open the reply semaphore", r == SEM_FAILED ? -1 : 0);
	char *argv[] = {"./shmlink", "spawned", sem_name, reply_name, NULL};
	int err = posix_spawn(&pid, "./shmlink", NULL, NULL, argv, environ);
	report_err("posix_spawn", err);
	report("sem_post for the spawned child", sem_post(s));
	report("sem_wait for its reply", sem_wait(r)); /* sleeps until the child posts */
	waitpid(pid, &status, 0);
	sem_close(r);
	sem_unlink(reply_name);
	print_wait_status("spawned child", status);
	sem_getvalue(s, &v);
	printf("value at the end: %d\n", v);

	report("sem_close", sem_close(s));
	report("sem_unlink", sem_unlink(sem_name));
	report("sem_unlink again", sem_unlink(sem_name));
	report("sem_open after unlink", sem_open(sem_name, 0) == SEM_FAILED ? -1 : 0);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "child") == 0)
		return child(argv[2]);
	if (argc == 4 && strcmp(argv[1], "spawned") == 0)
		return spawned(argv[2], argv[3]);
	setvbuf(stdout, NULL, _IONBF, 0);
	names();
	hard_links();
	semaphores();
	return guest_status();
}
