/*
 * fdpichello: a freestanding ARM (Thumb-2) ELF-FDPIC program: what
 * binfmt_elf_fdpic runs on a no-MMU ARM board when the program is FDPIC
 * (EI_OSABI = ELFOSABI_ARM_FDPIC). Each PT_LOAD segment may land anywhere,
 * independently of the others, so the program cannot assume its data sits at
 * a fixed distance from its text. The kernel says where each one went in a
 * load map it leaves on the stack:
 *   r7  = the program's load map (struct elf32_fdpic_loadmap)
 *   r8  = the interpreter's load map (0: none, a static program)
 *   r9  = the program's dynamic section (0: it has none)
 *   r10 = the start of its data
 * No C library: _start applies the linker's .rofixup list itself (each entry
 * is the link-time address of a word holding a link-time address; both are
 * translated through the load map), and the list's last entry is the GOT,
 * which FDPIC code expects in r9. Then the program prints from data through
 * function pointers, which in FDPIC point to function descriptors (entry
 * address, GOT address): if a segment or the load map were wrong, it would
 * fault or print garbage.
 *
 * Built with -mfdpic (gcc) and --fdpic (gas), linked with ld's FDPIC target
 * (guest/Makefile, guest/fdpic/fdpic.ld).
 */

#include "../include/bare.h"

struct loadseg {
	unsigned long addr;	/* where the segment is */
	unsigned long p_vaddr;	/* its link-time address */
	unsigned long p_memsz;
};

struct loadmap {
	unsigned short version;	/* 0 */
	unsigned short nsegs;
	struct loadseg segs[];
};

/* Runs before any fixup: touches only its arguments (no globals, no GOT). */
static unsigned long translate(const struct loadmap *map, unsigned long vaddr)
{
	int i;

	for (i = 0; i < map->nsegs; i++)
		if (vaddr >= map->segs[i].p_vaddr && vaddr < map->segs[i].p_vaddr + map->segs[i].p_memsz)
			return vaddr - map->segs[i].p_vaddr + map->segs[i].addr;
	return vaddr;
}

/* Apply the .rofixup list [list, end); return where the GOT is (its last
 * entry). Called by _start before anything is relocated. */
__attribute__((used)) unsigned long fixup(const struct loadmap *map, const unsigned long *list,
					   const unsigned long *end)
{
	for (; list < end - 1; list++) {
		unsigned long *word = (unsigned long *)translate(map, *list);
		*word = translate(map, *word);
	}
	return translate(map, *list);
}

/* Relocated data: function descriptors, strings, pointers to data. */
static int twice(int x) { return 2 * x; }
static int square(int x) { return x * x; }
static int negate(int x) { return -x; }

struct op {
	const char *name;
	int (*fn)(int);
};

static struct op ops[] = { { "twice", twice }, { "square", square }, { "negate", negate } };
static const char *greeting[] = { "hello", "from", "an", "FDPIC", "program", 0 };
static struct op *favourite = &ops[1];
static int numbers[4] = { 3, 1, 4, 1 };
static int *third = &numbers[2];
static int calls;	/* bss */

/* What the kernel passed, saved by _start. */
unsigned long kernel_regs[4];	/* r7 (load map), r8, r9, r10 */

static int apply(const struct op *op, int x)
{
	calls++;
	return op->fn(x);
}

static const char *yes(int ok)
{
	return ok ? "yes" : "NO";
}

__attribute__((noinline)) static int program(int argc, char **argv, char **envp)
{
	const struct loadmap *map = (const struct loadmap *)kernel_regs[0];
	int i, sum = 0, writable = -1;

	for (i = 0; greeting[i]; i++) {
		put(greeting[i]);
		put(greeting[i + 1] ? " " : "\n");
	}
	for (i = 0; i < argc; i++) {
		put("argv: ");
		put(argv[i]);
		put("\n");
	}
	for (i = 0; envp[i]; i++)
		;
	put("envp entries: ");
	put_number(i);
	put("\nload map version ");
	put_number(map->version);
	put(", segments ");
	put_number(map->nsegs);
	put("\n");
	for (i = 0; i < map->nsegs; i++)
		if ((unsigned long)&calls - map->segs[i].addr < map->segs[i].p_memsz)
			writable = i;
	put("no interpreter map (r8 = 0): ");
	put(yes(kernel_regs[1] == 0));
	put("\nno dynamic section (r9 = 0): ");
	put(yes(kernel_regs[2] == 0));
	put("\nr10 = the data segment: ");
	put(yes(writable >= 0 && kernel_regs[3] == map->segs[writable].addr));
	put("\n");
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
	put("\ncalls ");
	put_number(calls);
	put(", sum ");
	put_number(sum);
	put("\n");
	return sum & 0x7f;
}

/* Called by _start once the fixups are applied and r9 holds the GOT. */
__attribute__((used)) void start_c(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);

	syscall3(SYS_exit_group, program(argc, argv, argv + argc + 1), 0, 0);
}

/* The kernel's registers are saved on the stack until the GOT is known (the
 * C array lives in data, reachable only through the fixed-up GOT). The
 * literals hold the distance from themselves to the .rofixup bounds: the
 * list is in the text segment, reached PC-relatively. */
__asm__(
	".syntax unified\n"
	".thumb\n"
	".text\n"
	".global _start\n"
	".type _start, %function\n"
	".thumb_func\n"
	"_start:\n"
	"	mov r4, sp\n"
	"	push {r7, r8, r9, r10}\n"
	"	mov r0, r7\n"
	"	adr r3, 1f\n"
	"	ldr r1, [r3]\n"
	"	add r1, r3\n"
	"	adr r3, 2f\n"
	"	ldr r2, [r3]\n"
	"	add r2, r3\n"
	"	bl fixup\n"
	"	mov r9, r0\n"
	"	ldr r3, 3f\n"
	"	ldr r3, [r9, r3]\n"	/* &kernel_regs, through the GOT */
	"	pop {r5, r6, r7, r8}\n"
	"	stm r3, {r5, r6, r7, r8}\n"
	"	mov r0, r4\n"
	"	bl start_c\n"
	"	udf #0\n"
	"	.align 2\n"
	"1: .word __ROFIXUP_LIST__ - 1b\n"
	"2: .word __ROFIXUP_END__ - 2b\n"
	"3: .word kernel_regs(GOT)\n"
	".size _start, . - _start\n");
