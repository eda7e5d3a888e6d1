/*
 * ps - list processes, from /proc.
 *
 * Usage: ps
 * For each numeric entry of /proc (sorted by pid), reads /proc/PID/stat
 * (state and parent), /proc/PID/status and /proc/PID/cmdline, and prints
 *   PID  PPID STAT MEM                      CMD
 * CMD is the command line, or [name] if it is empty (kernel threads, or a
 * process that is still a vfork child that has not called execve).
 * MEM tells where the process's memory is: on nommu, a vfork child that has
 * not yet called execve or _exit runs in its parent's memory, and nommu adds
 * the line "NommuVforkParent:\t<pid>" to its status; MEM then says
 * "vfork-borrowed from <pid>". Otherwise MEM is the resident size (VmRSS)
 * when the status file gives one, else "-".
 * Exits 0, or 1 if /proc cannot be read.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads a small file into buf (NUL-terminated); returns its length or -1. */
static ssize_t slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	size_t len = 0;
	ssize_t n;
	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = 0;
	return len;
}

static int compare(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static void show(int pid)
{
	char path[64], stat[1024], status[4096], cmd[4096], mem[64] = "-";
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	if (slurp(path, stat, sizeof stat) <= 0)
		return; /* gone meanwhile */
	/* "pid (comm) S ppid ...": comm may hold spaces and parentheses. */
	char *open_paren = strchr(stat, '('), *close_paren = strrchr(stat, ')');
	if (!open_paren || !close_paren)
		return;
	*close_paren = 0;
	const char *comm = open_paren + 1;
	char state[8] = "?";
	int ppid = 0;
	sscanf(close_paren + 1, " %7s %d", state, &ppid);

	snprintf(path, sizeof path, "/proc/%d/status", pid);
	if (slurp(path, status, sizeof status) > 0) {
		char *line;
		if ((line = strstr(status, "NommuVforkParent:")))
			snprintf(mem, sizeof mem, "vfork-borrowed from %d", atoi(line + 17));
		else if ((line = strstr(status, "VmRSS:")))
			snprintf(mem, sizeof mem, "%ld KiB", strtol(line + 6, NULL, 10));
	}

	snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
	ssize_t n = slurp(path, cmd, sizeof cmd);
	if (n > 0) {
		for (ssize_t i = 0; i < n - 1; i++)
			if (cmd[i] == 0)
				cmd[i] = ' ';
	} else {
		snprintf(cmd, sizeof cmd, "[%s]", comm);
	}
	printf("%5d %5d %-4s %-24s %s\n", pid, ppid, state, mem, cmd);
}

int main(void)
{
	DIR *d = opendir("/proc");
	if (!d) {
		fprintf(stderr, "ps: /proc: %s\n", strerror(errno));
		return 1;
	}
	int *pids = NULL, n = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pids = realloc(pids, (n + 1) * sizeof *pids);
		pids[n++] = atoi(e->d_name);
	}
	closedir(d);
	qsort(pids, n, sizeof *pids, compare);
	printf("%5s %5s %-4s %-24s %s\n", "PID", "PPID", "STAT", "MEM", "CMD");
	for (int i = 0; i < n; i++)
		show(pids[i]);
	free(pids);
	return 0;
}
