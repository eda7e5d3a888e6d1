/*
 * spawn - posix_spawn and posix_spawnp, with file actions.
 *
 * Usage: spawn BINDIR [TMPDIR]
 * BINDIR holds the guest programs (natively src/nommu/guestbin, in a guest
 * root "/" or "/bin"); TMPDIR (default ".") receives spawn.out, removed at
 * the end. Runs, printing each result:
 *  1. BINDIR/hello with addopen(1, spawn.out): stdout goes to the file,
 *     which the parent then prints;
 *  2. BINDIR/hello with the file opened by the parent on fd 5, adddup2(5, 1)
 *     and addclose(5);
 *  3. BINDIR/exitcode 7 -> exited 7;
 *  4. a missing program -> posix_spawn returns ENOENT;
 *  5. posix_spawnp("exitcode") with PATH=/nonexistent:BINDIR -> exited 9.
 * argv[0] of each child is a bare name, so the output does not depend on
 * BINDIR. Exits 0 when every check passed.
 */
#include "guest.h"
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <unistd.h>

extern char **environ;
static const char *bindir;
static char out_path[PATH_MAX];

/* Spawns BINDIR/name with argv, waits, returns the wait status (or -1). */
static int run(const char *name, char **argv, posix_spawn_file_actions_t *fa)
{
	char path[PATH_MAX];
	int status, err;
	pid_t pid;
	snprintf(path, sizeof path, "%s/%s", bindir, name);
	fflush(stdout);
	err = posix_spawn(&pid, path, fa, NULL, argv, environ);
	if (err) {
		report_err("posix_spawn", err);
		return -1;
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	print_wait_status(name, status);
	return status;
}

/* Prints the contents of spawn.out, indented. */
static void show_output(void)
{
	char line[256];
	FILE *f = fopen(out_path, "r");
	check("spawn.out exists", f != NULL);
	while (f && fgets(line, sizeof line, f))
		printf("  spawn.out: %s", line);
	if (f)
		fclose(f);
}

static void redirect_with_addopen(void)
{
	char *argv[] = {"hello", "via-addopen", NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	check("addopen child exited 0", run("hello", argv, &fa) == 0);
	posix_spawn_file_actions_destroy(&fa);
	show_output();
}

static void redirect_with_dup2(void)
{
	char *argv[] = {"hello", "via-dup2", NULL};
	posix_spawn_file_actions_t fa;
	int fd = open(out_path, O_WRONLY | O_TRUNC);
	if (fd < 0 || dup2(fd, 5) < 0)
		report("open spawn.out on fd 5", -1);
	close(fd);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, 5, 1);
	posix_spawn_file_actions_addclose(&fa, 5);
	check("dup2 child exited 0", run("hello", argv, &fa) == 0);
	posix_spawn_file_actions_destroy(&fa);
	close(5);
	show_output();
}

static void exit_statuses(void)
{
	char *argv[] = {"exitcode", "7", NULL}, *argvp[] = {"exitcode", "9", NULL};
	char path[PATH_MAX + 16];
	int status, err;
	pid_t pid;
	check("exit status 7", run("exitcode", argv, NULL) == 7 << 8);
	check("missing program fails", run("no-such-program", argv, NULL) == -1);

	snprintf(path, sizeof path, "/nonexistent:%s", bindir);
	setenv("PATH", path, 1);
	fflush(stdout);
	err = posix_spawnp(&pid, "exitcode", NULL, NULL, argvp, environ);
	report_err("posix_spawnp exitcode via PATH", err);
	if (!err && waitpid(pid, &status, 0) == pid)
		print_wait_status("exitcode", status);
	err = posix_spawnp(&pid, "no-such-program", NULL, NULL, argvp, environ);
	report_err("posix_spawnp no-such-program", err);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: spawn BINDIR [TMPDIR]\n");
		return 2;
	}
	bindir = argv[1];
	snprintf(out_path, sizeof out_path, "%s/spawn.out", argc > 2 ? argv[2] : ".");
	unsetenv("NOMMU_TEST_VAR");
	unsetenv("NOMMU_TEST_EMPTY");
	redirect_with_addopen();
	redirect_with_dup2();
	exit_statuses();
	unlink(out_path);
	return guest_status();
}
