/*
 * locks - file locks between two processes: POSIX record locks (fcntl
 * F_SETLK, F_SETLKW, F_GETLK), OFD locks and flock(2).
 *
 * Usage: locks                          run everything (process A)
 *        locks helper FILE CMDFD REPLYFD  (process B, started by A with
 *                                        vfork+execve or posix_spawn)
 * Locks only conflict between different owners, so A starts B and sends it
 * requests down a pipe (one fixed-size message each); B answers each on a
 * second pipe. A prints what both saw. Pids are printed as "A", "B" or "-1",
 * so native and emulated runs compare. Exits 0 when every check passed.
 */
#include "guest.h"
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

struct request {
	char op; /* L: F_SETLK, W: F_SETLKW, G: F_GETLK, F: flock, X: exit */
	int type;
	long long start, len;
};
struct reply {
	int err;
	struct flock fl;
};

static char path[64];
static int fd, cmd_w, reply_r;
static pid_t helper = -1;

/* -- process B ----------------------------------------------------------- */

static void on_usr1(int sig)
{
}

static int helper_main(const char *file, int cmd, int rep)
{
	struct sigaction sa = {.sa_handler = on_usr1}; /* no SA_RESTART: F_SETLKW gets EINTR */
	sigaction(SIGUSR1, &sa, NULL);
	int f = open(file, O_RDWR);
	struct request rq;
	while (read(cmd, &rq, sizeof rq) == sizeof rq) {
		struct reply r = {0};
		r.fl = (struct flock){.l_type = rq.type, .l_whence = SEEK_SET, .l_start = rq.start, .l_len = rq.len};
		int rc = 0;
		if (rq.op == 'L')
			rc = fcntl(f, F_SETLK, &r.fl);
		else if (rq.op == 'W')
			rc = fcntl(f, F_SETLKW, &r.fl);
		else if (rq.op == 'G')
			rc = fcntl(f, F_GETLK, &r.fl);
		else if (rq.op == 'F')
			rc = flock(f, rq.type);
		else if (rq.op == 'X')
			return 0;
		r.err = rc < 0 ? errno : 0;
		write(rep, &r, sizeof r);
	}
	return 1;
}

/* -- process A ----------------------------------------------------------- */

static const char *who(pid_t pid)
{
	static char other[16];
	if (pid == getpid())
		return "A";
	if (pid == helper)
		return "B";
	snprintf(other, sizeof other, "%d", pid);
	return pid == -1 ? "-1" : other;
}

static const char *type_name(int type)
{
	return type == F_RDLCK ? "F_RDLCK" : type == F_WRLCK ? "F_WRLCK" : type == F_UNLCK ? "F_UNLCK" : "?";
}

static void print_flock(const char *what, const struct flock *fl)
{
	if (fl->l_type == F_UNLCK)
		printf("%s: F_UNLCK\n", what);
	else
		printf("%s: %s from %lld len %lld pid %s\n", what, type_name(fl->l_type),
		       (long long)fl->l_start, (long long)fl->l_len, who(fl->l_pid));
}

static void send(char op, int type, long long start, long long len)
{
	struct request rq = {op, type, start, len};
	write(cmd_w, &rq, sizeof rq);
}

static struct reply answer(void)
{
	struct reply r;
	if (read(reply_r, &r, sizeof r) != sizeof r)
		r.err = EPIPE;
	return r;
}

/* B: one request and its answer, printed. */
static void b(const char *what, char op, int type, long long start, long long len)
{
	send(op, type, start, len);
	struct reply r = answer();
	if (op == 'G' && !r.err)
		print_flock(what, &r.fl);
	else
		report_err(what, r.err);
}

/* Whether B has answered within ms milliseconds. */
static int b_answered(int ms)
{
	struct pollfd p = {reply_r, POLLIN, 0};
	return poll(&p, 1, ms) == 1;
}

static int a_lock(int f, int cmd, int type, int whence, long long start, long long len)
{
	struct flock fl = {.l_type = type, .l_whence = whence, .l_start = start, .l_len = len};
	return fcntl(f, cmd, &fl);
}

static void a(const char *what, int type, int whence, long long start, long long len)
{
	report(what, a_lock(fd, F_SETLK, type, whence, start, len));
}

static void a_getlk(const char *what, int f, int cmd, int type, long long start, long long len)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	if (fcntl(f, cmd, &fl) < 0)
		report(what, -1);
	else
		print_flock(what, &fl);
}

static void start_helper(int spawn)
{
	int cmd[2], rep[2];
	pipe(cmd);
	pipe(rep);
	char c[12], r[12];
	snprintf(c, sizeof c, "%d", cmd[0]);
	snprintf(r, sizeof r, "%d", rep[1]);
	char *argv[] = {"./locks", "helper", path, c, r, NULL};
	if (spawn) {
		int err = posix_spawn(&helper, "./locks", NULL, NULL, argv, environ);
		report_err("posix_spawn the helper", err);
	} else {
		helper = vfork();
		if (helper == 0) {
			execve("./locks", argv, environ);
			_exit(127);
		}
	}
	close(cmd[0]);
	close(rep[1]);
	cmd_w = cmd[1];
	reply_r = rep[0];
}

static void stop_helper(const char *what)
{
	send('X', 0, 0, 0);
	int status;
	waitpid(helper, &status, 0);
	print_wait_status(what, status);
	close(cmd_w);
	close(reply_r);
}

static void conflicts(void)
{
	a("A: write lock [0,10)", F_WRLCK, SEEK_SET, 0, 10);
	b("B: F_GETLK write [0,EOF)", 'G', F_WRLCK, 0, 0);
	b("B: F_SETLK write [5,6)", 'L', F_WRLCK, 5, 1);
	b("B: F_SETLK read [5,6)", 'L', F_RDLCK, 5, 1);
	b("B: F_SETLK read [20,25)", 'L', F_RDLCK, 20, 5);
	a_getlk("A: F_GETLK write [0,EOF)", fd, F_GETLK, F_WRLCK, 0, 0);
	a_getlk("A: F_GETLK read [20,25)", fd, F_GETLK, F_RDLCK, 20, 5);
	a("A: read lock [22,23) (shared with B's)", F_RDLCK, SEEK_SET, 22, 1);
	a("A: write lock [22,23)", F_WRLCK, SEEK_SET, 22, 1);
	a("A: upgrade its own [0,10) to a read lock", F_RDLCK, SEEK_SET, 0, 10);
	b("B: F_SETLK read [5,6) now", 'L', F_RDLCK, 5, 1);
	b("B: unlock everything", 'L', F_UNLCK, 0, 0);
	a("A: unlock everything", F_UNLCK, SEEK_SET, 0, 0);
	b("B: F_GETLK after both unlocked", 'G', F_WRLCK, 0, 0);
}

static void ranges(void)
{
	a("A: write lock [0,10)", F_WRLCK, SEEK_SET, 0, 10);
	a("A: unlock [3,5) (splits it)", F_UNLCK, SEEK_SET, 3, 2);
	b("B: F_GETLK write [0,EOF)", 'G', F_WRLCK, 0, 0);
	b("B: F_GETLK write [4,EOF)", 'G', F_WRLCK, 4, 0);
	b("B: F_SETLK write [3,5) (the hole)", 'L', F_WRLCK, 3, 2);
	b("B: F_SETLK write [2,3)", 'L', F_WRLCK, 2, 1);
	b("B: unlock", 'L', F_UNLCK, 3, 2);
	a("A: write lock [3,5) again (merges)", F_WRLCK, SEEK_SET, 3, 2);
	b("B: F_GETLK write [0,EOF) after the merge", 'G', F_WRLCK, 0, 0);
	a("A: read lock [4,6) (inside a write lock: splits it)", F_RDLCK, SEEK_SET, 4, 2);
	b("B: F_GETLK read [0,EOF)", 'G', F_RDLCK, 0, 0);
	b("B: F_GETLK read [6,EOF)", 'G', F_RDLCK, 6, 0);
	b("B: F_GETLK write [4,6)", 'G', F_WRLCK, 4, 2);
	a("A: unlock everything", F_UNLCK, SEEK_SET, 0, 0);

	lseek(fd, 50, SEEK_SET);
	a("A: SEEK_CUR (at 50) +0, 5 bytes", F_WRLCK, SEEK_CUR, 0, 5);
	b("B: F_GETLK write [40,EOF)", 'G', F_WRLCK, 40, 0);
	a("A: SEEK_END -10, to EOF", F_WRLCK, SEEK_END, -10, 0);
	b("B: F_GETLK write [60,EOF)", 'G', F_WRLCK, 60, 0);
	a("A: start 70, length -5", F_WRLCK, SEEK_SET, 70, -5);
	b("B: F_GETLK write [56,EOF)", 'G', F_WRLCK, 56, 0);
	a("A: start 2, length -5", F_WRLCK, SEEK_SET, 2, -5);
	a("A: SEEK_CUR -60", F_WRLCK, SEEK_CUR, -60, 1);
	a("A: l_whence 7", F_WRLCK, 7, 0, 1);
	a("A: l_type 9", 9, SEEK_SET, 0, 1);
	a("A: start past the largest offset", F_WRLCK, SEEK_END, 0x7fffffffffffffffLL, 1);
	a("A: unlock everything", F_UNLCK, SEEK_SET, 0, 0);
	b("B: F_GETLK after", 'G', F_WRLCK, 0, 0);
}

static void close_and_modes(void)
{
	a("A: write lock [0,10)", F_WRLCK, SEEK_SET, 0, 10);
	int other = open(path, O_RDONLY);
	close(other);
	b("B: F_GETLK after A closed ANOTHER descriptor of the file", 'G', F_WRLCK, 0, 0);
	int ro = open(path, O_RDONLY), wo = open(path, O_WRONLY);
	report("A: write lock on a read-only descriptor", a_lock(ro, F_SETLK, F_WRLCK, SEEK_SET, 0, 1));
	report("A: read lock on a write-only descriptor", a_lock(wo, F_SETLK, F_RDLCK, SEEK_SET, 0, 1));
	report("A: read lock on a read-only descriptor", a_lock(ro, F_SETLK, F_RDLCK, SEEK_SET, 0, 1));
	b("B: F_GETLK (A's lock through another descriptor)", 'G', F_WRLCK, 0, 0);
	int dup_fd = dup(ro);
	close(dup_fd);
	b("B: F_GETLK after A closed a dup", 'G', F_WRLCK, 0, 0);
	close(ro);
	close(wo);
	struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET};
	report("A: F_GETLK with l_type F_UNLCK", fcntl(fd, F_GETLK, &fl));
	/* the 32-bit struct flock of the old commands, and fcntl (not fcntl64) */
	struct {
		short type, whence;
		long start, len;
		int pid;
	} f32 = {F_WRLCK, SEEK_SET, 0, 4, 0};
	report("A: raw fcntl64 F_SETLK (struct flock)", syscall(SYS_fcntl64, fd, 6, &f32));
	b("B: F_GETLK", 'G', F_WRLCK, 0, 0);
	f32.type = F_WRLCK;
	send('L', F_WRLCK, 2, 1);
	report_err("B: F_SETLK write [2,3)", answer().err);
	struct {
		short type, whence;
		long start, len;
		int pid;
	} g32 = {F_RDLCK, SEEK_SET, 0, 0, 0};
	report("A: raw fcntl F_GETLK (struct flock)", syscall(SYS_fcntl, fd, 5, &g32));
	printf("A: it says %s\n", type_name(g32.type));
	struct flock f64 = {.l_type = F_UNLCK, .l_whence = SEEK_SET};
	report("A: raw fcntl F_SETLK64 (x86-64 runs fcntl as fcntl64)", syscall(SYS_fcntl, fd, F_SETLK64, &f64));
	report("A: raw fcntl F_SETLK (struct flock) unlock", syscall(SYS_fcntl, fd, 6, &(struct { short t, w; long s, l; int p; }){F_UNLCK, SEEK_SET, 0, 0, 0}));
	b("B: F_GETLK at the end", 'G', F_WRLCK, 0, 0);
}

static void waiting(void)
{
	a("A: write lock [0,1)", F_WRLCK, SEEK_SET, 0, 1);
	send('W', F_WRLCK, 0, 1);
	check("B: F_SETLKW [0,1) waits", !b_answered(100));
	a("A: unlock [0,1)", F_UNLCK, SEEK_SET, 0, 1);
	report_err("B: F_SETLKW [0,1) after A unlocked", answer().err);
	a_getlk("A: F_GETLK", fd, F_GETLK, F_WRLCK, 0, 0);

	/* deadlock: B holds [0,1) and waits for A's [10,11); A then asks for [0,1) */
	a("A: write lock [10,11)", F_WRLCK, SEEK_SET, 10, 1);
	send('W', F_WRLCK, 10, 1);
	check("B: F_SETLKW [10,11) waits", !b_answered(100));
	report("A: F_SETLKW [0,1), held by B who waits for A", a_lock(fd, F_SETLKW, F_WRLCK, SEEK_SET, 0, 1));
	a("A: unlock [10,11)", F_UNLCK, SEEK_SET, 10, 1);
	report_err("B: F_SETLKW [10,11)", answer().err);
	b("B: unlock everything", 'L', F_UNLCK, 0, 0);

	/* a signal interrupts F_SETLKW */
	a("A: write lock [0,1)", F_WRLCK, SEEK_SET, 0, 1);
	send('W', F_WRLCK, 0, 1);
	check("B: F_SETLKW [0,1) waits", !b_answered(100));
	kill(helper, SIGUSR1);
	report_err("B: F_SETLKW after a signal", answer().err);
	a("A: unlock everything", F_UNLCK, SEEK_SET, 0, 0);
}

static void ofd_locks(void)
{
	int fd2 = open(path, O_RDWR | O_CLOEXEC);
	report("A: OFD write lock [0,10) on one open file", a_lock(fd, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 10));
	report("A: OFD write lock [5,6) on another (same process)", a_lock(fd2, F_OFD_SETLK, F_WRLCK, SEEK_SET, 5, 1));
	a_getlk("A: F_OFD_GETLK on the other", fd2, F_OFD_GETLK, F_WRLCK, 0, 0);
	a_getlk("A: F_OFD_GETLK on the first", fd, F_OFD_GETLK, F_WRLCK, 0, 0);
	b("B: F_GETLK (POSIX) sees the OFD lock", 'G', F_WRLCK, 0, 0);
	b("B: F_SETLK read [0,1)", 'L', F_RDLCK, 0, 1);
	struct flock bad = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_pid = 1};
	report("A: F_OFD_SETLK with l_pid set", fcntl(fd2, F_OFD_SETLK, &bad));
	int fd3 = dup(fd);
	close(fd);
	b("B: F_GETLK after closing one of two descriptors", 'G', F_WRLCK, 0, 0);
	close(fd3);
	b("B: F_GETLK after closing the last", 'G', F_WRLCK, 0, 0);
	close(fd2);
	fd = open(path, O_RDWR | O_CLOEXEC);
}

static void flocks(void)
{
	report("A: flock LOCK_EX", flock(fd, LOCK_EX));
	b("B: flock LOCK_EX|LOCK_NB", 'F', LOCK_EX | LOCK_NB, 0, 0);
	b("B: flock LOCK_SH|LOCK_NB", 'F', LOCK_SH | LOCK_NB, 0, 0);
	b("B: fcntl write lock (another namespace)", 'L', F_WRLCK, 0, 0);
	b("B: unlock", 'L', F_UNLCK, 0, 0);
	int fd2 = open(path, O_RDONLY | O_CLOEXEC);
	report("A: flock LOCK_EX|LOCK_NB on another open file", flock(fd2, LOCK_EX | LOCK_NB));
	int fd3 = dup(fd);
	report("A: flock LOCK_EX on a dup (same open file)", flock(fd3, LOCK_EX | LOCK_NB));
	report("A: flock LOCK_UN", flock(fd, LOCK_UN));
	b("B: flock LOCK_SH|LOCK_NB", 'F', LOCK_SH | LOCK_NB, 0, 0);
	report("A: flock LOCK_SH|LOCK_NB (shared)", flock(fd2, LOCK_SH | LOCK_NB));
	report("A: flock LOCK_EX|LOCK_NB (B shares it)", flock(fd, LOCK_EX | LOCK_NB));
	send('F', LOCK_EX, 0, 0);
	check("B: flock LOCK_EX waits (A shares)", !b_answered(100));
	close(fd2);
	report_err("B: flock LOCK_EX after A closed its open file", answer().err);
	report("A: flock 0", flock(fd, 0));
	report("A: flock LOCK_SH|LOCK_EX", flock(fd, LOCK_SH | LOCK_EX));
	b("B: flock LOCK_UN", 'F', LOCK_UN, 0, 0);
	close(fd3);
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "helper") == 0)
		return helper_main(argv[2], atoi(argv[3]), atoi(argv[4]));
	setvbuf(stdout, NULL, _IONBF, 0);
	snprintf(path, sizeof path, "tmp/locks.%d", getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644); /* B opens its own */
	char data[100] = {0};
	write(fd, data, sizeof data);
	start_helper(0);
	conflicts();
	ranges();
	close_and_modes();
	waiting();
	ofd_locks();
	flocks();
	b("B: write lock [30,31)", 'L', F_WRLCK, 30, 1);
	stop_helper("B (vfork+execve)");
	a_getlk("A: F_GETLK after B exited", fd, F_GETLK, F_WRLCK, 0, 0);
	start_helper(1);
	a("A: write lock [0,EOF)", F_WRLCK, SEEK_SET, 0, 0);
	b("B (posix_spawn): F_GETLK", 'G', F_RDLCK, 50, 1);
	stop_helper("B (posix_spawn)");
	close(fd);
	unlink(path);
	return guest_status();
}
