/*
 * cp - copy files.
 *
 * Usage: cp [-r] SOURCE DEST
 *        cp [-r] SOURCE... DIRECTORY
 *   -r, -R  copy directories recursively
 * The copy gets the source's permission bits. Exits 0, or 1 on any error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int recursive;

static int fail(const char *what, const char *path)
{
	fprintf(stderr, "cp: %s%s: %s\n", what, path, strerror(errno));
	return 1;
}

static char *join(const char *dir, const char *name)
{
	char *p = malloc(strlen(dir) + strlen(name) + 2);
	sprintf(p, "%s/%s", dir, name);
	return p;
}

static int copy_file(const char *src, const char *dst, mode_t mode)
{
	int in = open(src, O_RDONLY);
	if (in < 0)
		return fail("", src);
	int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, mode & 07777);
	if (out < 0) {
		close(in);
		return fail("", dst);
	}
	char buf[8192];
	ssize_t n;
	int status = 0;
	while ((n = read(in, buf, sizeof buf)) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, n - off);
			if (w < 0) {
				status = fail("", dst);
				goto done;
			}
			off += w;
		}
	}
	if (n < 0)
		status = fail("", src);
done:
	close(in);
	if (close(out) < 0)
		status = fail("", dst);
	return status;
}

static int copy(const char *src, const char *dst)
{
	struct stat st;
	if (stat(src, &st) < 0)
		return fail("", src);
	if (!S_ISDIR(st.st_mode))
		return copy_file(src, dst, st.st_mode);
	if (!recursive) {
		fprintf(stderr, "cp: %s: is a directory (not copied; use -r)\n", src);
		return 1;
	}
	if (mkdir(dst, st.st_mode & 07777) < 0 && errno != EEXIST)
		return fail("", dst);
	DIR *d = opendir(src);
	if (!d)
		return fail("", src);
	int status = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *s = join(src, e->d_name), *t = join(dst, e->d_name);
		status |= copy(s, t);
		free(s);
		free(t);
	}
	closedir(d);
	return status;
}

int main(int argc, char **argv)
{
	int i = 1, status = 0;
	struct stat st;
	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (!strcmp(argv[i], "-r") || !strcmp(argv[i], "-R")) {
			recursive = 1;
		} else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else {
			fprintf(stderr, "usage: cp [-r] SOURCE... DEST\n");
			return 1;
		}
	}
	if (argc - i < 2) {
		fprintf(stderr, "usage: cp [-r] SOURCE... DEST\n");
		return 1;
	}
	const char *dest = argv[argc - 1];
	int to_dir = stat(dest, &st) == 0 && S_ISDIR(st.st_mode);
	if (argc - i > 2 && !to_dir) {
		fprintf(stderr, "cp: %s: not a directory\n", dest);
		return 1;
	}
	for (; i < argc - 1; i++) {
		if (to_dir) {
			const char *base = strrchr(argv[i], '/');
			base = base && base[1] ? base + 1 : argv[i];
			char *t = join(dest, base);
			status |= copy(argv[i], t);
			free(t);
		} else {
			status |= copy(argv[i], dest);
		}
	}
	return status;
}
