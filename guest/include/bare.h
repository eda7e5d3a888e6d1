/*
 * bare.h: what a freestanding ARM (Thumb-2) guest program needs to print
 * without a C library: the write and exit_group calls made with `svc #0`
 * (the EABI: number in r7, arguments from r0, result in r0), and output of
 * strings and numbers. Used by the programs whose start-up no C library
 * supports here: bFLT (guest/flat/) and ELF-FDPIC (guest/fdpic/).
 */
#ifndef NOMMU_GUEST_BARE_H
#define NOMMU_GUEST_BARE_H

#define SYS_exit_group 248
#define SYS_write 4

static long syscall3(long n, long a, long b, long c)
{
	register long r7 __asm__("r7") = n;
	register long r0 __asm__("r0") = a;
	register long r1 __asm__("r1") = b;
	register long r2 __asm__("r2") = c;
	__asm__ volatile("svc #0" : "+r"(r0) : "r"(r7), "r"(r1), "r"(r2) : "memory");
	return r0;
}

static unsigned long length(const char *s)
{
	unsigned long n = 0;
	while (s[n])
		n++;
	return n;
}

static void put(const char *s)
{
	syscall3(SYS_write, 1, (long)s, (long)length(s));
}

static void put_number(long v)
{
	char buf[16], *p = buf + sizeof buf;
	unsigned long u = v < 0 ? -v : v;
	*--p = 0;
	do
		*--p = '0' + u % 10;
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	put(p);
}

#endif
