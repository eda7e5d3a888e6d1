/*
 * hog - a memory hog must get ENOMEM, not take the machine down.
 *
 * Usage: hog [CHUNK]        (CHUNK bytes per malloc, default 65536)
 * Allocates CHUNK at a time, writing to every page, until malloc fails;
 * prints how much it got (in MiB, rounded down) and the errno, which must be
 * ENOMEM. Then a 2 GiB malloc and a 2 GiB mmap must fail with ENOMEM too,
 * and after freeing everything one chunk can be allocated again. Exits 0
 * when every check passed.
 */
#include "guest.h"
#include <sys/mman.h>

int main(int argc, char **argv)
{
	size_t chunk = arg_ulong(argc, argv, 1, 65536);
	size_t total = 0, n = 0, cap = 1024;
	char **blocks = malloc(cap * sizeof *blocks);
	setvbuf(stdout, NULL, _IONBF, 0);
	for (;;) {
		if (n == cap) {
			char **more = realloc(blocks, 2 * cap * sizeof *blocks);
			if (!more)
				break;
			blocks = more, cap *= 2;
		}
		char *p = malloc(chunk);
		if (!p)
			break;
		for (size_t i = 0; i < chunk; i += 4096)
			p[i] = 1;
		blocks[n++] = p;
		total += chunk;
	}
	int e = errno;
	printf("malloc failed after %zu MiB: %s\n", total >> 20, errname(e));
	check("malloc failed with ENOMEM", e == ENOMEM);
	errno = 0;
	check("malloc(2 GiB) fails with ENOMEM", !malloc(0x7fffffff) && errno == ENOMEM);
	void *m = mmap(NULL, 0x7fff0000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	check("mmap(2 GiB) fails with ENOMEM", m == MAP_FAILED && errno == ENOMEM);
	while (n)
		free(blocks[--n]);
	free(blocks);
	check("after free, malloc works again", malloc(chunk) != NULL);
	return guest_status();
}
