/*
 * fragment - run a machine out of memory by fragmentation.
 *
 * Usage: fragment [-f] [BLOCK_KIB]     (block size, default 64 KiB)
 * Maps BLOCK_KIB blocks until memory runs out (or MemFree is used up), unmaps
 * every other one, then asks for blocks a little larger than the largest free
 * one. Without an MMU each mmap must be one contiguous run of physical memory,
 * so those requests fail with ENOMEM although much more memory is free in
 * total; with an MMU they succeed. The numbers come from /proc/meminfo
 * (MemFree and nommu's LargestFreeBlock), and /proc/self/status and
 * /proc/self/maps are summarized. With -f, runs free (found on $PATH)
 * while memory is fragmented: it needs a contiguous block for its own image
 * and stack too, so 512 KiB are set aside first and given back just before.
 * Deterministic for a given --mem.
 * Exits 0.
 */
#include "guest.h"
#include <spawn.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

#define KIB 1024UL
#define MAX_BLOCKS 65536

extern char **environ;
static char *blocks[MAX_BLOCKS];

/* The value of "Key:" in a /proc file, or -1. */
static long proc_value(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	char line[256];
	long v = -1;
	size_t n = strlen(key);
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, key, n) && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static int count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, c;
	while (f && (c = getc(f)) != EOF)
		n += c == '\n';
	if (f)
		fclose(f);
	return n;
}

static void try_mmap(unsigned long kib, const char *why)
{
	char *p = mmap(NULL, kib * KIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("mmap of %lu KiB (%s): ", kib, why);
	if (p == MAP_FAILED) {
		printf("%s (%s)\n", errname(errno), strerror(errno));
		return;
	}
	printf("ok\n");
	munmap(p, kib * KIB);
}

static void run_free(void)
{
	char *argv[] = {"free", NULL};
	pid_t pid;
	int err = posix_spawnp(&pid, "free", NULL, NULL, argv, environ);
	if (err == 0)
		waitpid(pid, NULL, 0);
	else
		printf("cannot start free: %s (%s)\n", errname(err), strerror(err));
}

int main(int argc, char **argv)
{
	int with_free = argc > 1 && !strcmp(argv[1], "-f");
	unsigned long block = arg_ulong(argc, argv, with_free ? 2 : 1, 64);
	setvbuf(stdout, NULL, _IONBF, 0);
	size_t reserve = 512 * KIB;
	char *room = with_free ? mmap(NULL, reserve, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
			       : MAP_FAILED;
	long free_kib = proc_value("/proc/meminfo", "MemFree");
	unsigned long limit = free_kib / block + 1;
	if (limit > MAX_BLOCKS)
		limit = MAX_BLOCKS;
	unsigned long n = 0;
	while (n < limit) {
		char *p = mmap(NULL, block * KIB, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			break;
		blocks[n++] = p;
	}
	printf("block size: %lu KiB\n", block);
	printf("blocks mapped: %lu, then: %s\n", n, n < limit ? errname(errno) : "stopped");
	for (unsigned long i = 0; i < n; i += 2)
		munmap(blocks[i], block * KIB);
	printf("unmapped every other block: %lu\n", (n + 1) / 2);

	long mfree = proc_value("/proc/meminfo", "MemFree");
	long largest = proc_value("/proc/meminfo", "LargestFreeBlock");
	printf("free memory: %ld KiB, largest contiguous block: %ld KiB\n", mfree, largest);
	printf("/proc/self/status VmData: %ld kB\n", proc_value("/proc/self/status", "VmData"));
	printf("/proc/self/maps lines: %d\n", count_lines("/proc/self/maps"));
	try_mmap(2 * block, "two blocks");
	if (largest > 0) {
		try_mmap(largest, "the largest free block");
		try_mmap(largest + 4, "one page more");
	}
	int id = shmget(IPC_PRIVATE, 2 * block * KIB, IPC_CREAT | 0600);
	printf("shmget of %lu KiB: ", 2 * block);
	if (id < 0) {
		printf("%s (%s)\n", errname(errno), strerror(errno));
	} else {
		printf("ok\n");
		shmctl(id, IPC_RMID, NULL);
	}
	if (room != MAP_FAILED) {
		munmap(room, reserve);
		run_free();
	}
	for (unsigned long i = 1; i < n; i += 2)
		munmap(blocks[i], block * KIB);
	return 0;
}
