/*
 * free - show memory use, from /proc/meminfo.
 *
 * Usage: free [-k|-m]     (KiB, the default, or MiB)
 * Prints total, used (total - free) and free memory, and "available" when
 * MemAvailable is given. On nommu, /proc/meminfo also has a line
 * "LargestFreeBlock:": without an MMU a program's image, stack and every
 * malloc'd block must each be one physically contiguous run of memory, so
 * what matters is not only how much is free but the largest single free
 * block; free then reports it and the fragmentation it implies.
 * Exits 0, or 1 if /proc/meminfo cannot be read.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	long total = -1, mfree = -1, avail = -1, largest = -1;
	int mib = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-m") == 0) {
			mib = 1;
		} else if (strcmp(argv[i], "-k") != 0) {
			fprintf(stderr, "usage: free [-k|-m]\n");
			return 1;
		}
	}
	FILE *f = fopen("/proc/meminfo", "r");
	if (!f) {
		fprintf(stderr, "free: /proc/meminfo: %s\n", strerror(errno));
		return 1;
	}
	char line[256];
	while (fgets(line, sizeof line, f)) {
		char key[64];
		long v;
		if (sscanf(line, "%63[^:]: %ld", key, &v) != 2)
			continue;
		if (!strcmp(key, "MemTotal")) total = v;
		else if (!strcmp(key, "MemFree")) mfree = v;
		else if (!strcmp(key, "MemAvailable")) avail = v;
		else if (!strcmp(key, "LargestFreeBlock")) largest = v;
	}
	fclose(f);
	if (total < 0 || mfree < 0) {
		fprintf(stderr, "free: /proc/meminfo lacks MemTotal or MemFree\n");
		return 1;
	}
	long div = mib ? 1024 : 1;
	printf("%-7s %10s %10s %10s", "", "total", "used", "free");
	if (avail >= 0)
		printf(" %10s", "available");
	printf("\n%-7s %10ld %10ld %10ld", "Mem:", total / div, (total - mfree) / div, mfree / div);
	if (avail >= 0)
		printf(" %10ld", avail / div);
	printf("\n");
	if (largest >= 0) {
		printf("largest contiguous free block: %ld KiB", largest);
		if (mfree > 0)
			printf(" (%ld%% of free memory)", largest * 100 / mfree);
		printf("\n");
		if (mfree > 0 && largest < mfree)
			printf("no MMU: a program or allocation larger than %ld KiB cannot be loaded,\n"
			       "though %ld KiB are free in total (fragmentation)\n", largest, mfree);
	}
	return 0;
}
