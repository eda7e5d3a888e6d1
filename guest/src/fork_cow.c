/*
 * fork_cow - after fork() parent and child each have their own copy of every
 * private page (copy-on-write), but MAP_SHARED pages stay shared.
 *
 * Usage: fork_cow
 * Memory set up before fork: a global, a local on the stack, a small heap
 * block (brk or a small mmap), a 1 MiB heap block (its own mmap), and one
 * page of MAP_SHARED|MAP_ANONYMOUS memory.
 *  1. The child writes all five, prints what it sees and exits; the parent
 *     then prints its own values: the private ones unchanged, the shared one
 *     changed.
 *  2. The parent writes all five after fork and tells the child through a
 *     pipe; the child prints what it sees: its private copies unchanged.
 * Needs an MMU (fork). Exits 0 when every check passed.
 */
#include "guest.h"
#include <sys/mman.h>
#include <unistd.h>

enum { BIG = 1 << 20 };

static int global = 1;

struct mem {
	volatile int *local;
	int *small;
	unsigned char *big;
	volatile int *shared;
};

/* A checksum of the 1 MiB block, one byte per page and the last byte. */
static unsigned big_sum(const unsigned char *big)
{
	unsigned sum = 0;
	for (int i = 0; i < BIG; i += 4096)
		sum = sum * 31 + big[i];
	return sum * 31 + big[BIG - 1];
}

static void show(const char *who, struct mem *m)
{
	printf("%s: global=%d local=%d small=%d big=%u shared=%d\n", who, global, *m->local,
	       *m->small, big_sum(m->big), *m->shared);
}

static void scribble(struct mem *m, int value)
{
	global = value;
	*m->local = value;
	*m->small = value;
	memset(m->big, value, BIG);
	*m->shared = value;
}

static pid_t fork_flushed(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		report("fork", -1);
		exit(1);
	}
	return pid;
}

/* 1: the child writes; the parent must not see it (except the shared page). */
static void child_writes(struct mem *m)
{
	pid_t pid = fork_flushed();
	if (pid == 0) {
		scribble(m, 2);
		show("child after writing", m);
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	show("parent after the child", m);
	check("parent's private memory unchanged",
	      global == 1 && *m->local == 1 && *m->small == 1 && m->big[4096] == 1);
	check("parent sees the child's write to the shared page", *m->shared == 2);
}

/* 2: the parent writes; the child (waiting on a pipe) must not see it. */
static void parent_writes(struct mem *m)
{
	int fds[2];
	char go;
	if (pipe(fds) < 0)
		exit(1);
	pid_t pid = fork_flushed();
	if (pid == 0) {
		close(fds[1]);
		if (read(fds[0], &go, 1) != 1)
			_exit(1);
		show("child after the parent wrote", m);
		check("child's private memory unchanged",
		      global == 1 && *m->local == 1 && *m->small == 1 && m->big[4096] == 1);
		check("child sees the parent's write to the shared page", *m->shared == 3);
		fflush(stdout);
		_exit(guest_status());
	}
	close(fds[0]);
	scribble(m, 3);
	int status;
	if (write(fds[1], "x", 1) != 1 || waitpid(pid, &status, 0) != pid)
		exit(1);
	check("child's checks passed", status == 0);
}

int main(void)
{
	volatile int local = 1;
	struct mem m = {&local, malloc(sizeof(int)), malloc(BIG), NULL};
	void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!m.small || !m.big || page == MAP_FAILED)
		return 1;
	m.shared = page;
	*m.small = 1;
	memset(m.big, 1, BIG);
	*m.shared = 1;
	show("parent before fork", &m);
	child_writes(&m);
	parent_writes(&m);
	show("parent at the end", &m);
	return guest_status();
}
