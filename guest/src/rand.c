/*
 * rand - the getrandom syscall.
 *
 * Usage: rand
 * Asks getrandom for 16 bytes twice (once with GRND_NONBLOCK) and prints the
 * counts and facts about the bytes (not the bytes). The checks fail only with
 * probability 2^-128. Exits 0 when every check passed.
 */
#include "guest.h"
#include <sys/random.h>

static int all_zero(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

int main(void)
{
	unsigned char a[16] = {0}, b[16] = {0};
	ssize_t na = getrandom(a, sizeof a, 0);
	ssize_t nb = getrandom(b, sizeof b, GRND_NONBLOCK);
	printf("getrandom: %zd bytes\n", na);
	printf("getrandom GRND_NONBLOCK: %zd bytes\n", nb);
	check("bytes are not all zero", !all_zero(a, sizeof a));
	check("two calls differ", memcmp(a, b, sizeof a) != 0);
	return guest_status();
}
