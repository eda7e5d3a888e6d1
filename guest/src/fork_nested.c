/*
 * fork_nested - forks within forks: a process tree three levels deep.
 *
 * Usage: fork_nested [FANOUT]   (default 2)
 * The root (level 0, named "r") forks FANOUT children ("r.1", "r.2"...), each
 * of which forks FANOUT children of its own, down to level 3. Every process
 * prints its name, level and whether its parent is who it should be, then
 * forks and waits for its children one at a time (so the output order is a
 * fixed depth-first walk), and exits with the number of processes in its
 * subtree; the parent adds that up. Prints the total at the root, which must
 * be 1 + F + F^2 + F^3. Needs an MMU (fork). Exits 0 if the count is right.
 */
#include "guest.h"
#include <unistd.h>

enum { DEPTH = 3 };

/* Runs node `name` at `level`; returns the number of processes in its subtree. */
static int node(const char *name, int level, int fanout, pid_t expected_parent)
{
	int count = 1;
	printf("%*s%s: level %d, parent right: %s\n", 2 * level, "", name, level,
	       getppid() == expected_parent ? "yes" : "no");
	if (level == DEPTH)
		return count;
	for (int i = 1; i <= fanout; i++) {
		char child[64];
		int status;
		pid_t me = getpid();
		snprintf(child, sizeof child, "%s.%d", name, i);
		fflush(stdout);
		pid_t pid = fork();
		if (pid < 0) {
			report("fork", -1);
			return -1000;
		}
		if (pid == 0) {
			int n = node(child, level + 1, fanout, me);
			fflush(stdout);
			_exit(n < 0 ? 255 : n);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) == 255)
			return -1000;
		count += WEXITSTATUS(status);
	}
	return count;
}

int main(int argc, char **argv)
{
	int fanout = (int)arg_ulong(argc, argv, 1, 2);
	int expect = 1 + fanout + fanout * fanout + fanout * fanout * fanout;
	int total = node("r", 0, fanout, getppid());
	printf("processes: %d (expected %d)\n", total, expect);
	return total == expect ? 0 : 1;
}
