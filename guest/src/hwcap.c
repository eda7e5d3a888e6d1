/*
 * hwcap - what the kernel says the CPU has: AT_HWCAP (getauxval) in hex,
 * then, on ARM, the name of each bit set (the names /proc/cpuinfo gives
 * them, arch/arm/include/uapi/asm/hwcap.h), then AT_PLATFORM. Exits 0.
 */
#include <stdio.h>
#include <sys/auxv.h>

#ifdef __arm__
static const char *const arm_names[] = {
	"swp", "half", "thumb", "26bit", "fastmult", "fpa", "vfp", "edsp",
	"java", "iwmmxt", "crunch", "thumbee", "neon", "vfpv3", "vfpv3d16", "tls",
	"vfpv4", "idiva", "idivt", "vfpd32", "lpae", "evtstrm",
};
#endif

int main(void)
{
	unsigned long hwcap = getauxval(AT_HWCAP);
	const char *platform = (const char *)getauxval(AT_PLATFORM);

	printf("AT_HWCAP=%#lx\n", hwcap);
#ifdef __arm__
	printf("features:");
	for (unsigned i = 0; i < sizeof arm_names / sizeof arm_names[0]; i++)
		if (hwcap & (1UL << i))
			printf(" %s", arm_names[i]);
	printf("\n");
#endif
	printf("AT_PLATFORM=%s\n", platform ? platform : "(none)");
	return 0;
}
