/*
 * smc - self-modifying code: write machine code, run it, rewrite it, run it.
 *
 * Usage: smc [ROUNDS]      (default 200)
 * Two small functions (`mov $imm, %eax; ret`) live on one page of an
 * executable mapping, next to a data word on the same page. Each round
 * rewrites the immediate of one function, then of the other, stores to the
 * data word, and calls both: every call must return the value just written.
 * x86 keeps code and data coherent, so natively this always holds; an
 * emulator must notice every store to a page it has translated code from,
 * not only the first, and still after its TLB has forgotten the page. Then
 * code is written into fresh memory (a data page never executed before) and
 * run, written through one mapping of shared memory and run through
 * another, and last read() into place by the kernel. Prints the results; exits 0, or 1
 * if a call returned a stale value.
 */
#include "guest.h"
#include <stdint.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

typedef int (*fn)(void);

/* `mov $value, %eax; ret` at p. */
static void emit(unsigned char *p, uint32_t value)
{
	p[0] = 0xb8;
	memcpy(p + 1, &value, 4);
	p[5] = 0xc3;
}

/* Rewrites only the immediate of the function at p (a 4-byte store). */
static void patch(unsigned char *p, uint32_t value)
{
	memcpy(p + 1, &value, 4);
}

/* `n` rounds of: read 4 MiB of other memory (an emulator's TLB forgets the
 * page of f and g), read the data word on their page, rewrite both, call
 * both. How many rounds ran a stale function. */
static unsigned long sweep_rounds(unsigned char *f, unsigned char *g, volatile uint32_t *data,
				  unsigned long n)
{
	enum { SWEEP = 4 << 20 };
	static volatile unsigned char *sweep;
	unsigned long stale = 0, sum = 0;
	if (!sweep && !(sweep = malloc(SWEEP)))
		return n;
	for (unsigned long i = 0; i < n; i++) {
		for (unsigned long off = 0; off < SWEEP; off += 4096)
			sum += sweep[off];
		sum += *data;
		uint32_t a = 5000 + 2 * (uint32_t)i + (uint32_t)(sum & 0), b = a + 1;
		patch(f, a);
		patch(g, b);
		if (((fn)f)() != (int)a || ((fn)g)() != (int)b)
			stale++;
	}
	return stale;
}

int main(int argc, char **argv)
{
	unsigned long rounds = arg_ulong(argc, argv, 1, 200), stale = 0;
	unsigned char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		report("mmap", -1);
		return 1;
	}
	unsigned char *f = page, *g = page + 256;
	volatile uint32_t *data = (volatile uint32_t *)(page + 2048);
	emit(f, 1);
	emit(g, 2);
	printf("first calls: %d %d\n", ((fn)f)(), ((fn)g)());
	for (unsigned long i = 0; i < rounds; i++) {
		uint32_t a = 1000 + 2 * (uint32_t)i, b = a + 1;
		patch(f, a);
		patch(g, b);
		*data = a ^ b;
		int got_f = ((fn)f)(), got_g = ((fn)g)();
		if (got_f != (int)a || got_g != (int)b)
			stale++;
	}
	printf("%lu rounds of rewriting two functions on one page: %lu stale\n", rounds, stale);

	/* The same after touching enough other pages that an emulator's TLB has
	 * forgotten this one, and reading the page (as data) before writing it;
	 * then once more in a new mapping where the old one was (munmap + mmap:
	 * the memory held code before and holds new code now). */
	unsigned long sweeps = rounds / 10 + 1;
	unsigned long stale_after = sweep_rounds(f, g, data, sweeps);
	printf("%lu rounds after sweeping the TLB: %lu stale\n", sweeps, stale_after);
	munmap(page, 4096);
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		report("mmap", -1);
		return 1;
	}
	f = page, g = page + 256, data = (volatile uint32_t *)(page + 2048);
	emit(f, 3);
	emit(g, 4);
	printf("in a new mapping: %d %d\n", ((fn)f)(), ((fn)g)());
	unsigned long stale_new = sweep_rounds(f, g, data, sweeps);
	printf("%lu rounds after sweeping, in the new mapping: %lu stale\n", sweeps, stale_new);
	stale += stale_after + stale_new;

	/* Code written into memory that was only ever data, then run. */
	unsigned char *fresh = mmap(NULL, 8192, PROT_READ | PROT_WRITE | PROT_EXEC,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fresh == MAP_FAILED) {
		report("mmap", -1);
		return 1;
	}
	for (int i = 0; i < 2048; i++)
		((volatile uint32_t *)fresh)[i] = (uint32_t)i; /* a data page, stored to */
	emit(fresh + 4096 - 8, 7);
	int got = ((fn)(fresh + 4096 - 8))();
	patch(fresh + 4096 - 8, 8);
	int again = ((fn)(fresh + 4096 - 8))();
	printf("fresh code: %d then %d\n", got, again);

	/* One memory seen at two addresses (SysV shm attached twice, as JITs do
	 * for W^X): code written through one, run through the other. Without an
	 * MMU both attachments are the same address. */
	int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0700);
	unsigned char *w = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
	unsigned char *x = id < 0 ? (void *)-1 : shmat(id, NULL, SHM_EXEC);
	if (w == (void *)-1 || x == (void *)-1) {
		report("shmat", -1);
		return 1;
	}
	shmctl(id, IPC_RMID, NULL);
	unsigned long stale_alias = 0;
	for (uint32_t i = 1; i <= 20; i++) {
		emit(w, i);
		int first = ((fn)x)();
		patch(w, i + 1000);
		if (first != (int)i || ((fn)x)() != (int)i + 1000)
			stale_alias++;
	}
	printf("20 rounds through a second mapping: %lu stale\n", stale_alias);

	/* New code put there by the kernel: read() from a pipe into a function
	 * that has run (the kernel's store, not the CPU's). */
	int fds[2];
	unsigned long stale_read = 0;
	if (pipe(fds)) {
		report("pipe", -1);
		return 1;
	}
	for (uint32_t i = 1; i <= 20; i++) {
		unsigned char code[6];
		emit(code, 9000 + i);
		if (write(fds[1], code, sizeof code) != sizeof code ||
		    read(fds[0], x, sizeof code) != sizeof code) {
			report("pipe io", -1);
			return 1;
		}
		if (((fn)x)() != (int)(9000 + i))
			stale_read++;
	}
	printf("20 rounds of code read() into place: %lu stale\n", stale_read);
	return stale || got != 7 || again != 8 || stale_alias || stale_read;
}
