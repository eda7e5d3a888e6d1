/*
 * trampoline - signal handlers without SA_RESTORER return through code the
 * kernel writes on the stack.
 *
 * Usage: trampoline
 * Installs SIGUSR1 and SIGUSR2 handlers with the raw rt_sigaction syscall
 * and no restorer (musl's sigaction always supplies one), so each handler
 * returns into the frame's retcode: `movl $NR, %eax; int $0x80` (with a
 * `popl %eax` first for the old, non-SA_SIGINFO frame). Raises them from
 * different stack depths, so frames and their code land at different
 * places, over code an earlier frame left there. Prints the counts; exits 0.
 */
#include "guest.h"
#include <sys/syscall.h>
#include <unistd.h>

struct kernel_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	unsigned long mask[2];
};

static volatile int usr1, usr2;

static void on_usr1(int sig) { usr1++; }
static void on_usr2(int sig) { usr2 += 2; }

/* Raises both signals `depth` calls deep (a different stack address each). */
static int deep(int depth)
{
	volatile char pad[40];
	pad[0] = (char)depth;
	if (depth > 0)
		return deep(depth - 1) + pad[0];
	raise(SIGUSR1);
	raise(SIGUSR2);
	return 0;
}

int main(void)
{
	struct kernel_sigaction rt = {on_usr1, 0x4 /* SA_SIGINFO */, 0, {0, 0}};
	struct kernel_sigaction old = {on_usr2, 0, 0, {0, 0}};
	if (syscall(SYS_rt_sigaction, SIGUSR1, &rt, NULL, 8) ||
	    syscall(SYS_rt_sigaction, SIGUSR2, &old, NULL, 8)) {
		report("rt_sigaction", -1);
		return 1;
	}
	for (int round = 0; round < 3; round++)
		for (int depth = 0; depth < 20; depth++)
			deep(depth);
	printf("SIGUSR1 handled %d times (rt frames), SIGUSR2 %d (old frames, 2 each)\n", usr1,
	       usr2);
	return !(usr1 == 60 && usr2 == 120);
}
