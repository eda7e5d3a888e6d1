/*
 * inotify.c - inotify for changes the program makes itself: IN_CREATE,
 * IN_MODIFY (merged when repeated), IN_CLOSE_WRITE, IN_ATTRIB, IN_MOVED_FROM
 * and IN_MOVED_TO with one cookie, IN_DELETE, IN_ISDIR, a watch on a file
 * (IN_OPEN, IN_ACCESS, IN_CLOSE_NOWRITE, IN_DELETE_SELF, IN_IGNORED),
 * IN_ONESHOT, rm_watch, the errors, a blocking read woken by a thread, and
 * an inotify descriptor under epoll. Works in ./ino_test (made and removed).
 */
#include "guest.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
	unsigned bit;
	const char *name;
} names[] = {
	{ IN_ACCESS, "ACCESS" }, { IN_MODIFY, "MODIFY" }, { IN_ATTRIB, "ATTRIB" },
	{ IN_CLOSE_WRITE, "CLOSE_WRITE" }, { IN_CLOSE_NOWRITE, "CLOSE_NOWRITE" },
	{ IN_OPEN, "OPEN" }, { IN_MOVED_FROM, "MOVED_FROM" }, { IN_MOVED_TO, "MOVED_TO" },
	{ IN_CREATE, "CREATE" }, { IN_DELETE, "DELETE" }, { IN_DELETE_SELF, "DELETE_SELF" },
	{ IN_MOVE_SELF, "MOVE_SELF" }, { IN_IGNORED, "IGNORED" }, { IN_ISDIR, "ISDIR" },
	{ IN_Q_OVERFLOW, "Q_OVERFLOW" },
};

static unsigned last_cookie;

/* Reads what is queued (non-blocking fd) and prints one line per event. */
static void drain(const char *what, int fd)
{
	char buf[4096] __attribute__((aligned(8)));
	int n = read(fd, buf, sizeof buf);
	printf("%s:\n", what);
	if (n < 0) {
		printf("  %s\n", errname(errno));
		return;
	}
	for (char *p = buf; p < buf + n;) {
		struct inotify_event *e = (struct inotify_event *)p;
		printf("  wd %d", e->wd);
		for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
			if (e->mask & names[i].bit)
				printf(" %s", names[i].name);
		if (e->cookie) {
			printf(" cookie %s", e->cookie == last_cookie ? "same" : "new");
			last_cookie = e->cookie;
		}
		printf(" len %u name \"%s\"\n", e->len, e->len ? e->name : "");
		p += sizeof *e + e->len;
	}
}

static void touch(const char *path, const char *data)
{
	int f = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (data) {
		write(f, data, 1);
		write(f, data + 1, 1);
	}
	close(f);
}

static void *create_later(void *arg)
{
	struct timespec ts = { 0, 20000000 };
	nanosleep(&ts, 0);
	touch("ino_test/late", 0);
	return arg;
}

int main(void)
{
	int d, f, w, ep;
	char c, small[8];
	pthread_t th;
	struct epoll_event ev = { .events = EPOLLIN };

	setvbuf(stdout, 0, _IONBF, 0);
	mkdir("ino_test", 0755);
	d = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	w = inotify_add_watch(d, "ino_test", IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE |
					   IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF);
	printf("first wd: %d\n", w);
	drain("nothing yet", d);

	touch("ino_test/a", "xy");
	drain("create, write twice, close", d);
	chmod("ino_test/a", 0600);
	drain("chmod", d);
	rename("ino_test/a", "ino_test/b");
	drain("rename", d);
	mkdir("ino_test/sub", 0755);
	rmdir("ino_test/sub");
	drain("mkdir and rmdir", d);
	truncate("ino_test/b", 0);
	drain("truncate", d);

	f = inotify_init1(IN_NONBLOCK);
	printf("watch on the file: wd %d\n",
	       inotify_add_watch(f, "ino_test/b", IN_OPEN | IN_ACCESS | IN_CLOSE_NOWRITE |
							IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MODIFY));
	{
		int b = open("ino_test/b", O_RDWR);
		write(b, "z", 1);
		lseek(b, 0, SEEK_SET);
		read(b, &c, 1);
		close(b);
		b = open("ino_test/b", O_RDONLY);
		close(b);
	}
	drain("the file: open, write, read, close; open, close", f);
	drain("the directory meanwhile", d);
	unlink("ino_test/b");
	drain("unlink, the file's watch", f);
	drain("unlink, the directory's watch", d);
	close(f);

	printf("same inode, same wd: %d\n", inotify_add_watch(d, "ino_test", IN_CREATE) == w);
	report("IN_MASK_CREATE on a watched inode", inotify_add_watch(d, "ino_test", IN_CREATE | IN_MASK_CREATE));
	touch("ino_test/c", 0);
	report("IN_ONLYDIR on a file", inotify_add_watch(d, "ino_test/c", IN_MODIFY | IN_ONLYDIR));
	report("missing path", inotify_add_watch(d, "ino_test/nope", IN_MODIFY));
	report("not an inotify fd", inotify_add_watch(1, "ino_test", IN_MODIFY));
	report("rm_watch of a bad wd", inotify_rm_watch(d, 999));
	report("init1 bad flags", inotify_init1(1));
	drain("after the CREATE-only re-watch", d);

	printf("oneshot wd: %d\n", inotify_add_watch(d, "ino_test/c", IN_ATTRIB | IN_ONESHOT));
	chmod("ino_test/c", 0600);
	chmod("ino_test/c", 0644);
	drain("oneshot: one event, then IGNORED", d);
	touch("ino_test/e", 0);
	{
		int queued = -1;
		ioctl(d, FIONREAD, &queued);
		printf("FIONREAD: %d\n", queued);
	}
	report("read into a small buffer", read(d, small, sizeof small));
	drain("still queued", d);

	fcntl(d, F_SETFL, 0);
	pthread_create(&th, 0, create_later, 0);
	{
		char buf[256];
		int n = read(d, buf, sizeof buf);
		struct inotify_event *e = (struct inotify_event *)buf;
		printf("blocking read woken: %d bytes, name %s\n", n, e->name);
	}
	pthread_join(th, 0);

	fcntl(d, F_SETFL, O_NONBLOCK);
	ep = epoll_create1(0);
	epoll_ctl(ep, EPOLL_CTL_ADD, d, &ev);
	printf("epoll before: %d\n", epoll_wait(ep, &ev, 1, 0));
	touch("ino_test/f", 0);
	printf("epoll after a create: %d\n", epoll_wait(ep, &ev, 1, 0));
	drain("the create", d);
	close(ep);

	unlink("ino_test/c");
	unlink("ino_test/e");
	unlink("ino_test/f");
	unlink("ino_test/late");
	drain("unlinks", d);
	report("rm_watch", inotify_rm_watch(d, w));
	drain("rm_watch: IGNORED", d);
	w = inotify_add_watch(d, "ino_test", IN_DELETE_SELF);
	rmdir("ino_test");
	drain("rmdir of the watched directory", d);
	close(d);
	return guest_status();
}
