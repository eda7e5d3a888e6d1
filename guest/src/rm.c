/*
 * rm - remove files (and directory trees with -r).
 *
 * Usage: rm [-rRf] FILE...
 *   -r, -R  remove directories and their contents
 *   -f      no message for missing files, and status 0 for them
 * Exits 0, or 1 if anything could not be removed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int recursive, force;

static int fail(const char *path)
{
	if (force && errno == ENOENT)
		return 0;
	fprintf(stderr, "rm: %s: %s\n", path, strerror(errno));
	return 1;
}

static int remove_path(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return fail(path);
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? fail(path) : 0;
	if (!recursive) {
		fprintf(stderr, "rm: %s: is a directory\n", path);
		return 1;
	}
	DIR *d = opendir(path);
	if (!d)
		return fail(path);
	int status = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *child = malloc(strlen(path) + strlen(e->d_name) + 2);
		sprintf(child, "%s/%s", path, e->d_name);
		status |= remove_path(child);
		free(child);
	}
	closedir(d);
	if (rmdir(path) < 0)
		return fail(path);
	return status;
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
			if (*c == 'r' || *c == 'R')
				recursive = 1;
			else if (*c == 'f')
				force = 1;
			else {
				fprintf(stderr, "rm: invalid option -%c\nusage: rm [-rRf] FILE...\n", *c);
				return 1;
			}
		}
	}
	if (i >= argc && !force) {
		fprintf(stderr, "usage: rm [-rRf] FILE...\n");
		return 1;
	}
	for (; i < argc; i++)
		status |= remove_path(argv[i]);
	return status;
}
