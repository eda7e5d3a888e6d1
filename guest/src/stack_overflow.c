/*
 * stack_overflow - a recursion deeper than its stack (for nommu run's hint
 * and nommu check).
 *
 * Usage: stack_overflow main|thread|vfork|calls [KIB]
 * recurse() goes KIB levels deep (default 160), each frame holding a 1 KiB
 * array it fills: 160 KiB of stack, more than the default 128 KiB. "calls"
 * recurses in main too, through down(), whose frames hold only what call and
 * push store (so the first store below the stack is a call's). "main"
 * recurses in the main thread, "thread" in a pthread (musl's default thread
 * stack is the main one's size), "vfork" in a vfork child, on its parent's
 * stack, which then _exits with the result's low byte. Prints "depth N:
 * sum S". On Linux (an MMU, an 8 MiB stack) nothing overflows. On a no-MMU
 * board the stores below the stack land in the memory below it (for the
 * main stack: the end of the program's own data, where libc keeps its
 * state); what happens then depends on what was there. stack_overflow_big is the same program linked
 * with a 1 MiB stack (-Wl,-z,stack-size): nothing overflows.
 */
#include "guest.h"
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

static unsigned long levels;

__attribute__((noinline)) static unsigned long recurse(unsigned long depth)
{
	volatile unsigned char frame[1024];
	for (unsigned i = 0; i < sizeof frame; i++)
		frame[i] = (unsigned char)(depth + i); /* CHECK: stack-overflow */
	unsigned long sum = depth ? recurse(depth - 1) : 0;
	return sum + frame[depth % sizeof frame];
}

/* About 16 bytes of stack a level: a return address, a saved frame pointer... */
__attribute__((noinline)) static unsigned long down(unsigned long n)
{
	if (!n)
		return 0;
	unsigned long below = down(n - 1); /* CHECK: stack-overflow-call */
	__asm__ volatile("" ::: "memory");
	return below + 1;
}

static void *in_thread(void *arg)
{
	return (void *)(uintptr_t)recurse(levels);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "main";
	levels = arg_ulong(argc, argv, 2, 160);
	unsigned long sum = 0;
	if (!strcmp(mode, "main")) {
		sum = recurse(levels);
	} else if (!strcmp(mode, "calls")) {
		sum = down(levels * 64);
	} else if (!strcmp(mode, "thread")) {
		pthread_t th;
		void *result;
		if (pthread_create(&th, NULL, in_thread, NULL) || pthread_join(th, &result))
			return 2;
		sum = (uintptr_t)result;
	} else if (!strcmp(mode, "vfork")) {
		pid_t pid = vfork();
		if (pid == 0)
			_exit((int)(recurse(levels) & 0xff));
		int status = 0;
		waitpid(pid, &status, 0);
		print_wait_status("child", status);
		return 0;
	} else {
		fprintf(stderr, "usage: stack_overflow main|thread|vfork|calls [KIB]\n");
		return 2;
	}
	printf("depth %lu: sum %lu\n", levels, sum);
	return 0;
}
