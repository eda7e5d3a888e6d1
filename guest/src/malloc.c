/*
 * malloc - the allocator on top of brk/mmap/munmap/mremap.
 *
 * Usage: malloc
 * Allocates and frees many small blocks and several large ones (> 128 KiB,
 * which musl's mallocng serves with mmap), fills each with a pattern and
 * checks it, grows a block with realloc from small to large and back (musl
 * tries mremap; on no-MMU mremap cannot move, so musl must fall back to
 * copying), and checks calloc memory is zero. Prints "ok" per stage and exits
 * 0, or prints what broke and exits 1.
 */
#include "guest.h"
#include <stdint.h>

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 31 + seed);
}

static int intact(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(i * 31 + seed))
			return 0;
	return 1;
}

/* Holds 2000 live blocks of 1..600 bytes, replaces half of them per round. */
static int small_blocks(void)
{
	enum { N = 2000 };
	static unsigned char *p[N];
	static size_t size[N];
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < N; i++) {
			if (p[i] && (i + round) % 2)
				continue;
			free(p[i]);
			size[i] = 1 + (i * 7 + round * 13) % 600;
			if (!(p[i] = malloc(size[i])))
				return 0;
			fill(p[i], size[i], i);
		}
		for (int i = 0; i < N; i++)
			if (!intact(p[i], size[i], i))
				return 0;
	}
	for (int i = 0; i < N; i++)
		free(p[i]);
	return 1;
}

/* Sizes from 128 KiB to 4 MiB, all live at once. */
static int large_blocks(void)
{
	static const size_t sizes[] = {131072, 200000, 1 << 20, 3 << 20, 4 << 20};
	unsigned char *p[5];
	for (int i = 0; i < 5; i++) {
		p[i] = malloc(sizes[i]);
		if (!p[i])
			return 0;
		fill(p[i], sizes[i], 100 + i);
	}
	int ok = 1;
	for (int i = 0; i < 5; i++) {
		ok &= intact(p[i], sizes[i], 100 + i);
		free(p[i]);
	}
	return ok;
}

/* realloc keeps the common prefix through small -> large -> small. */
static int realloc_chain(void)
{
	static const size_t sizes[] = {16, 1000, 100000, 300000, 2 << 20, 5000, 40};
	size_t have = 0;
	unsigned char *p = NULL;
	for (int i = 0; i < 7; i++) {
		unsigned char *q = realloc(p, sizes[i]);
		if (!q || !intact(q, have < sizes[i] ? have : sizes[i], 7))
			return 0;
		p = q;
		fill(p, sizes[i], 7);
		have = sizes[i];
	}
	free(p);
	return 1;
}

static int calloc_zeroes(void)
{
	static const size_t sizes[] = {10, 4096, 200000, 1 << 20};
	for (int i = 0; i < 4; i++) {
		unsigned char *p = calloc(sizes[i], 1);
		for (size_t j = 0; p && j < sizes[i]; j++)
			if (p[j])
				return 0;
		if (!p)
			return 0;
		fill(p, sizes[i], 1);
		free(p);
	}
	return 1;
}

int main(void)
{
	check("small blocks ok", small_blocks());
	check("large blocks ok", large_blocks());
	check("realloc ok", realloc_chain());
	check("calloc zeroed ok", calloc_zeroes());
	if (guest_status() == 0)
		printf("ok\n");
	return guest_status();
}
