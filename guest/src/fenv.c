/*
 * fenv - floating-point environment: rounding modes and exception flags.
 *
 * Usage: fenv
 * musl's fesetround/fetestexcept drive the SSE unit (MXCSR) only when
 * AT_HWCAP says the CPU has SSE, so the auxiliary vector must tell the truth
 * about the emulated CPU (CPUID leaf 1, EDX). Divides 1 by 3 in x87 and in
 * SSE under each rounding mode, and divides by zero in both units to see
 * FE_DIVBYZERO raised. Prints the results; exits 0.
 */
#include "guest.h"
#include <fenv.h>
#include <sys/auxv.h>

static volatile double one = 1.0, three = 3.0, zero = 0.0;

static double x87_divide(double a, double b)
{
	long double q = (long double)a / (long double)b;
	return (double)q;
}

__attribute__((target("sse2,fpmath=sse"), noinline, used)) static double sse_divide(double a, double b)
{
	return a / b;
}

int main(void)
{
	unsigned eax = 1, ebx, ecx, edx;
	__asm__ volatile("cpuid" : "+a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx));
	printf("AT_HWCAP is CPUID.1:EDX: %s\n", getauxval(AT_HWCAP) == edx ? "yes" : "no");
	static const struct {
		int mode;
		const char *name;
	} modes[] = {{FE_TONEAREST, "nearest"}, {FE_UPWARD, "upward"},
		     {FE_DOWNWARD, "downward"}, {FE_TOWARDZERO, "toward zero"}};
	for (int i = 0; i < 4; i++) {
		fesetround(modes[i].mode);
		double x = x87_divide(one, three), s = sse_divide(one, three);
		fesetround(FE_TONEAREST);
		printf("1/3 rounded %s: x87 %.17g, sse %.17g\n", modes[i].name, x, s);
	}
	feclearexcept(FE_ALL_EXCEPT);
	volatile double inf = sse_divide(one, zero);
	printf("sse 1/0 = %g, FE_DIVBYZERO %s\n", inf, fetestexcept(FE_DIVBYZERO) ? "raised" : "not raised");
	feclearexcept(FE_ALL_EXCEPT);
	inf = x87_divide(one, zero);
	printf("x87 1/0 = %g, FE_DIVBYZERO %s\n", inf, fetestexcept(FE_DIVBYZERO) ? "raised" : "not raised");
	return 0;
}
