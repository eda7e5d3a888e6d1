/*
 * exec_reuse - a program loaded where another one ran, one page further on.
 *
 * Usage: exec_reuse PROGRAM
 * Runs PROGRAM (vfork + execve, waits), maps one page, runs PROGRAM again
 * and prints both exit statuses. Without an MMU the first-fit allocator
 * puts the page where the first run's image began and the second run one
 * page further on: every address of the second run's code held other
 * instructions of the first run. The CPU's translations of the first run
 * must all be gone, not only those of the page the mapping reused, or the
 * second run executes the first run's instructions (a crash, typically).
 */
#include "guest.h"
#include <sys/mman.h>
#include <unistd.h>

extern char **environ;

static int run(char *program)
{
	char *argv[] = {program, "7", NULL};
	int status;
	pid_t pid = vfork();
	if (pid == 0) {
		execve(program, argv, environ);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: exec_reuse PROGRAM\n");
		return 2;
	}
	int first = run(argv[1]);
	char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	page[0] = 1;
	int second = run(argv[1]);
	printf("first: %#x\nsecond: %#x\n", first, second);
	return first == second ? 0 : 1;
}
