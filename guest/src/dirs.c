/*
 * dirs - directories: mkdir, readdir, getcwd, chdir with relative paths, "..".
 *
 * Usage: dirs [DIR]        (DIR defaults to ".")
 * Builds DIR/dirs.tmp/{a/x,b,f1,f2}, lists it with readdir (names sorted, so
 * the order does not depend on the file system), walks it with relative
 * chdir and "..", checks getcwd by its suffix (the absolute prefix differs
 * between hosts and guest roots), then removes the tree. Error cases:
 * rmdir non-empty ENOTEMPTY, rmdir "." EINVAL, opendir of a file ENOTDIR,
 * getcwd into a 1-byte buffer ERANGE. Exits 0 when every check passed.
 */
#include "guest.h"
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Prints the entries of path, sorted, on one line. */
static void list_dir(const char *path)
{
	char *names[64];
	int n = 0;
	DIR *d = opendir(path);
	if (!d) {
		report("opendir", -1);
		return;
	}
	for (struct dirent *e; n < 64 && (e = readdir(d));)
		names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof names[0], compare_names);
	printf("readdir %s:", path);
	for (int i = 0; i < n; i++) {
		printf(" %s", names[i]);
		free(names[i]);
	}
	printf("\n");
}

/* Checks that the current directory's path ends with suffix. */
static void check_cwd(const char *suffix)
{
	char cwd[PATH_MAX], what[128];
	size_t n = strlen(suffix);
	int ok = getcwd(cwd, sizeof cwd) && strlen(cwd) >= n &&
		 strcmp(cwd + strlen(cwd) - n, suffix) == 0;
	snprintf(what, sizeof what, "getcwd ends with %s", suffix);
	check(what, ok);
}

static void make_tree(void)
{
	report("mkdir dirs.tmp", mkdir("dirs.tmp", 0755));
	report("mkdir dirs.tmp/a", mkdir("dirs.tmp/a", 0755));
	report("mkdir dirs.tmp/a/x/ (trailing slash)", mkdir("dirs.tmp/a/x/", 0755));
	report("mkdir dirs.tmp/b", mkdir("dirs.tmp/b", 0755));
	report("mkdir dirs.tmp/missing/y", mkdir("dirs.tmp/missing/y", 0755));
	close(open("dirs.tmp/f1", O_WRONLY | O_CREAT, 0644));
	close(open("dirs.tmp/f2", O_WRONLY | O_CREAT, 0644));
}

static void walk_tree(void)
{
	char tiny[1];
	struct stat st;
	report("chdir dirs.tmp", chdir("dirs.tmp"));
	check_cwd("/dirs.tmp");
	report("chdir a/x", chdir("a/x"));
	check_cwd("/dirs.tmp/a/x");
	list_dir(".");
	report("chdir ../../b", chdir("../../b"));
	check_cwd("/dirs.tmp/b");
	report("chdir ..", chdir(".."));
	check_cwd("/dirs.tmp");
	check("stat a/../b/. is a directory", stat("a/../b/.", &st) == 0 && S_ISDIR(st.st_mode));
	report("chdir f1", chdir("f1"));
	report("opendir f1", opendir("f1") ? 0 : -1);
	report("rmdir a (not empty)", rmdir("a"));
	report("rmdir .", rmdir("."));
	report("getcwd into 1 byte", getcwd(tiny, sizeof tiny) ? 0 : -1);
	report("chdir ..", chdir(".."));
}

static void remove_tree(void)
{
	report("rmdir dirs.tmp/a/x", rmdir("dirs.tmp/a/x"));
	report("rmdir dirs.tmp/a", rmdir("dirs.tmp/a"));
	report("rmdir dirs.tmp/b", rmdir("dirs.tmp/b"));
	unlink("dirs.tmp/f1");
	unlink("dirs.tmp/f2");
	report("rmdir dirs.tmp", rmdir("dirs.tmp"));
	report("rmdir dirs.tmp again", rmdir("dirs.tmp"));
}

int main(int argc, char **argv)
{
	char start[PATH_MAX], end[PATH_MAX];
	if (chdir(argc > 1 ? argv[1] : ".") < 0) {
		report("chdir DIR", -1);
		return 1;
	}
	getcwd(start, sizeof start);
	make_tree();
	list_dir("dirs.tmp");
	walk_tree();
	check("back in the starting directory",
	      getcwd(end, sizeof end) && strcmp(start, end) == 0);
	remove_tree();
	return guest_status();
}
