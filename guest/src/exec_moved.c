/*
 * exec_moved - run a program twice, the second time one page higher.
 *
 * Usage: exec_moved PROGRAM [ARG...]
 * Runs PROGRAM (vfork + execve) and waits for it; then maps one anonymous
 * page and runs PROGRAM again. Prints how each run ended; exits 0 (1 if
 * vfork, waitpid or mmap fails).
 * On a no-MMU machine the page takes (first fit) the first page of the
 * memory the first run's image has just left, so the second run is loaded
 * one page higher, over code translated for the first: what ran there must
 * be forgotten (nommu's ARM machine once ran the old translations, shifted
 * by a page, and the program crashed).
 */
#include "guest.h"
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int run(char **argv)
{
	int status;
	fflush(stdout);
	pid_t pid = vfork();
	if (pid < 0) {
		perror("vfork");
		exit(1);
	}
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid) {
		perror("waitpid");
		exit(1);
	}
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: exec_moved PROGRAM [ARG...]\n");
		return 2;
	}
	print_wait_status("first run", run(argv + 1));
	void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	print_wait_status("second run", run(argv + 1));
	return 0;
}
