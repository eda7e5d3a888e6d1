/* x87: results and status-word flags of the x87 FPU, printed so that a run
 * under nommu can be compared with a real CPU.
 *
 *   x87 results   what must be right in every mode: FPREM/FPREM1 (fmod,
 *                 remquo) in full precision, FSQRT's C1 (musl's sqrt uses it
 *                 to undo double rounding), F2XM1/FYL2X/FYL2XP1/FPATAN
 *                 (expl, logl, log1pl, atan2l, powl...), log(0) = -inf with
 *                 a divide-by-zero;
 *   x87 flags     the exception flags each ordinary operation raises
 *                 (0/0 is invalid, overflow, underflow, inexact...): right
 *                 with `--fpu exact`.
 */
#include <fenv.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint32_t seed = 12345;

static uint32_t next(void)
{
	seed = seed * 1103515245u + 12345u;
	return seed;
}

static uint64_t hash = 1469598103934665603ull;

static void mix(const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		hash = (hash ^ c[i]) * 1099511628211ull;
}

/* -- results ------------------------------------------------------------- */

static void fmod_powers(void)
{
	char line[65];
	for (int i = 0; i < 1024; i += 64) {
		for (int j = 0; j < 64; j++)
			line[j] = '0' + (int)fmod(ldexp(1.0, i + j), 3.0);
		line[64] = 0;
		printf("fmod(2^%d.., 3) %s\n", i, line);
	}
	long double big = ldexpl(1.0L, 16000);
	printf("fmodl(2^16000, 3) %La\n", fmodl(big, 3.0L));
	printf("fmodl(2^16000, 0.1) %La\n", fmodl(big, 0.1L));
}

static void remainders(void)
{
	static const double xs[] = {7.0, -7.0, 1e300, 5.5, 123456789.123, 0x1p-1000, 1e22};
	static const double ys[] = {3.0, 0.7, -2.5, 1e-300, 0x1p-1070};
	for (size_t i = 0; i < sizeof xs / sizeof *xs; i++)
		for (size_t j = 0; j < sizeof ys / sizeof *ys; j++) {
			int q;
			double r = remquo(xs[i], ys[j], &q);
			printf("remquo(%a, %a) = %a q%%8 %d  remainder %a  fmod %a\n", xs[i], ys[j], r,
			       q & 7, remainder(xs[i], ys[j]), fmod(xs[i], ys[j]));
		}
}

static unsigned fsqrt_status(long double *x)
{
	unsigned short sw;
	__asm__ volatile("fclex\n\tfsqrt\n\tfnstsw %1" : "+t"(*x), "=m"(sw));
	return sw;
}

static void square_roots(void)
{
	static const long double xs[] = {2.0L, 3.0L, 4.0L, 0x1.fffffffffffffffep0L, 1e-4940L, 10.0L};
	for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) {
		long double x = xs[i];
		unsigned sw = fsqrt_status(&x);
		printf("fsqrt(%La) = %La  C1 %u PE %u\n", xs[i], x, (sw >> 9) & 1, (sw >> 5) & 1);
	}
	int n = 0;
	for (int i = 0; i < 4000; i++) {
		uint64_t bits = (uint64_t)next() << 32 | next();
		double x;
		bits &= 0x7fffffffffffffffull;
		memcpy(&x, &bits, sizeof x);
		if (!isfinite(x))
			continue;
		double r = sqrt(x);
		float f = sqrtf((float)x);
		mix(&r, sizeof r);
		mix(&f, sizeof f);
		n++;
	}
	printf("sqrt and sqrtf of %d numbers: %016llx\n", n, (unsigned long long)hash);
}

static void log_of_zero(void)
{
	feclearexcept(FE_ALL_EXCEPT);
	volatile double zero = 0.0;
	double l = log(zero);
	printf("log(0) = %a divbyzero %d\n", l, !!fetestexcept(FE_DIVBYZERO));
	feclearexcept(FE_ALL_EXCEPT);
	long double ll = log2l(zero);
	printf("log2l(0) = %La divbyzero %d\n", ll, !!fetestexcept(FE_DIVBYZERO));
}

static void long_doubles(void)
{
	static const long double xs[] = {0.5L, 1.5L, -0.75L, 2.75L, 10.0L, 1e-5L, 0.9999L, 100.25L};
	for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) {
		long double x = xs[i];
		printf("%La: expl %La exp2l %La expm1l %La\n", x, expl(x), exp2l(x), expm1l(x));
		printf("  logl %La log2l %La log10l %La log1pl %La\n", logl(fabsl(x)),
		       log2l(fabsl(x)), log10l(fabsl(x)), log1pl(x));
		printf("  atanl %La atan2l %La powl %La\n", atanl(x), atan2l(x, 0.3L),
		       powl(fabsl(x), 0.7L));
		printf("  exp %a log %a atan2 %a pow %a\n", exp((double)x), log(fabs((double)x)),
		       atan2((double)x, -2.0), pow(fabs((double)x), 2.5));
	}
}

static void results(void)
{
	fmod_powers();
	remainders();
	square_roots();
	log_of_zero();
	long_doubles();
}

/* -- flags --------------------------------------------------------------- */

static volatile double zero = 0.0, one = 1.0, three = 3.0, huge = 1e308, tiny = 1e-308;
static volatile double inf = INFINITY, nan_ = NAN;
static volatile long double lhuge = 1e4900L, ltiny = 1e-4900L;

static void show(const char *what)
{
	int e = fetestexcept(FE_ALL_EXCEPT);
	printf("%-22s invalid %d divbyzero %d overflow %d underflow %d inexact %d\n", what,
	       !!(e & FE_INVALID), !!(e & FE_DIVBYZERO), !!(e & FE_OVERFLOW),
	       !!(e & FE_UNDERFLOW), !!(e & FE_INEXACT));
	feclearexcept(FE_ALL_EXCEPT);
}

static void flags(void)
{
	volatile double d;
	volatile float f;
	volatile long double l;
	volatile int i;
	feclearexcept(FE_ALL_EXCEPT);
	d = zero / zero;
	show("0/0");
	d = one / zero;
	show("1/0");
	d = inf - inf;
	show("inf-inf");
	d = sqrt(-one);
	show("sqrt(-1)");
	d = huge * 10.0;
	show("1e308*10");
	d = tiny / 1e10;
	show("1e-308/1e10");
	d = one / three;
	show("1/3");
	d = three * 2.0;
	show("3*2");
	f = (float)huge;
	show("(float)1e308");
	f = (float)tiny;
	show("(float)1e-308");
	f = (float)(one / three);
	show("(float)(1/3)");
	i = (int)nan_;
	show("(int)NaN");
	i = (int)(huge);
	show("(int)1e308");
	i = (int)(three / 2);
	show("(int)1.5");
	l = lhuge * lhuge;
	show("1e4900L^2");
	l = ltiny * ltiny;
	show("1e-4900L^2");
	l = (long double)one / 3;
	show("1.0L/3");
	d = nan_ + one;
	show("NaN+1");
	i = nan_ < one;
	show("NaN<1");
	i = isless(nan_, one);
	show("isless(NaN,1)");
	d = exp(1000.0);
	show("exp(1000)");
	d = exp(-1000.0);
	show("exp(-1000)");
	d = log(-one);
	show("log(-1)");
	d = pow(zero, -one);
	show("pow(0,-1)");
	d = fmod(one, zero);
	show("fmod(1,0)");
	d = atan2(one, zero);
	show("atan2(1,0)");
	(void)d, (void)f, (void)l, (void)i;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "flags") == 0)
		flags();
	else
		results();
	return 0;
}
