/*
 * futex_fork - which word a futex is, across fork (needs an MMU).
 *
 * Usage: futex_fork
 * After fork, parent and child each have their own copy of a private
 * variable at the same address: a FUTEX_WAKE in the parent must not wake the
 * child waiting on its copy (the child's wait times out). A word in a
 * MAP_SHARED mapping is one word in both: the parent's wake wakes the child.
 * Prints one line per case; exits 0. Without an MMU fork fails: prints
 * "fork: EINVAL ..." and exits 1.
 */
#include "guest.h"
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint32_t private_word;

static long futex(volatile uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

/* The child waits on `word` (for at most `seconds`) and exits with 0 if woken,
 * 2 on a timeout, 3 otherwise. The parent, meanwhile, wakes `word` in its own
 * memory every 10 ms for `tries` tries, or until a wake reports a waiter.
 * Prints what each side saw. */
static int game(const char *what, volatile uint32_t *word, int op_private, int seconds, int tries)
{
	pid_t pid = fork();
	if (pid < 0) {
		report("fork", -1);
		return 1;
	}
	if (pid == 0) {
		struct timespec ts = {seconds, 0};
		long rc = futex(word, FUTEX_WAIT | op_private, 0, &ts);
		_exit(rc == 0 ? 0 : errno == ETIMEDOUT ? 2 : 3);
	}
	long woke = 0;
	for (int i = 0; i < tries && woke == 0; i++) {
		struct timespec tick = {0, 10 * 1000 * 1000};
		nanosleep(&tick, NULL);
		woke = futex(word, FUTEX_WAKE | op_private, 1, NULL);
	}
	int status;
	waitpid(pid, &status, 0);
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
	printf("%s: the parent's wake woke %ld; the child's wait %s\n", what, woke,
	       code == 0 ? "was woken" : code == 2 ? "timed out" : "failed");
	return 0;
}

int main(void)
{
	uint32_t *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED) {
		report("mmap", -1);
		return 1;
	}
	if (game("private word", &private_word, FUTEX_PRIVATE_FLAG, 1, 30))
		return 1;
	if (game("private word, non-private op", &private_word, 0, 1, 30))
		return 1;
	if (game("MAP_SHARED word", shared, 0, 10, 500))
		return 1;
	return 0;
}
