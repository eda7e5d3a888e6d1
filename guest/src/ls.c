/*
 * ls - list directory contents.
 *
 * Usage: ls [-1aAdl] [FILE...]          (default: .)
 *   -l  long format: mode, links, uid, gid, size, modification time, name
 *       (numeric ids: the machine has no user database)
 *   -a  include names starting with "."      -A  the same, without . and ..
 *   -1  one name per line (the default when stdout is not a terminal)
 *   -d  list directories themselves, not their contents
 * Names are sorted by strcmp. File operands come first, then each directory
 * (with a "DIR:" heading when there are several operands). On a terminal,
 * short listings are laid out in columns. Exits 0, 1 if an operand could not
 * be listed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int opt_long, opt_all, opt_almost, opt_one, opt_dir;

static int compare(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void mode_string(mode_t m, char *s)
{
	s[0] = S_ISDIR(m) ? 'd' : S_ISLNK(m) ? 'l' : S_ISCHR(m) ? 'c' : S_ISBLK(m) ? 'b'
	     : S_ISFIFO(m) ? 'p' : S_ISSOCK(m) ? 's' : '-';
	const char *rwx = "rwxrwxrwx";
	for (int i = 0; i < 9; i++)
		s[i + 1] = m & (0400 >> i) ? rwx[i] : '-';
	if (m & S_ISUID)
		s[3] = s[3] == 'x' ? 's' : 'S';
	if (m & S_ISGID)
		s[6] = s[6] == 'x' ? 's' : 'S';
	if (m & S_ISVTX)
		s[9] = s[9] == 'x' ? 't' : 'T';
	s[10] = 0;
}

/* One -l line; path is what to lstat, name what to show. */
static void long_line(const char *path, const char *name)
{
	struct stat st;
	char mode[11], when[32];
	if (lstat(path, &st) < 0) {
		fprintf(stderr, "ls: %s: %s\n", path, strerror(errno));
		return;
	}
	mode_string(st.st_mode, mode);
	time_t now = time(NULL);
	struct tm *tm = localtime(&st.st_mtime);
	int recent = st.st_mtime <= now && now - st.st_mtime < 180L * 24 * 3600;
	strftime(when, sizeof when, recent ? "%b %e %H:%M" : "%b %e  %Y", tm);
	printf("%s %2lu %4u %4u %8lld %s %s", mode, (unsigned long)st.st_nlink, (unsigned)st.st_uid,
	       (unsigned)st.st_gid, (long long)st.st_size, when, name);
	if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t n = readlink(path, target, sizeof target - 1);
		if (n >= 0) {
			target[n] = 0;
			printf(" -> %s", target);
		}
	}
	printf("\n");
}

static int terminal_width(void)
{
	struct winsize ws;
	if (ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/* Prints names (in dir, or operands when dir is NULL). */
static void print_names(const char *dir, char **names, int n)
{
	if (opt_long) {
		for (int i = 0; i < n; i++) {
			if (!dir) {
				long_line(names[i], names[i]);
				continue;
			}
			char *path = malloc(strlen(dir) + strlen(names[i]) + 2);
			sprintf(path, "%s/%s", dir, names[i]);
			long_line(path, names[i]);
			free(path);
		}
		return;
	}
	if (opt_one || !isatty(1)) {
		for (int i = 0; i < n; i++)
			printf("%s\n", names[i]);
		return;
	}
	int w = 1;
	for (int i = 0; i < n; i++)
		if ((int)strlen(names[i]) + 2 > w)
			w = strlen(names[i]) + 2;
	int cols = terminal_width() / w;
	if (cols < 1)
		cols = 1;
	int rows = (n + cols - 1) / cols;
	for (int r = 0; r < rows; r++) {
		for (int c = 0; c < cols; c++) {
			int i = c * rows + r;
			if (i >= n)
				break;
			int last = c == cols - 1 || i + rows >= n;
			if (last)
				printf("%s", names[i]);
			else
				printf("%-*s", w, names[i]);
		}
		printf("\n");
	}
}

static int list_dir(const char *path)
{
	DIR *d = opendir(path);
	if (!d) {
		fprintf(stderr, "ls: %s: %s\n", path, strerror(errno));
		return 1;
	}
	char **names = NULL;
	int n = 0;
	for (struct dirent *e; (e = readdir(d));) {
		const char *nm = e->d_name;
		if (nm[0] == '.' && !opt_all && !opt_almost)
			continue;
		if (opt_almost && !opt_all && (!strcmp(nm, ".") || !strcmp(nm, "..")))
			continue;
		names = realloc(names, (n + 1) * sizeof *names);
		names[n++] = strdup(nm);
	}
	closedir(d);
	qsort(names, n, sizeof *names, compare);
	if (opt_long) {
		unsigned long long blocks = 0;
		for (int i = 0; i < n; i++) {
			struct stat st;
			char *p = malloc(strlen(path) + strlen(names[i]) + 2);
			sprintf(p, "%s/%s", path, names[i]);
			if (lstat(p, &st) == 0)
				blocks += st.st_blocks;
			free(p);
		}
		printf("total %llu\n", blocks / 2);
	}
	print_names(path, names, n);
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return 0;
}

int main(int argc, char **argv)
{
	int i = 1, status = 0;
	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		for (const char *c = argv[i] + 1; *c; c++) {
			switch (*c) {
			case 'l': opt_long = 1; break;
			case 'a': opt_all = 1; break;
			case 'A': opt_almost = 1; break;
			case '1': opt_one = 1; break;
			case 'd': opt_dir = 1; break;
			default:
				fprintf(stderr, "ls: invalid option -%c\nusage: ls [-1aAdl] [FILE...]\n", *c);
				return 2;
			}
		}
	}
	char *dot[] = {".", NULL};
	char **ops = i < argc ? argv + i : dot;
	int nops = i < argc ? argc - i : 1;
	char **files = malloc(nops * sizeof *files), **dirs = malloc(nops * sizeof *dirs);
	int nfiles = 0, ndirs = 0;
	for (int k = 0; k < nops; k++) {
		struct stat st;
		if (stat(ops[k], &st) < 0 && lstat(ops[k], &st) < 0) {
			fprintf(stderr, "ls: %s: %s\n", ops[k], strerror(errno));
			status = 1;
		} else if (S_ISDIR(st.st_mode) && !opt_dir) {
			dirs[ndirs++] = ops[k];
		} else {
			files[nfiles++] = ops[k];
		}
	}
	qsort(files, nfiles, sizeof *files, compare);
	qsort(dirs, ndirs, sizeof *dirs, compare);
	print_names(NULL, files, nfiles);
	for (int k = 0; k < ndirs; k++) {
		if (nops > 1)
			printf("%s%s:\n", k || nfiles ? "\n" : "", dirs[k]);
		status |= list_dir(dirs[k]);
	}
	free(files);
	free(dirs);
	return status;
}
