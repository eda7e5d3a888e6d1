/*
 * fpsig - a signal handler that uses the FPU must not disturb the code it
 * interrupted.
 *
 * Usage: fpsig [N]     (N loop iterations, default 100000000)
 * The main loop counts N in an x87 register (st0 += st1, with st1 = 1.0) and
 * in an SSE register (paddd), with a non-default x87 rounding mode and MXCSR
 * set, while a 1 ms interval timer interrupts it. The SIGALRM handler wrecks
 * all of that: fninit, another control word, zeroed xmm registers, another
 * MXCSR. The kernel saves the FPU/SSE state in the signal frame and
 * sigreturn puts it back, so the loop ends with both counts N and its modes
 * intact. First it prints the FPU state a program starts with (Linux: control
 * word 0x37f, MXCSR 0x1f80) and 1/3 computed with it. Prints the counts and
 * checks; exits 0 when all hold.
 */
#include "guest.h"
#include <stdint.h>
#include <sys/time.h>

static volatile unsigned long signals;

__attribute__((target("sse2"))) static void wreck_fpu(int sig)
{
	static const uint16_t cw = 0x037f; /* fninit's default: round to nearest */
	static const uint32_t mxcsr = 0x7f80 | 0x6000; /* masks + round toward zero */
	__asm__ volatile("fninit\n\t"
			 "fldcw %0\n\t"
			 "fldpi\n\tfldpi\n\tfldpi\n\tfldpi\n\tfldpi\n\tfldpi\n\tfldpi\n\t"
			 "pxor %%xmm1, %%xmm1\n\t"
			 "pcmpeqd %%xmm3, %%xmm3\n\t"
			 "ldmxcsr %1\n\t"
			 "fninit"
			 :
			 : "m"(cw), "m"(mxcsr)
			 : "xmm1", "xmm3", "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)",
			   "st(6)", "st(7)", "memory");
	signals++;
}

__attribute__((target("sse2"))) int main(int argc, char **argv)
{
	unsigned long n = arg_ulong(argc, argv, 1, 100000000);
	static const uint16_t cw = 0x0f7f;	 /* round toward zero, extended precision */
	static const uint32_t mxcsr = 0x1f80 | 0x4000; /* masks + round up */
	static const uint32_t ones[4] = {1, 1, 1, 1};
	uint16_t cw_after;
	uint32_t mxcsr_after, sse_count[4];
	long double x87_count;
	struct sigaction sa = {.sa_handler = wreck_fpu};
	struct itimerval every_ms = {{0, 1000}, {0, 1000}};

	uint16_t cw_start;
	uint32_t mxcsr_start;
	volatile long double third = 1.0L;
	volatile double dthird = 1.0;
	__asm__ volatile("fnstcw %0\n\tstmxcsr %1" : "=m"(cw_start), "=m"(mxcsr_start));
	third /= 3;
	dthird /= 3;
	printf("at start: control word %#x, mxcsr %#x, 1/3 = %.20Lf (long double), %.17g (double)\n",
	       cw_start, mxcsr_start, (long double)third, (double)dthird);
	fflush(stdout);

	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &every_ms, NULL);
	__asm__ volatile("fldcw %[cw]\n\t"
			 "ldmxcsr %[mxcsr]\n\t"
			 "movdqu %[ones], %%xmm3\n\t"
			 "pxor %%xmm1, %%xmm1\n\t"
			 "fld1\n\t"
			 "fldz\n\t"
			 "1:\n\t"
			 "fadd %%st(1), %%st(0)\n\t"
			 "paddd %%xmm3, %%xmm1\n\t"
			 "dec %[n]\n\t"
			 "jnz 1b\n\t"
			 "fstpt %[count]\n\t"
			 "fstp %%st(0)\n\t"
			 "movdqu %%xmm1, %[sse]\n\t"
			 "fnstcw %[cw_after]\n\t"
			 "stmxcsr %[mxcsr_after]"
			 : [n] "+r"(n), [count] "=m"(x87_count), [sse] "=m"(sse_count),
			   [cw_after] "=m"(cw_after), [mxcsr_after] "=m"(mxcsr_after)
			 : [cw] "m"(cw), [mxcsr] "m"(mxcsr), [ones] "m"(ones)
			 : "xmm1", "xmm3", "st", "st(1)", "cc", "memory");
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);

	unsigned long want = arg_ulong(argc, argv, 1, 100000000);
	int ok = x87_count == (long double)want && sse_count[0] == (uint32_t)want &&
		 sse_count[3] == (uint32_t)want && cw_after == cw && mxcsr_after == mxcsr;
	printf("x87 count %s, sse count %s, control word %s, mxcsr %s, interrupted: %s\n",
	       x87_count == (long double)want ? "right" : "WRONG",
	       sse_count[0] == (uint32_t)want && sse_count[3] == (uint32_t)want ? "right" : "WRONG",
	       cw_after == cw ? "kept" : "LOST", mxcsr_after == mxcsr ? "kept" : "LOST",
	       signals ? "yes" : "no");
	return ok && signals ? 0 : 1;
}
