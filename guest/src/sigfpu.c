/*
 * sigfpu - the FPU state a signal handler starts with, and the interrupted
 * code's x87 status word after the handler returns.
 *
 * Usage: sigfpu [N]     (N signals, default 3)
 * The main code leaves the x87 unit "dirty": one value on the register stack
 * (TOP = 7) and the zero-divide flag set by 1.0/0.0, then sends itself
 * SIGUSR1 with a raw tkill, from inside the same asm block so that nothing
 * else touches the FPU in between. Linux starts every handler with a clean
 * FPU (fpu__clear_user_states: as after fninit, MXCSR 0x1f80), so the
 * handler sees control word 0x37f, status word 0 and every register empty;
 * sigreturn puts the interrupted state back, so the status word read after
 * the syscall equals the one read before it. The handler dirties the FPU
 * itself on the way out. Prints what the handler saw and whether the state
 * came back; exits 0 when all hold.
 */
#include "guest.h"
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile uint16_t seen_cw, seen_sw, seen_tag;
static volatile uint32_t seen_mxcsr;

__attribute__((target("sse2"))) static void handler(int sig)
{
	uint16_t env[14]; /* fnstenv, 32-bit protected mode: cw, -, sw, -, tag, - ... */
	uint32_t mxcsr;
	__asm__ volatile("fnstenv %0" : "=m"(env));
	__asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
	seen_cw = env[0];
	seen_sw = env[2];
	seen_tag = env[4];
	seen_mxcsr = mxcsr;
	/* leave the handler's own mess: a value pushed, the zero-divide flag */
	__asm__ volatile("fldcw %0\n\tfld1\n\tfldz\n\tfdivrp %%st, %%st(1)" : : "m"(env[0]) : "st");
}

/* 1.0/0.0 left on the x87 stack, then tkill(tid, SIGUSR1); the status word
 * before and after the syscall. ebx may be the PIC register: saved by hand. */
static void dirty_and_signal(int tid, uint16_t *before, uint16_t *after)
{
	uint32_t sw0, sw1;
	__asm__ volatile("fninit\n\t"
			 "fld1\n\t"
			 "fldz\n\t"
			 "fdivrp %%st, %%st(1)\n\t" /* st0 = 1/0 = inf: ZE, TOP 7 */
			 "fnstsw %%ax\n\t"
			 "movzwl %%ax, %%edi\n\t"
			 "push %%ebx\n\t"
			 "mov %%esi, %%ebx\n\t"
			 "mov %2, %%eax\n\t"
			 "mov %3, %%ecx\n\t"
			 "int $0x80\n\t"
			 "pop %%ebx\n\t"
			 "fnstsw %%ax\n\t"
			 "movzwl %%ax, %%eax\n\t"
			 "fstp %%st(0)"
			 : "=&D"(sw0), "=&a"(sw1)
			 : "i"(SYS_tkill), "i"(SIGUSR1), "S"(tid)
			 : "ecx", "edx", "memory", "st");
	*before = (uint16_t)sw0;
	*after = (uint16_t)sw1;
}

int main(int argc, char **argv)
{
	unsigned long n = arg_ulong(argc, argv, 1, 3);
	signal(SIGUSR1, handler);
	int tid = (int)syscall(SYS_gettid);
	for (unsigned long i = 0; i < n; i++) {
		uint16_t before, after;
		seen_cw = seen_sw = seen_tag = 0xdead;
		dirty_and_signal(tid, &before, &after);
		printf("handler starts with: control word %#x, status word %#x, tag word %#x, "
		       "mxcsr %#x\n",
		       seen_cw, seen_sw, seen_tag, (unsigned)seen_mxcsr);
		printf("interrupted status word: zero-divide %s, top %u, %s after the handler\n",
		       before & 0x4 ? "set" : "clear", (unsigned)(before >> 11) & 7,
		       before == after ? "the same" : "changed");
		check("the handler starts with a clean FPU",
		      seen_cw == 0x37f && seen_sw == 0 && seen_tag == 0xffff && seen_mxcsr == 0x1f80);
		check("sigreturn restores the interrupted status word",
		      (before & 0x3804) == 0x3804 && before == after);
	}
	return guest_status();
}
