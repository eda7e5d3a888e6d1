/*
 * flathello: a freestanding ARM (Thumb-2, Cortex-M) program that runs both as
 * a static-PIE ELF and, converted by `nommu elf2flt`, as a bFLT file. No C
 * library: musl's start code needs an auxiliary vector, which bFLT does not
 * give. It prints its arguments and environment, walks initialized data full
 * of pointers (each one a relocation), a function pointer table, counts in
 * the bss, and exits with a status computed from all of that.
 *
 * Compiled with -fno-pic -mword-relocations: every address the code uses is
 * a whole word in a literal pool or in data, which both loaders relocate.
 * Linked as a PIE with -z notext (and -q, which keeps the relocations for
 * elf2flt). The two loaders differ in what _start finds:
 *  - ELF: nothing is relocated yet (no dynamic linker), so _start applies the
 *    R_ARM_RELATIVE relocations itself; the stack holds argc, argv[], envp[],
 *    auxv.
 *  - bFLT: the kernel has relocated everything; the stack holds argc, then
 *    pointers to argv[] and envp[] (ARM's flat layout), then the arrays.
 */

#define R_ARM_RELATIVE 23
#define DT_NULL 0
#define DT_REL 17
#define DT_RELSZ 18

#include "../include/bare.h"

/* Relocated data: pointers to strings, to functions, to other data. */
static int twice(int x) { return 2 * x; }
static int square(int x) { return x * x; }
static int negate(int x) { return -x; }

struct op {
	const char *name;
	int (*fn)(int);
};

static struct op ops[] = { { "twice", twice }, { "square", square }, { "negate", negate } };
static const char *greeting[] = { "hello", "from", "a", "flat", "program", 0 };
static struct op *favourite = &ops[1];
static int numbers[4] = { 3, 1, 4, 1 };
static int *third = &numbers[2];

static int calls;	/* bss */
static char scratch[64];	/* bss */

static int apply(const struct op *op, int x)
{
	calls++;
	return op->fn(x);
}

__attribute__((noinline)) static int program(int argc, char **argv, char **envp)
{
	int i, sum = 0;

	for (i = 0; greeting[i]; i++) {
		put(greeting[i]);
		put(greeting[i + 1] ? " " : "\n");
	}
	put("argc ");
	put_number(argc);
	put("\n");
	for (i = 0; i < argc; i++) {
		put("argv: ");
		put(argv[i]);
		put("\n");
	}
	for (i = 0; envp[i]; i++) {
		put("envp: ");
		put(envp[i]);
		put("\n");
	}
	for (i = 0; i < 3; i++) {
		int r = apply(&ops[i], numbers[i] + argc);
		put(ops[i].name);
		put(" -> ");
		put_number(r);
		put("\n");
		sum += r;
	}
	put("favourite: ");
	put(favourite->name);
	put(" of the third number: ");
	put_number(apply(favourite, *third));
	put("\n");
	for (i = 0; i < (int)sizeof scratch; i++)
		sum += scratch[i];	/* the bss is zero */
	put("calls ");
	put_number(calls);
	put(", sum ");
	put_number(sum);
	put("\n");
	return sum & 0x7f;
}

/* ELF only: apply the R_ARM_RELATIVE relocations of the PIE at `base`.
 * Runs before anything is relocated, so it touches no global by address. */
__attribute__((noinline)) static void relocate(unsigned long base, const unsigned long *dyn)
{
	const unsigned long *rel = 0;
	unsigned long size = 0;

	for (; dyn[0] != DT_NULL; dyn += 2) {
		if (dyn[0] == DT_REL)
			rel = (const unsigned long *)(base + dyn[1]);
		else if (dyn[0] == DT_RELSZ)
			size = dyn[1];
	}
	for (; rel && size >= 8; rel += 2, size -= 8)
		if ((rel[1] & 0xff) == R_ARM_RELATIVE)
			*(unsigned long *)(base + rel[0]) += base;
}

/* Called by _start with the initial stack pointer and the load displacement
 * (0 when the loader relocated everything already: bFLT). */
void start_c(long *sp, unsigned long base, unsigned long dynamic)
{
	long argc = sp[0];
	char **argv, **envp;

	if (base)
		relocate(base, (const unsigned long *)(base + dynamic));
	if ((long *)sp[1] == sp + 3) {	/* bFLT: &argv[0] and &envp[0] on the stack */
		argv = (char **)sp[1];
		envp = (char **)sp[2];
	} else {
		argv = (char **)(sp + 1);
		envp = argv + argc + 1;
	}
	syscall3(SYS_exit_group, program(argc, argv, envp), 0, 0);
}

/* The displacement is where `anchor` is minus the address its own literal
 * holds: unrelocated (ELF), that is the link-time address; relocated (bFLT),
 * the run-time one, and the difference is 0. */
__asm__(
	".syntax unified\n"
	".thumb\n"
	".text\n"
	".global _start\n"
	".type _start, %function\n"
	".thumb_func\n"
	"_start:\n"
	"	mov r0, sp\n"
	"	adr r1, anchor\n"
	"	ldr r2, anchor\n"
	"	subs r1, r1, r2\n"
	"	ldr r2, dynamic\n"
	"	bl start_c\n"
	"	udf #0\n"
	"	.align 2\n"
	"anchor: .word anchor\n"
	"dynamic: .word _DYNAMIC\n"
	".size _start, . - _start\n");
