/*
 * sysfuzz - every system call number with random and extreme arguments.
 *
 * Usage: sysfuzz SEED [ROUNDS] [-v]
 *   SEED    seeds the random arguments (the same seed, the same calls)
 *   ROUNDS  passes over the numbers 0..463 (default 2)
 *   -v      print each call before making it (to find the one that hurt)
 *
 * FOR EMULATORS ONLY: never run this on a real kernel, least of all as root.
 *
 * Each call gets either extreme arguments (0, 1, -1, small and negative
 * numbers, 0x1000 and other unmapped addresses, 0x7fffffff and other huge
 * lengths, random kernel-half addresses) or "valid" ones (pointers into a
 * buffer on this program's own stack, filled with random bytes, and small
 * numbers that keep any write inside that buffer). The kernel must answer
 * every call with a result or an errno and go on running; the program then
 * prints a summary and exits 0. It works in /tmp/sysfuzz.SEED (made if
 * missing), keeps stdin, stdout and stderr on /dev/null between calls, keeps
 * files of every kind at descriptors 3..12 (a regular file, a directory,
 * /dev/zero, an empty pipe, /proc files, /dev/urandom, O_PATH handles, a
 * /dev/shm file) and writes its own output to descriptor 1000. Run it with stdin redirected
 * (</dev/null): a call may read from descriptor 0.
 *
 * Some calls are never made, and some get tamed arguments, because on any
 * kernel they would end this program, block it forever or wreck its own
 * memory, registers or signal handling (see the tables below). After every
 * call the program checks that the kernel changed no register but eax and
 * wrote nothing outside the buffer it was given (exit status 3 if it did).
 */
#include "guest.h"
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <unistd.h>

enum {
	LAST_NR = 463, /* the last i386 number today: mseal */
	OUT_FD = 1000,
	NULL_FD = 1001,
	KEPT = 1002,                /* copies of the descriptors 3..LAST_KEPT */
	LAST_KEPT = 12,
	GUARD = 4096,               /* untouchable bytes below and above the buffer */
	SCRATCH = 40 * 1024,        /* the part calls may write to */
	GUARD_BYTE = 0x5a,
};

/* Never called: why. */
static const struct {
	int nr;
	const char *why;
} skipped[] = {
	{1, "exit: ends the fuzzer"},
	{252, "exit_group: ends the fuzzer"},
	{2, "fork: a second fuzzer"},
	{190, "vfork: the child would run on this stack"},
	{120, "clone: a child on a random stack"},
	{435, "clone3: a child on a random stack"},
	{259, "timer_create: later signals"},
	{260, "timer_settime: later signals"},
	{409, "timer_settime64: later signals"},
	{29, "pause: waits for a signal forever"},
	{72, "sigsuspend: waits for a signal forever"},
	{179, "rt_sigsuspend: waits for a signal forever"},
	{177, "rt_sigtimedwait: may wait forever"},
	{421, "rt_sigtimedwait_time64: may wait forever"},
	{119, "sigreturn: loads registers from the stack"},
	{173, "rt_sigreturn: loads registers from the stack"},
	{243, "set_thread_area: breaks the fuzzer's TLS (errno)"},
	{123, "modify_ldt: may break the fuzzer's segments"},
	{354, "seccomp: may forbid the fuzzer's own calls"},
	{436, "close_range: closes the fuzzer's output"},
	{88, "reboot"},
	{113, "vm86old: leaves protected mode"},
	{166, "vm86: leaves protected mode"},
	{280, "mq_timedreceive: may wait forever"},
	{279, "mq_timedsend: may wait forever"},
};

/* Calls whose address arguments may unmap or protect memory: they get
 * addresses where the fuzzer has nothing (or lengths too small to reach it). */
static const int memory_calls[] = {
	45,  /* brk */
	90,  /* mmap (old) */
	91,  /* munmap */
	117, /* ipc (shmat) */
	125, /* mprotect */
	144, /* msync */
	150, /* mlock */
	151, /* munlock */
	163, /* mremap */
	192, /* mmap2 */
	218, /* mincore */
	219, /* madvise */
	257, /* remap_file_pages */
	274, /* mbind */
	376, /* mlock2 */
	380, /* pkey_mprotect */
	397, /* shmat */
	398, /* shmdt */
	440, /* process_madvise */
	462, /* mseal */
};

static uint32_t rng;

static uint32_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static int in(const int *list, size_t n, int nr)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == nr)
			return 1;
	return 0;
}

static const char *skip_reason(int nr)
{
	for (size_t i = 0; i < sizeof skipped / sizeof skipped[0]; i++)
		if (skipped[i].nr == nr)
			return skipped[i].why;
	return NULL;
}

/* An argument that points nowhere useful or is a very odd number. */
static long extreme(void)
{
	static const unsigned long values[] = {
		0, 1, 2, 0xffffffff, 0x1000, 0xfff, 0x7fffffff, 0x80000000,
		0xfffff000, 0xffffff9c /* AT_FDCWD */, 4096, 0x10000,
	};
	switch (next() % 4) {
	case 0: return (long)values[next() % (sizeof values / sizeof values[0])];
	case 1: return (long)(next() % 65);               /* small: fds, flags, counts */
	case 2: return -(long)(next() % 64) - 1;          /* small negative */
	default: return (long)(0xc0000000u | next());    /* kernel half: never mapped */
	}
}

/* An argument for "valid" mode: a number small enough that any write it
 * sizes stays inside the scratch buffer (2048 elements of 8 bytes). */
static long small(void)
{
	switch (next() % 3) {
	case 0: return (long)(next() % 2049);
	case 1: return (long)(next() % 9);
	default: return 0;
	}
}

/* Arguments for calls that change mappings: nothing the fuzzer uses can
 * lie in [addr, addr + len). */
static void memory_args(long *a)
{
	static const unsigned long lens[] = {0, 1, 0x1000, 0x10000, 0x7fffffff, 0xffffffff};
	uint32_t pick = next() % 4;
	a[1] = (long)lens[next() % 6];
	if (pick == 0)
		a[0] = (long)(0xc0000000u | (next() & ~0xfffu));
	else if (pick == 1)
		a[0] = (long)0xfffff000u;
	else if (pick == 2)
		a[0] = (long)(next() | 1); /* unaligned: EINVAL */
	else {
		a[0] = next() % 2 ? 0x1000 : 0;
		a[1] = (long)(next() % 0x10000);
	}
}

static struct timespec zero_ts;
static struct timeval zero_tv;
static struct itimerval zero_itv;

/* A path no execve can succeed with (or a bad pointer, or a random name). */
static long not_a_program(void)
{
	static const char *paths[] = {"/tmp", "/dev/null", "/proc/self/status", "", "/nonexistent"};
	long choice = next() % 7;
	return choice < 5 ? (long)paths[choice] : extreme();
}

/* A pid or tid that is nobody (kill, tgkill...): never 0, -1 or the fuzzer. */
static long nobody(void)
{
	static const long pids[] = {99999, -99999, 0x7fffffff, -0x7fffffff - 1, 4194304};
	return pids[next() % 5];
}

/* A timeout pointer that can never mean "wait forever". */
static long short_timeout(int timeval)
{
	switch (next() % 3) {
	case 0: return (long)(timeval ? (void *)&zero_tv : (void *)&zero_ts);
	case 1: return 0x1000; /* EFAULT */
	default: return (long)0xfffff000u;
	}
}

/* Arguments that cannot block forever, for the calls that could. */
static void tame(int nr, long *a)
{
	switch (nr) {
	case 162: /* nanosleep */
		a[0] = short_timeout(0);
		break;
	case 267: /* clock_nanosleep */
	case 407: /* clock_nanosleep_time64 */
		a[2] = short_timeout(0);
		break;
	case 240: /* futex */
	case 422: /* futex_time64 */
	case 420: /* semtimedop */
		a[3] = short_timeout(0);
		break;
	case 168: /* poll: a timeout in ms, never negative */
		a[2] = (long)(next() % 3);
		break;
	case 256: /* epoll_wait */
	case 319: /* epoll_pwait */
		a[3] = 0;
		break;
	case 309: /* ppoll */
	case 414: /* ppoll_time64 */
	case 441: /* epoll_pwait2 */
		a[2] = short_timeout(0);
		if (nr == 441)
			a[3] = short_timeout(0);
		break;
	case 142: /* _newselect */
		a[4] = short_timeout(1);
		break;
	case 308: /* pselect6 */
	case 413: /* pselect6_time64 */
		a[4] = short_timeout(0);
		break;
	case 401: /* msgrcv */
	case 400: /* msgsnd */
		a[nr == 401 ? 4 : 3] |= 04000; /* IPC_NOWAIT */
		break;
	case 192: /* mmap2 */
		a[3] &= ~0x10L; /* never MAP_FIXED */
		break;
	case 37:  /* kill */
	case 238: /* tkill */
	case 178: /* rt_sigqueueinfo */
		a[0] = nobody();
		break;
	case 270: /* tgkill */
	case 335: /* rt_tgsigqueueinfo */
		a[0] = nobody();
		a[1] = nobody();
		break;
	case 11:  /* execve: of nothing that can run */
	case 358: /* execveat */
		a[nr == 11 ? 0 : 1] = not_a_program();
		break;
	case 27: /* alarm: only cancelling */
		a[0] = 0;
		break;
	case 104: /* setitimer: a timer that never fires */
		a[1] = next() % 2 ? (long)&zero_itv : 0x1000;
		break;
	case 397: /* shmat */
		a[2] &= ~0x4000L; /* never SHM_REMAP */
		break;
	}
}

/* Descriptors 3..12 are files of every kind, for calls to find among the
 * small numbers they get: what each is (opened in the fuzzer's directory). */
static int open_kept(int fd)
{
	int p[2];
	switch (fd) {
	case 3: return open("file", O_RDWR | O_CREAT, 0644);     /* a regular file */
	case 4: return open(".", O_RDONLY | O_DIRECTORY);         /* a directory */
	case 5: return open("/dev/zero", O_RDWR);
	case 6: /* a pipe's read end with no writer left: reads see end of file */
		if (pipe(p) < 0)
			return -1;
		close(p[1]);
		return p[0];
	case 7: return open("/proc/self/status", O_RDONLY);      /* a kernel file */
	case 8: return open("/proc", O_RDONLY | O_DIRECTORY);     /* a kernel directory */
	case 9: return open("/dev/urandom", O_RDONLY);
	case 10: return open("/", O_PATH);                        /* a handle only */
	case 11: return open("/dev/shm/sysfuzz", O_RDWR | O_CREAT, 0600); /* a RAM file */
	default: return open("link", O_PATH | O_NOFOLLOW);      /* a symlink's handle */
	}
}

static void keep_files(void)
{
	symlink("file", "link");
	for (int fd = 3; fd <= LAST_KEPT; fd++) {
		int got = open_kept(fd);
		dup2(got >= 0 ? got : NULL_FD, KEPT + fd);
		if (got >= 0)
			close(got);
	}
}

/* Back to the start: 0, 1 and 2 on /dev/null, 3..12 the kept files, the
 * fuzzer's directory current, and whatever the last call opened closed. */
static void tidy(int nr, long ret, unsigned long count, const char *dir)
{
	for (int fd = 0; fd < 3; fd++)
		dup2(NULL_FD, fd);
	for (int fd = 3; fd <= LAST_KEPT; fd++)
		dup2(KEPT + fd, fd);
	chdir(dir);
	if (ret > LAST_KEPT && ret < OUT_FD)
		close((int)ret);
	int top = (nr == 42 || nr == 331 || nr == 360) ? 32 : 0; /* pipe, pipe2, socketpair */
	if (count % 64 == 0)
		top = OUT_FD;
	for (int fd = LAST_KEPT + 1; fd < top; fd++)
		close(fd);
}

/* Random bytes without '/' and '.', with NULs: as a path, a name in the cwd. */
static void fill(char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t r = next() & 0xff;
		p[i] = (r < 16 || r == '/' || r == '.') ? 0 : (char)r;
	}
}

/* One call, made directly: everything but eax must come back unchanged. */
struct call {
	long nr, arg[6], ret, after[6]; /* after: ebx, ecx, edx, esi, edi, ebp */
};

static void make_call(struct call *c)
{
	__asm__ volatile(
		"push %%ebp\n\t"
		"push %%ebx\n\t"
		"push %%esi\n\t"
		"push %%edi\n\t"
		"push %%eax\n\t"
		"mov 4(%%eax), %%ebx\n\t"
		"mov 8(%%eax), %%ecx\n\t"
		"mov 12(%%eax), %%edx\n\t"
		"mov 16(%%eax), %%esi\n\t"
		"mov 20(%%eax), %%edi\n\t"
		"mov 24(%%eax), %%ebp\n\t"
		"mov 0(%%eax), %%eax\n\t"
		"int $0x80\n\t"
		"xchg (%%esp), %%eax\n\t"
		"mov %%ebx, 32(%%eax)\n\t"
		"mov %%ecx, 36(%%eax)\n\t"
		"mov %%edx, 40(%%eax)\n\t"
		"mov %%esi, 44(%%eax)\n\t"
		"mov %%edi, 48(%%eax)\n\t"
		"mov %%ebp, 52(%%eax)\n\t"
		"pop %%ecx\n\t"
		"mov %%ecx, 28(%%eax)\n\t"
		"pop %%edi\n\t"
		"pop %%esi\n\t"
		"pop %%ebx\n\t"
		"pop %%ebp"
		: "+a"(c)
		:
		: "ecx", "edx", "memory");
}

/* What the kernel must not have done: changed a register other than eax, or
 * written outside the buffer it was given. NULL if it did neither. */
static const char *damage(const struct call *c, const unsigned char *low,
			  const unsigned char *high)
{
	static const char *names[6] = {"ebx", "ecx", "edx", "esi", "edi", "ebp"};
	for (int i = 0; i < 6; i++)
		if (c->after[i] != c->arg[i])
			return names[i];
	for (int i = 0; i < GUARD; i++)
		if (low[i] != GUARD_BYTE || high[i] != GUARD_BYTE)
			return "memory outside the buffer";
	return NULL;
}

struct tally {
	unsigned long calls, ok, failed, enosys, skipped;
	unsigned long by_errno[134];
};

/* Random arguments for call number nr (tamed as it needs). */
static void arguments(int nr, char *scratch, long *a)
{
	int extreme_mode = next() % 2;
	for (int i = 0; i < 6; i++)
		a[i] = extreme_mode ? extreme() : small();
	/* "valid" mode has one pointer into the buffer: a second one could land
	 * where the call takes a length, and a write that long would (rightly)
	 * run over everything above the buffer */
	if (!extreme_mode)
		a[next() % 6] = (long)(scratch + 1 + next() % 8192); /* + 2048 * 8 < SCRATCH */
	if (in(memory_calls, sizeof memory_calls / sizeof memory_calls[0], nr))
		memory_args(a);
	tame(nr, a);
}

static void count(struct tally *t, long ret)
{
	t->calls++;
	if (ret < 0 && ret > -4096) {
		t->failed++;
		t->enosys += ret == -ENOSYS;
		if (-ret < 134)
			t->by_errno[-ret]++;
	} else {
		t->ok++;
	}
}

/* Every number, `rounds` times; 0, or 3 if the kernel damaged the fuzzer. */
static int fuzz(unsigned char *buf, int rounds, int verbose, struct tally *t, const char *dir)
{
	char *scratch = (char *)buf + GUARD;
	for (int round = 0; round < rounds; round++) {
		for (int nr = 0; nr <= LAST_NR; nr++) {
			if (skip_reason(nr)) {
				t->skipped++;
				continue;
			}
			struct call c = {.nr = nr};
			fill(scratch + next() % 8192, 1024);
			arguments(nr, scratch, c.arg);
			if (verbose)
				dprintf(OUT_FD, "%d(%#lx, %#lx, %#lx, %#lx, %#lx, %#lx)\n", nr,
					c.arg[0], c.arg[1], c.arg[2], c.arg[3], c.arg[4], c.arg[5]);
			make_call(&c);
			const char *what = damage(&c, buf, buf + GUARD + SCRATCH);
			if (what) {
				dprintf(OUT_FD, "sysfuzz: call %d(%#lx, %#lx, %#lx, %#lx, %#lx, %#lx) "
					"= %ld changed %s\n", nr, c.arg[0], c.arg[1], c.arg[2],
					c.arg[3], c.arg[4], c.arg[5], c.ret, what);
				return 3;
			}
			count(t, c.ret);
			tidy(nr, c.ret, t->calls, dir);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned char buf[GUARD + SCRATCH + GUARD]; /* "the fuzzer's own stack" */
	char dir[64];
	struct tally t = {0};
	if (argc < 2) {
		fprintf(stderr, "usage: sysfuzz SEED [ROUNDS] [-v]\n");
		return 2;
	}
	unsigned long seed = strtoul(argv[1], NULL, 0);
	int rounds = argc > 2 ? atoi(argv[2]) : 2;
	int verbose = argc > 3 && strcmp(argv[3], "-v") == 0;
	rng = (uint32_t)(seed * 2654435761u) | 1;
	if (dup2(1, OUT_FD) < 0 || dup2(open("/dev/null", O_RDWR), NULL_FD) < 0) {
		perror("sysfuzz: setting up descriptors");
		return 1;
	}
	snprintf(dir, sizeof dir, "/tmp/sysfuzz.%lu", seed);
	mkdir(dir, 0755);
	if (chdir(dir) < 0) {
		perror("sysfuzz: chdir");
		return 1;
	}
	memset(buf, GUARD_BYTE, sizeof buf);
	fill((char *)buf + GUARD, SCRATCH);
	keep_files();
	tidy(-1, 0, 0, dir);
	int status = fuzz(buf, rounds, verbose, &t, dir);
	dprintf(OUT_FD, "sysfuzz: seed %lu: %lu calls, %lu succeeded, %lu failed (%lu ENOSYS)\n",
		seed, t.calls, t.ok, t.failed, t.enosys);
	dprintf(OUT_FD, "sysfuzz: errnos:");
	for (int e = 1; e < 134; e++)
		if (t.by_errno[e])
			dprintf(OUT_FD, " %s=%lu", errname(e), t.by_errno[e]);
	dprintf(OUT_FD, "\nsysfuzz: %lu numbers skipped; %s\n", t.skipped / (rounds ? rounds : 1),
		status ? "the kernel damaged the fuzzer" : "done");
	return status;
}
