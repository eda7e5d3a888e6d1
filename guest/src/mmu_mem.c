/*
 * mmu_mem - the memory system calls as a kernel with an MMU implements them.
 *
 * Usage: mmu_mem [DIR]   (DIR for a scratch file, default ".")
 * Prints one line per check, never an address, so the output is the same
 * natively and under `nommu run --mmu`:
 *   mmap     an address hint that is free is taken; one that is in use is not;
 *            MAP_FIXED replaces part of a mapping; MAP_FIXED_NOREPLACE refuses
 *   mprotect read-only and PROT_NONE pages fault (SIGSEGV, SEGV_ACCERR, at the
 *            exact address) and the kernel's own reads get EFAULT; a middle
 *            page can be protected alone
 *   munmap   of the middle of a mapping leaves both ends; the hole faults
 *            (SEGV_MAPERR); unmapping nothing is fine
 *   mremap   cannot grow in place past a neighbour, moves with MAYMOVE (the
 *            old range faults), shrinks and grows in place, moves to a fixed
 *            address
 *   brk      grows (the pages are usable), shrinks (they fault), stops at a
 *            mapping in the way
 *   files    MAP_SHARED writes reach the file, MAP_PRIVATE writes do not
 *   stack    grows on demand (2 MiB of locals)
 * On no-MMU most of this is refused (MAP_FIXED EINVAL, mprotect ENOSYS...).
 * Exits 0 when every check passed.
 */
#include "guest.h"
#include <alloca.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PG 4096UL
#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

static sigjmp_buf recover;
static volatile uintptr_t fault_addr;
static volatile int fault_code;
static volatile int armed; /* a probe is waiting for a fault */
static int have_mmu;       /* mprotect works */

/* Inside probe(): record the fault and go back. Elsewhere: die of it. */
static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	if (!armed) {
		signal(SIGSEGV, SIG_DFL);
		return;
	}
	armed = 0;
	fault_addr = (uintptr_t)si->si_addr;
	fault_code = si->si_code;
	siglongjmp(recover, 1);
}

/* Touches *p (a write if `write`); prints whether it faulted, where and why. */
static int probe(const char *what, volatile char *p, int write)
{
	fault_addr = 0;
	fault_code = 0;
	if (sigsetjmp(recover, 1) == 0) {
		armed = 1;
		if (write)
			*p = 7;
		else
			(void)*p;
		armed = 0;
		printf("%s: no fault\n", what);
		return 0;
	}
	printf("%s: SIGSEGV %s, at the address: %s\n", what,
	       fault_code == SEGV_MAPERR ? "SEGV_MAPERR"
	       : fault_code == SEGV_ACCERR ? "SEGV_ACCERR" : "other code",
	       fault_addr == (uintptr_t)p ? "yes" : "no");
	return 1;
}

static char *map(void *hint, size_t len, int flags)
{
	return mmap(hint, len, RW, flags, -1, 0);
}

static void mmap_checks(void)
{
	char *area = map(NULL, 16 * PG, ANON);
	munmap(area, 16 * PG);
	char *hint = area + 4 * PG;
	char *got = map(hint, 4 * PG, ANON);
	char *other = map(hint + PG, PG, ANON); /* the hint is in use now */
	check("mmap takes a free hint", got == hint);
	check("mmap avoids a hint in use", other != MAP_FAILED &&
	      (other + PG <= got || other >= got + 4 * PG));
	memset(got, 'A', 4 * PG);
	char *fixed = map(got + PG, PG, ANON | MAP_FIXED);
	check("MAP_FIXED lands exactly", fixed == got + PG);
	check("MAP_FIXED replaced one page", got[PG] == 0 && got[0] == 'A' && got[2 * PG] == 'A');
	report("MAP_FIXED_NOREPLACE over a mapping", (long)map(got, PG, ANON | MAP_FIXED_NOREPLACE));
	report("MAP_FIXED at an unaligned address", (long)map(got + 1, PG, ANON | MAP_FIXED));
	munmap(got, 4 * PG);
	munmap(other, PG);
}

static void mprotect_checks(void)
{
	char *p = map(NULL, 3 * PG, ANON);
	int fds[2];
	p[123] = 42;
	have_mmu = mprotect(p, PG, PROT_READ) == 0;
	report("mprotect PROT_READ", have_mmu ? 0 : -1);
	check("read-only page still readable", p[123] == 42);
	probe("write to a read-only page", p + 123, 1);
	report("mprotect PROT_NONE", mprotect(p, PG, PROT_NONE));
	probe("read of a PROT_NONE page", p + 200, 0);
	if (pipe(fds) == 0) {
		report("write() from a PROT_NONE page", write(fds[1], p, 4));
		close(fds[0]);
		close(fds[1]);
	}
	report("mprotect back to read-write", mprotect(p, PG, RW));
	check("contents kept through mprotect", p[123] == 42);
	probe("write after mprotect read-write", p + 124, 1);
	report("mprotect of the middle page", mprotect(p + PG, PG, PROT_READ));
	probe("write to the first page", p + 10, 1);
	probe("write to the middle page", p + PG + 10, 1);
	probe("write to the last page", p + 2 * PG + 10, 1);
	report("mprotect unaligned", syscall(SYS_mprotect, p + 1, PG, PROT_READ));
	munmap(p, 3 * PG);
	report("mprotect of unmapped memory", mprotect(p, PG, PROT_READ));
}

static void munmap_checks(void)
{
	char *p = map(NULL, 4 * PG, ANON);
	for (int i = 0; i < 4; i++)
		memset(p + i * PG, 'a' + i, PG);
	report("munmap of the middle two pages", munmap(p + PG, 2 * PG));
	check("first and last pages intact", p[0] == 'a' && p[PG - 1] == 'a' && p[3 * PG] == 'd');
	probe("read of the hole", p + PG + 300, 0);
	probe("read of the hole's last page", p + 3 * PG - 1, 0);
	report("munmap of the hole again", munmap(p + PG, 2 * PG));
	report("munmap unaligned", munmap(p + 1, PG));
	report("munmap of length 0", munmap(p, 0));
	munmap(p, 4 * PG);
}

static void mremap_checks(void)
{
	char *a = map(NULL, 3 * PG, ANON);
	munmap(a + 2 * PG, PG);
	memset(a, 'm', 2 * PG);
	char *blocker = map(a + 2 * PG, PG, ANON | MAP_FIXED_NOREPLACE);
	check("a neighbour right after the mapping", blocker == a + 2 * PG);
	report("mremap grow without MAYMOVE", (long)mremap(a, 2 * PG, 8 * PG, 0));
	char *b = mremap(a, 2 * PG, 8 * PG, MREMAP_MAYMOVE);
	check("mremap moved it", b != MAP_FAILED && b != a);
	if (b == MAP_FAILED)
		return;
	check("contents moved along", b[0] == 'm' && b[2 * PG - 1] == 'm' && b[2 * PG] == 0);
	probe("read at the old address", a + 5, 0);
	b[7 * PG] = 'z';
	check("mremap shrinks in place", mremap(b, 8 * PG, 4 * PG, 0) == b);
	probe("read past the shrunk end", b + 5 * PG, 0);
	check("mremap grows in place", mremap(b, 4 * PG, 6 * PG, 0) == b);
	check("regrown pages are zero", b[5 * PG] == 0);
	char *target = map(NULL, 6 * PG, ANON);
	char *c = mremap(b, 6 * PG, 6 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, target);
	check("MREMAP_FIXED lands exactly", c == target);
	check("contents at the fixed address", c[0] == 'm' && c[PG + 7] == 'm');
	report("mremap of unmapped memory", (long)mremap(b, PG, 2 * PG, MREMAP_MAYMOVE));
	munmap(c, 6 * PG);
	munmap(blocker, PG);
}

static void brk_checks(void)
{
	uintptr_t start = syscall(SYS_brk, 0);
	uintptr_t want = start + 256 * 1024;
	uintptr_t got = syscall(SYS_brk, want);
	check("brk grows", got == want);
	if (got == want) {
		for (uintptr_t q = (start + PG - 1) & ~(PG - 1); q < want; q += PG)
			*(volatile char *)q = 1;
		probe("write to the new heap", (char *)want - 1, 1);
	}
	check("brk shrinks", (uintptr_t)syscall(SYS_brk, start) == start);
	probe("read past the shrunk heap", (char *)start + 128 * 1024, 0);
	uintptr_t wall = ((start + PG - 1) & ~(PG - 1)) + 64 * 1024;
	char *in_the_way = map((void *)wall, PG, ANON | MAP_FIXED_NOREPLACE);
	if (in_the_way == (char *)wall) {
		check("brk stops at a mapping", (uintptr_t)syscall(SYS_brk, wall + 2 * PG) == start);
		munmap(in_the_way, PG);
	} else {
		printf("no room for a mapping above the heap\n");
	}
}

static void file_checks(const char *dir)
{
	char path[256];
	char buf[16] = {0};
	snprintf(path, sizeof path, "%s/mmu_mem.tmp", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 2 * PG) < 0) {
		report("open", -1);
		return;
	}
	char *shared = mmap(NULL, 2 * PG, RW, MAP_SHARED, fd, 0);
	char *private = mmap(NULL, 2 * PG, RW, MAP_PRIVATE, fd, 0);
	if (shared == MAP_FAILED || private == MAP_FAILED) {
		report("mmap of a file", -1);
		close(fd);
		unlink(path);
		return;
	}
	memcpy(private + PG + 10, "private", 8);
	memcpy(shared + PG + 10, "shared", 7);
	report("msync", msync(shared, 2 * PG, MS_SYNC));
	munmap(shared, 2 * PG);
	munmap(private, 2 * PG);
	pread(fd, buf, 7, PG + 10);
	printf("file after MAP_SHARED and MAP_PRIVATE writes: %s\n", buf);
	report("MAP_SHARED PROT_WRITE of a read-only fd", (long)mmap(NULL, PG, RW, MAP_SHARED,
	       open(path, O_RDONLY), 0));
	close(fd);
	unlink(path);
}

static void stack_checks(void)
{
	size_t n = 2 << 20;
	volatile char *deep = alloca(n);
	for (size_t i = 0; i < n; i += PG)
		deep[i] = 1;
	check("2 MiB of stack", deep[0] == 1 && deep[n - PG] == 1);
}

int main(int argc, char **argv)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	printf("mmu_mem\n");
	mmap_checks();
	mprotect_checks();
	munmap_checks();
	mremap_checks();
	brk_checks();
	file_checks(argc > 1 ? argv[1] : ".");
	if (have_mmu)
		stack_checks(); /* without an MMU the stack cannot grow: it would overflow */
	probe("read of address 0", NULL, 0);
	return guest_status();
}
