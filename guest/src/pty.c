/*
 * pty.c - pseudo-terminals: a program plays the terminal on the master side.
 *
 * Usage: pty basics|cooked|raw|signals|hangup|jobs|shell|ctty|bulk|packet
 *   basics   posix_openpt, grantpt, unlockpt, ptsname; the slave is locked
 *            (EIO) until unlockpt; isatty/ttyname on both ends; the slave's
 *            default termios; closing the slave makes the master read EIO
 *   cooked   canonical input typed on the master, read on the slave: echo,
 *            erase, kill, word erase, ^D, CR to NL, ^X echo, output NL to CRNL
 *   raw      cfmakeraw on the slave, and the VMIN/VTIME rules
 *   signals  a child session on the slave (setsid + TIOCSCTTY): ^C, ^\, ^Z
 *            and a window size change signal its foreground group; ^C kills
 *            it once it takes the default action
 *   hangup   the master closes: the session leader gets SIGHUP, the slave
 *            reads end of file and writes fail with EIO
 *   jobs     job control: a background group reading the terminal stops
 *            with SIGTTIN (EIO when it ignores it), writing with TOSTOP
 *            stops with SIGTTOU; tcsetpgrp brings a group to the foreground;
 *            a stopped group that its leader's exit orphans gets SIGHUP
 *   shell    the bundled shell on the slave, commands typed on the master
 *   bulk     100000 bytes each way through a raw pty, with another process
 *            (clone) on the slave: both sides wait for room and for data
 *   packet   TIOCPKT: the master reads a status byte before data, or alone
 *            when the slave's output stops or starts or its queues flush
 *   ctty     the controlling terminal: taken by opening it (not O_NOCTTY),
 *            given up with TIOCNOTTY, not stolen by another session, opened
 *            as /dev/tty; the session leader's exit hangs up its foreground
 * (The modes "child-*" are the programs the tests run on the slave.)
 *
 * The master's side is printed with control characters spelled out (\r,
 * \n, \b, ^X), only once the text a step expects has arrived, so output is
 * the same natively (where the pty is the host's) and under nommu.
 */
#include "guest.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

extern char **environ;

static char pending[8192];
static size_t npending;

/* Prints bytes with control characters made visible. */
static void show(const char *label, const char *s, size_t n)
{
	printf("%s \"", label);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (c == '\r')
			printf("\\r");
		else if (c == '\n')
			printf("\\n");
		else if (c == '\b')
			printf("\\b");
		else if (c < 0x20 || c == 0x7f)
			printf("<%02x>", c);
		else
			putchar(c);
	}
	printf("\"\n");
}

/* Reads the master until `text` has arrived (2 s at most); prints what came
 * up to and including it, and keeps the rest for the next call. */
static int expect(int fd, const char *text)
{
	for (;;) {
		pending[npending] = 0;
		char *at = memmem(pending, npending, text, strlen(text));
		if (at) {
			size_t n = at - pending + strlen(text);
			show("master read", pending, n);
			memmove(pending, pending + n, npending - n);
			npending -= n;
			return 1;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 5000) <= 0) {
			show("timeout waiting; got", pending, npending);
			return 0;
		}
		ssize_t r = read(fd, pending + npending, sizeof pending - 1 - npending);
		if (r <= 0) {
			printf("master read: %s\n", r < 0 ? errname(errno) : "end of file");
			show("before that", pending, npending);
			return 0;
		}
		npending += r;
	}
}

static void type(int master, const char *s)
{
	write(master, s, strlen(s));
}

/* Reads the slave once and prints what the read returned. */
static void slave_read(int slave, size_t count)
{
	char buf[256];
	ssize_t n = read(slave, buf, count);
	if (n < 0)
		printf("slave read: %s\n", errname(errno));
	else
		show("slave read", buf, n);
}

static int open_pair(int *slave)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || grantpt(master) || unlockpt(master)) {
		report("posix_openpt", -1);
		exit(1);
	}
	*slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	if (*slave < 0) {
		report("open slave", -1);
		exit(1);
	}
	return master;
}

/* Starts argv[0] (a path) on the slave as the leader of a new session
 * whose controlling terminal the slave is, with extra_fd (if >= 0) as its
 * descriptor 3; returns its pid. */
static pid_t start_on_slave(int master, int slave, char *const argv[], int extra_fd)
{
	fflush(stdout);
	pid_t pid = vfork();
	if (pid == 0) {
		setsid();
		if (ioctl(slave, TIOCSCTTY, 0) < 0)
			_exit(120);
		close(master);
		dup2(slave, 0);
		dup2(slave, 1);
		dup2(slave, 2);
		if (extra_fd >= 0)
			dup2(extra_fd, 3);
		execve(argv[0], argv, environ);
		_exit(127);
	}
	return pid;
}

/* ---- basics ---- */

static int basics(void)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY);
	report("posix_openpt", master);
	report("grantpt", grantpt(master));
	char *name = ptsname(master);
	check("ptsname is /dev/pts/N", name && strncmp(name, "/dev/pts/", 9) == 0);
	char path[64];
	snprintf(path, sizeof path, "%s", name);
	report("open slave while locked", open(path, O_RDWR | O_NOCTTY));
	int lock = -1;
	report("TIOCGPTLCK", ioctl(master, TIOCGPTLCK, &lock));
	printf("locked: %d\n", lock);
	report("unlockpt", unlockpt(master));
	int slave = open(path, O_RDWR | O_NOCTTY);
	report("open slave", slave);
	unsigned n = 99;
	ioctl(master, TIOCGPTN, &n);
	char expected[64];
	snprintf(expected, sizeof expected, "/dev/pts/%u", n);
	check("TIOCGPTN agrees with ptsname", strcmp(expected, path) == 0);
	check("isatty(master)", isatty(master));
	check("isatty(slave)", isatty(slave));
	char *tn = ttyname(slave);
	check("ttyname(slave) is ptsname", tn && strcmp(tn, path) == 0);
	tn = ttyname(master);
	printf("ttyname(master): %s\n", tn ? tn : errname(errno));
	struct stat st;
	fstat(slave, &st);
	check("slave is a character device 136:N",
	      S_ISCHR(st.st_mode) && major(st.st_rdev) == 136 && minor(st.st_rdev) == n);
	struct stat st2;
	stat(path, &st2);
	check("stat and fstat agree", st.st_ino == st2.st_ino && st.st_dev == st2.st_dev);
	struct termios tio;
	report("tcgetattr(slave)", tcgetattr(slave, &tio));
	printf("iflag %#o oflag %#o cflag %#o lflag %#o\n", tio.c_iflag, tio.c_oflag, tio.c_cflag,
	       tio.c_lflag);
	printf("cc:");
	for (int i = 0; i < 17; i++)
		printf(" %d", tio.c_cc[i]);
	printf("\n");
	struct termios mt;
	tcgetattr(master, &mt);
	check("the master reports the slave's settings", memcmp(&mt, &tio, sizeof mt) == 0);
	struct winsize ws = { 0 };
	report("TIOCGWINSZ", ioctl(slave, TIOCGWINSZ, &ws));
	printf("winsize %d x %d\n", ws.ws_row, ws.ws_col);
	printf("tcgetpgrp(slave) without a session: %s\n",
	       tcgetpgrp(slave) < 0 ? errname(errno) : "a group");
	report("ioctl TIOCGPTN on the slave", ioctl(slave, TIOCGPTN, &n));
	int peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	report("TIOCGPTPEER", peer);
	tn = ttyname(peer);
	check("TIOCGPTPEER opened the slave", tn && strcmp(tn, path) == 0);
	close(peer);
	int fd = open("/dev/null", O_RDONLY);
	printf("isatty(/dev/null): %d (%s)\n", isatty(fd), errname(errno));
	close(fd);

	write(slave, "out\n", 4);
	close(slave);
	expect(master, "out\r\n");
	char c;
	ssize_t r = read(master, &c, 1);
	printf("master read after the slave closed: %zd %s\n", r, errname(errno));
	struct pollfd p = { .fd = master, .events = POLLIN | POLLOUT };
	poll(&p, 1, 0);
	printf("master poll: POLLIN %d POLLOUT %d POLLHUP %d\n", !!(p.revents & POLLIN),
	       !!(p.revents & POLLOUT), !!(p.revents & POLLHUP));
	slave = open(path, O_RDWR | O_NOCTTY);
	report("slave opened again", slave);
	close(slave);
	close(master);
	return guest_status();
}

/* ---- cooked ---- */

static int cooked(void)
{
	int slave, master = open_pair(&slave);
	type(master, "hello\n");
	slave_read(slave, 100);
	expect(master, "\r\n");
	type(master, "ab\x7f" "c\n");
	slave_read(slave, 100);
	expect(master, "\r\n");
	type(master, "xyz\x15ok\n");
	slave_read(slave, 100);
	expect(master, "\r\n");
	type(master, "one two\x17three\n");
	slave_read(slave, 100);
	expect(master, "\r\n");
	type(master, "\x7fq\x01\x7f\x02z\n");
	slave_read(slave, 100);
	expect(master, "\r\n");
	type(master, "cr\r");
	slave_read(slave, 100);
	expect(master, "\r\n");
	type(master, "longline\n");
	slave_read(slave, 4);
	int avail = -1;
	ioctl(slave, FIONREAD, &avail);
	printf("FIONREAD: %d\n", avail);
	slave_read(slave, 100);
	expect(master, "\r\n");
	type(master, "abc\x04");
	slave_read(slave, 100);
	expect(master, "abc");
	type(master, "\x04");
	slave_read(slave, 100);
	struct pollfd p = { .fd = slave, .events = POLLIN };
	printf("slave poll with a half line: %d\n", poll(&p, 1, 0));
	type(master, "half");
	printf("slave poll with a half line: %d\n", poll(&p, 1, 100));
	type(master, "\n");
	printf("slave poll with a whole line: %d\n", poll(&p, 1, 2000));
	slave_read(slave, 100);
	expect(master, "half\r\n");
	write(slave, "line1\nline2\n", 12);
	expect(master, "line2\r\n");
	struct termios tio;
	tcgetattr(slave, &tio);
	tio.c_lflag &= ~ECHO;
	tcsetattr(slave, TCSANOW, &tio);
	type(master, "secret\n");
	slave_read(slave, 100);
	write(slave, "after\n", 6);
	expect(master, "after\r\n");
	tio.c_lflag |= ECHO;
	tio.c_lflag &= ~ECHOCTL;
	tcsetattr(slave, TCSANOW, &tio);
	type(master, "a\x01" "b\n");
	slave_read(slave, 100);
	expect(master, "\r\n");
	tio.c_oflag &= ~ONLCR;
	tcsetattr(slave, TCSANOW, &tio);
	write(slave, "bare\n", 5);
	expect(master, "bare\n");

	type(master, "pending\n");
	poll(&p, 1, 2000);
	expect(master, "pending\n");
	report("tcflush(slave, TCIFLUSH)", tcflush(slave, TCIFLUSH));
	ioctl(slave, FIONREAD, &avail);
	printf("slave FIONREAD after the flush: %d\n", avail);
	write(slave, "unread", 6);
	struct pollfd mp = { .fd = master, .events = POLLIN };
	poll(&mp, 1, 2000);
	report("tcflush(master, TCIFLUSH)", tcflush(master, TCIFLUSH));
	ioctl(master, FIONREAD, &avail);
	printf("master FIONREAD after the flush: %d\n", avail);
	report("tcdrain", tcdrain(slave));
	report("tcflush(slave, 7)", tcflush(slave, 7));
	return guest_status();
}

/* ---- raw ---- */

static int raw(void)
{
	int slave, master = open_pair(&slave);
	struct termios tio;
	tcgetattr(slave, &tio);
	cfmakeraw(&tio);
	tcsetattr(slave, TCSANOW, &tio);
	tcgetattr(slave, &tio);
	printf("raw: iflag %#o oflag %#o lflag %#o VMIN %d VTIME %d\n", tio.c_iflag, tio.c_oflag,
	       tio.c_lflag, tio.c_cc[VMIN], tio.c_cc[VTIME]);
	type(master, "a\rb\x03\x7f");
	char buf[64];
	size_t got = 0;
	while (got < 5) {
		ssize_t n = read(slave, buf + got, sizeof buf - got);
		if (n <= 0)
			break;
		got += n;
	}
	show("slave read", buf, got);
	struct pollfd p = { .fd = master, .events = POLLIN };
	printf("master has echo: %d\n", poll(&p, 1, 200));
	write(slave, "x\ny", 3);
	expect(master, "y");

	tio.c_cc[VMIN] = 0;
	tio.c_cc[VTIME] = 0;
	tcsetattr(slave, TCSANOW, &tio);
	printf("VMIN 0 VTIME 0, nothing typed: %zd\n", read(slave, buf, sizeof buf));
	tio.c_cc[VTIME] = 2;
	tcsetattr(slave, TCSANOW, &tio);
	printf("VMIN 0 VTIME 2, nothing typed: %zd\n", read(slave, buf, sizeof buf));
	type(master, "q");
	printf("VMIN 0 VTIME 2, one byte typed: %zd\n", read(slave, buf, sizeof buf));
	tio.c_cc[VMIN] = 3;
	tio.c_cc[VTIME] = 0;
	tcsetattr(slave, TCSANOW, &tio);
	type(master, "xyz");
	printf("VMIN 3 VTIME 0, three typed: %zd\n", read(slave, buf, sizeof buf));
	tio.c_cc[VMIN] = 5;
	tio.c_cc[VTIME] = 1;
	tcsetattr(slave, TCSANOW, &tio);
	type(master, "12");
	printf("VMIN 5 VTIME 1, two typed: %zd\n", read(slave, buf, sizeof buf));
	fcntl(slave, F_SETFL, O_NONBLOCK);
	ssize_t n = read(slave, buf, sizeof buf);
	printf("non-blocking read of nothing: %zd %s\n", n, errname(errno));
	return guest_status();
}

/* Waits until process `pid` sleeps (in the read it makes after "ready"). */
static void wait_sleeping(pid_t pid)
{
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 200; i++) {
		int fd = open(path, O_RDONLY);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
		close(fd);
		buf[n > 0 ? n : 0] = 0;
		char *end = strrchr(buf, ')');
		if (end && end[1] == ' ' && end[2] == 'S')
			return;
		usleep(10000);
	}
	printf("the child never slept\n");
}

/* ---- a program on the slave (children of the modes below) ---- */

static volatile sig_atomic_t got[65];

static void note(int sig)
{
	got[sig] = 1;
}

static void say(const char *s)
{
	write(1, s, strlen(s));
}

/* Reports the signals that came, on the terminal. */
static void report_signals(void)
{
	static const int sigs[] = { SIGINT, SIGQUIT, SIGTSTP, SIGWINCH, SIGHUP, SIGCONT };
	static const char *names[] = { "SIGINT", "SIGQUIT", "SIGTSTP", "SIGWINCH", "SIGHUP", "SIGCONT" };
	for (int i = 0; i < 6; i++)
		if (got[sigs[i]]) {
			got[sigs[i]] = 0;
			say("got ");
			say(names[i]);
			say("\n");
		}
}

static int child_signals(void)
{
	struct sigaction sa = { .sa_handler = note };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGTSTP, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	struct termios tio;
	tcgetattr(0, &tio);
	tio.c_lflag &= ~ECHO;
	tcsetattr(0, TCSANOW, &tio);
	say(tcgetpgrp(0) == getpgrp() ? "foreground\n" : "background\n");
	say(tcgetsid(0) == getpid() ? "session leader\n" : "not the leader\n");
	say("ready\n");
	char line[128];
	for (;;) {
		ssize_t n = read(0, line, sizeof line - 1);
		if (n < 0 && errno == EINTR) {
			report_signals();
			say("ready\n");
			continue;
		}
		if (n <= 0)
			return 3;
		line[n] = 0;
		if (strcmp(line, "size\n") == 0) {
			struct winsize ws;
			char out[64];
			ioctl(0, TIOCGWINSZ, &ws);
			snprintf(out, sizeof out, "size %d x %d\n", ws.ws_row, ws.ws_col);
			say(out);
		} else if (strcmp(line, "default\n") == 0) {
			signal(SIGINT, SIG_DFL);
			say("default\n");
		} else {
			say("line ");
			say(line);
		}
	}
}

static int signals(void)
{
	int slave, master = open_pair(&slave);
	pid_t pid = start_on_slave(master, slave, (char *[]){ "./pty", "child-signals", NULL }, -1);
	close(slave);
	expect(master, "ready\r\n");
	check("the child's group is the foreground", tcgetpgrp(master) == pid);
	wait_sleeping(pid);
	type(master, "\x03");
	expect(master, "ready\r\n");
	wait_sleeping(pid);
	type(master, "\x1c");
	expect(master, "ready\r\n");
	wait_sleeping(pid);
	type(master, "\x1a");
	expect(master, "ready\r\n");
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };
	wait_sleeping(pid);
	ioctl(master, TIOCSWINSZ, &ws);
	expect(master, "ready\r\n");
	ioctl(master, TIOCSWINSZ, &ws); /* the same size again: no signal */
	type(master, "size\n");
	expect(master, "size 24 x 80\r\n");
	wait_sleeping(pid);
	type(master, "typed then interrupted\x03");
	expect(master, "ready\r\n");
	type(master, "default\n");
	expect(master, "default\r\n");
	type(master, "\x03");
	int status;
	waitpid(pid, &status, 0);
	print_wait_status("child", status);
	return guest_status();
}

/* ---- hangup ---- */

static int child_hangup(void)
{
	struct sigaction sa = { .sa_handler = note };
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCONT, &sa, NULL);
	say("ready\n");
	char c;
	ssize_t n = read(0, &c, 1);
	dprintf(3, "read: %zd %s\n", n, n < 0 ? errname(errno) : "");
	dprintf(3, "SIGHUP: %d SIGCONT: %d\n", got[SIGHUP], got[SIGCONT]);
	n = read(0, &c, 1);
	dprintf(3, "read again: %zd\n", n);
	n = write(1, "x", 1);
	dprintf(3, "write: %zd %s\n", n, n < 0 ? errname(errno) : "");
	struct termios tio;
	dprintf(3, "tcgetattr: %s\n", tcgetattr(0, &tio) < 0 ? errname(errno) : "ok");
	dprintf(3, "isatty: %d\n", isatty(0));
	dprintf(3, "controlling terminal: %s\n", open("/dev/tty", O_RDWR) < 0 ? "none" : "yes");
	struct pollfd p = { .fd = 0, .events = POLLIN | POLLOUT };
	poll(&p, 1, 0);
	dprintf(3, "poll: IN %d OUT %d ERR %d HUP %d\n", !!(p.revents & POLLIN),
		!!(p.revents & POLLOUT), !!(p.revents & POLLERR), !!(p.revents & POLLHUP));
	return 0;
}

static int hangup(void)
{
	int slave, master = open_pair(&slave);
	int report_pipe[2];
	pipe(report_pipe);
	pid_t pid = start_on_slave(master, slave, (char *[]){ "./pty", "child-hangup", NULL },
				   report_pipe[1]);
	close(report_pipe[1]);
	expect(master, "ready\r\n");
	wait_sleeping(pid);
	close(master);
	int status;
	waitpid(pid, &status, 0);
	char buf[512];
	ssize_t n;
	while ((n = read(report_pipe[0], buf, sizeof buf)) > 0)
		fwrite(buf, 1, n, stdout);
	print_wait_status("child", status);
	char c;
	n = read(slave, &c, 1);
	printf("our own slave descriptor reads %zd\n", n);
	n = write(slave, "x", 1);
	printf("and writes %zd %s\n", n, errname(errno));
	return guest_status();
}

/* ---- jobs ---- */

static int child_bg_read(void)
{
	char buf[64];
	ssize_t n = read(0, buf, sizeof buf - 1);
	if (n < 0) {
		dprintf(2, "background read: %s\n", errname(errno));
		return 1;
	}
	buf[n] = 0;
	dprintf(1, "read %s", buf);
	return 0;
}

static int child_bg_write(void)
{
	say("written from the background\n");
	return 0;
}

/* Starts `./pty MODE` as a job: a process group of its own, in the
 * foreground if asked (set by the child itself too, as shells do, so that
 * it is there before the program runs), with signal `ignore` ignored. */
static pid_t start_job(const char *mode, int ignore, int foreground)
{
	char *argv[] = { "./pty", (char *)mode, NULL };
	pid_t pid = vfork();
	if (pid == 0) {
		setpgid(0, 0);
		if (foreground)
			tcsetpgrp(0, getpid()); /* (SIGTTOU is still blocked here) */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL); /* (the leader blocks SIGTTOU) */
		if (ignore)
			signal(ignore, SIG_IGN);
		execve("./pty", argv, environ);
		_exit(127);
	}
	setpgid(pid, pid);
	return pid;
}

static void wait_job(pid_t pid, const char *what)
{
	int status;
	char out[128];
	waitpid(pid, &status, WUNTRACED);
	if (WIFSTOPPED(status))
		snprintf(out, sizeof out, "%s: stopped by %s\n", what,
			 WSTOPSIG(status) == SIGTTIN ? "SIGTTIN" :
			 WSTOPSIG(status) == SIGTTOU ? "SIGTTOU" :
			 WSTOPSIG(status) == SIGTSTP ? "SIGTSTP" : "another signal");
	else if (WIFEXITED(status))
		snprintf(out, sizeof out, "%s: exited %d\n", what, WEXITSTATUS(status));
	else
		snprintf(out, sizeof out, "%s: killed by %s\n", what, signame(WTERMSIG(status)));
	say(out);
}

static int child_jobs(void)
{
	sigset_t ttou;
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, NULL); /* as job-control shells do */

	pid_t reader = start_job("child-bg-read", 0, 0);
	wait_job(reader, "background reader");
	tcsetpgrp(0, reader);
	say(tcgetpgrp(0) == reader ? "reader in the foreground\n" : "tcsetpgrp failed\n");
	kill(-reader, SIGCONT);
	wait_job(reader, "reader");
	tcsetpgrp(0, getpgrp());

	struct termios tio;
	tcgetattr(0, &tio);
	tio.c_lflag &= ~ECHO;
	tcsetattr(0, TCSANOW, &tio);
	pid_t fg = start_job("child-bg-read", 0, 1);
	say("foreground job waiting\n");
	wait_job(fg, "foreground reader");
	kill(fg, SIGKILL);
	wait_job(fg, "stopped reader");
	tcsetpgrp(0, getpgrp());
	tio.c_lflag |= ECHO;
	tcsetattr(0, TCSANOW, &tio);

	pid_t deaf = start_job("child-bg-read", SIGTTIN, 0);
	wait_job(deaf, "background reader ignoring SIGTTIN");

	pid_t writer = start_job("child-bg-write", 0, 0);
	wait_job(writer, "background writer without TOSTOP");
	tcgetattr(0, &tio);
	tio.c_lflag |= TOSTOP;
	tcsetattr(0, TCSANOW, &tio);
	writer = start_job("child-bg-write", 0, 0);
	wait_job(writer, "background writer with TOSTOP");
	kill(writer, SIGKILL);
	wait_job(writer, "stopped writer");
	writer = start_job("child-bg-write", SIGTTOU, 0);
	wait_job(writer, "background writer ignoring SIGTTOU");
	reader = start_job("child-bg-read", 0, 0);
	wait_job(reader, "background reader left stopped");
	say("done\n");
	return 0; /* the stopped reader's group is orphaned now: SIGHUP, SIGCONT */
}

static int jobs(void)
{
	int slave, master = open_pair(&slave);
	pid_t pid = start_on_slave(master, slave, (char *[]){ "./pty", "child-jobs", NULL }, -1);
	close(slave);
	expect(master, "background reader: stopped by SIGTTIN\r\n");
	expect(master, "reader in the foreground\r\n");
	type(master, "data\n");
	expect(master, "reader: exited 0\r\n");
	expect(master, "foreground job waiting\r\n");
	type(master, "\x1a");
	expect(master, "stopped reader: killed by SIGKILL\r\n");
	expect(master, "background reader ignoring SIGTTIN: exited 1\r\n");
	expect(master, "TOSTOP: exited 0\r\n");
	expect(master, "stopped writer: killed by SIGKILL\r\n");
	expect(master, "done\r\n");
	int status;
	waitpid(pid, &status, 0);
	print_wait_status("session leader", status);
	printf("the stopped reader ends with its leader: ");
	expect(master, "(nothing more)");
	return guest_status();
}

/* ---- bulk ---- */

enum { BULK = 100000 };

static int bulk_slave;

/* The process on the slave: reads BULK bytes, then writes them back. */
static int bulk_echo(void *arg)
{
	static char buf[BULK];
	size_t got = 0;
	while (got < BULK) {
		ssize_t n = read(bulk_slave, buf + got, BULK - got);
		if (n <= 0)
			return 1;
		got += n;
	}
	for (size_t done = 0; done < BULK;) {
		ssize_t n = write(bulk_slave, buf + done, BULK - done);
		if (n <= 0)
			return 2;
		done += n;
	}
	return 0;
}

static int bulk(void)
{
	int master = open_pair(&bulk_slave);
	struct termios tio;
	tcgetattr(bulk_slave, &tio);
	cfmakeraw(&tio);
	tcsetattr(bulk_slave, TCSANOW, &tio);
	static char out[BULK], back[BULK];
	for (int i = 0; i < BULK; i++)
		out[i] = "0123456789abcdefghijklmnopqrstuvwxyz\n"[i % 37];
	pid_t pid = clone_process(bulk_echo, NULL);
	struct pollfd p = { .fd = master, .events = POLLOUT };
	size_t sent = 0, got = 0;
	fcntl(master, F_SETFL, O_NONBLOCK);
	while (got < BULK) {
		p.events = sent < BULK ? POLLIN | POLLOUT : POLLIN;
		if (poll(&p, 1, 5000) <= 0) {
			printf("stuck: sent %zu got %zu\n", sent, got);
			break;
		}
		if (p.revents & POLLOUT && sent < BULK) {
			ssize_t n = write(master, out + sent, BULK - sent);
			if (n > 0)
				sent += n;
		}
		if (p.revents & POLLIN) {
			ssize_t n = read(master, back + got, BULK - got);
			if (n > 0)
				got += n;
		}
	}
	int status;
	waitpid(pid, &status, 0);
	print_wait_status("the slave's process", status);
	printf("sent %zu, got back %zu\n", sent, got);
	check("the bytes came back unchanged", memcmp(out, back, BULK) == 0);
	return guest_status();
}

/* ---- packet ---- */

static void read_packet(int master)
{
	char buf[64];
	struct pollfd p = { .fd = master, .events = POLLIN | POLLPRI };
	int ready = poll(&p, 1, 2000);
	printf("poll: %d, POLLPRI %d; ", ready, !!(p.revents & POLLPRI));
	ssize_t n = read(master, buf, sizeof buf);
	show("packet", buf, n > 0 ? n : 0);
}

static int packet(void)
{
	int slave, master = open_pair(&slave);
	int on = 1, got = -1;
	report("TIOCPKT on", ioctl(master, TIOCPKT, &on));
	ioctl(master, TIOCGPKT, &got);
	printf("TIOCGPKT: %d\n", got);
	write(slave, "hi", 2);
	read_packet(master);
	type(master, "\x13"); /* ^S: output stops */
	read_packet(master);
	type(master, "\x11"); /* ^Q: it starts again */
	read_packet(master);
	tcflush(slave, TCIOFLUSH);
	read_packet(master);
	tcflow(slave, TCOOFF);
	read_packet(master);
	tcflow(slave, TCOON);
	read_packet(master);
	on = 0;
	ioctl(master, TIOCPKT, &on);
	write(slave, "plain", 5);
	expect(master, "plain");
	return guest_status();
}

/* ---- ctty ---- */

static void child_say(const char *what, int ok)
{
	dprintf(3, "%s: %s\n", what, ok ? "yes" : errname(errno));
}

static int child_hup_waiter(void)
{
	struct sigaction sa = { .sa_handler = note };
	sigaction(SIGHUP, &sa, NULL);
	dprintf(3, "waiter ready\n");
	while (!got[SIGHUP])
		pause();
	dprintf(3, "waiter got SIGHUP (foreground group of an exiting leader)\n");
	return 0;
}

static int child_ctty(void)
{
	const char *path = getenv("PTY_SLAVE");
	int fd = open(path, O_RDWR);
	child_say("opening without O_NOCTTY made it the controlling terminal",
		  fd >= 0 && tcgetsid(fd) == getpid());
	int tty = open("/dev/tty", O_RDWR);
	child_say("/dev/tty opens", tty >= 0);
	child_say("/dev/tty is a terminal", isatty(tty));
	close(tty);
	signal(SIGHUP, SIG_IGN);
	child_say("TIOCNOTTY", ioctl(fd, TIOCNOTTY) == 0);
	child_say("tcgetpgrp after TIOCNOTTY fails", tcgetpgrp(fd) < 0);
	child_say("/dev/tty without a controlling terminal fails", open("/dev/tty", O_RDWR) < 0);
	child_say("TIOCSCTTY takes it again", ioctl(fd, TIOCSCTTY, 0) == 0);
	child_say("TIOCSCTTY on its own terminal again", ioctl(fd, TIOCSCTTY, 0) == 0);
	signal(SIGHUP, SIG_DFL);
	pid_t other = vfork();
	if (other == 0) {
		setsid();
		_exit(ioctl(fd, TIOCSCTTY, 0) < 0 ? errno : 0);
	}
	int status;
	waitpid(other, &status, 0);
	dprintf(3, "another session's TIOCSCTTY: %s\n", errname(WEXITSTATUS(status)));
	char *argv[] = { "./pty", "child-hup-waiter", NULL };
	pid_t waiter = vfork();
	if (waiter == 0) {
		execve(argv[0], argv, environ);
		_exit(127);
	}
	char c;
	read(4, &c, 1); /* the waiter is ready */
	return 0;
}

static int ctty(void)
{
	int slave, master = open_pair(&slave);
	setenv("PTY_SLAVE", ptsname(master), 1);
	close(slave);
	int report_pipe[2], ready[2];
	pipe(report_pipe);
	pipe(ready);
	fflush(stdout);
	pid_t pid = vfork();
	if (pid == 0) {
		setsid();
		dup2(report_pipe[1], 3);
		dup2(ready[0], 4);
		execve("./pty", (char *[]){ "./pty", "child-ctty", NULL }, environ);
		_exit(127);
	}
	close(report_pipe[1]);
	close(ready[0]);
	char buf[1024];
	size_t got_bytes = 0;
	while (!strstr(buf, "waiter ready\n")) {
		ssize_t n = read(report_pipe[0], buf + got_bytes, sizeof buf - 1 - got_bytes);
		if (n <= 0)
			break;
		got_bytes += n;
		buf[got_bytes] = 0;
	}
	write(ready[1], "x", 1);
	int status;
	waitpid(pid, &status, 0);
	ssize_t n;
	while ((n = read(report_pipe[0], buf + got_bytes, sizeof buf - 1 - got_bytes)) > 0)
		got_bytes += n;
	fwrite(buf, 1, got_bytes, stdout);
	print_wait_status("session leader", status);
	close(master);
	return guest_status();
}

/* ---- shell ---- */

static int shell(void)
{
	int slave, master = open_pair(&slave);
	setenv("PS1", "$ ", 1);
	pid_t pid = start_on_slave(master, slave, (char *[]){ "./sh", NULL }, -1);
	close(slave);
	expect(master, "$ ");
	type(master, "echo hello\n");
	expect(master, "$ ");
	type(master, "echo $((6 * 7)) > /dev/tty\n");
	expect(master, "$ ");
	type(master, "echo typo\x7f\x7f\x7fhi\n");
	expect(master, "$ ");
	type(master, "./cat\n");
	type(master, "a line for cat\n");
	expect(master, "a line for cat\r\na line for cat\r\n");
	type(master, "\x03");
	expect(master, "$ ");
	type(master, "./isatty\n");
	expect(master, "$ ");
	type(master, "\x04");
	expect(master, "exit\r\n");
	char c;
	ssize_t n = read(master, &c, 1);
	printf("then the master reads %zd %s\n", n, errname(errno));
	int status;
	waitpid(pid, &status, 0);
	print_wait_status("shell", status);
	return guest_status();
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(void);
	} modes[] = {
		{ "basics", basics },
		{ "cooked", cooked },
		{ "raw", raw },
		{ "signals", signals },
		{ "hangup", hangup },
		{ "jobs", jobs },
		{ "shell", shell },
		{ "ctty", ctty },
		{ "bulk", bulk },
		{ "packet", packet },
		{ "child-ctty", child_ctty },
		{ "child-hup-waiter", child_hup_waiter },
		{ "child-signals", child_signals },
		{ "child-hangup", child_hangup },
		{ "child-jobs", child_jobs },
		{ "child-bg-read", child_bg_read },
		{ "child-bg-write", child_bg_write },
	};
	for (size_t i = 0; argc > 1 && i < sizeof modes / sizeof *modes; i++)
		if (strcmp(argv[1], modes[i].name) == 0)
			return modes[i].fn();
	fprintf(stderr, "usage: pty basics|cooked|raw|signals|hangup|jobs|shell|ctty|bulk|packet\n");
	return 2;
}
