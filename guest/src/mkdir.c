/*
 * mkdir - make directories.
 *
 * Usage: mkdir [-p] [-m MODE] DIR...
 *   -p  make missing parents too, and do not complain if DIR exists
 *   -m  octal mode (default 0777, less the umask)
 * Exits 0, or 1 if any directory could not be made.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* mkdir -p: each prefix of path in turn. */
static int make_parents(char *path, mode_t mode)
{
	for (char *p = path + 1;; p++) {
		if (*p == '/' || *p == 0) {
			char c = *p;
			*p = 0;
			int rc = mkdir(path, c ? 0777 : mode);
			if (rc < 0 && !(errno == EEXIST && is_dir(path))) {
				fprintf(stderr, "mkdir: %s: %s\n", path, strerror(errno));
				*p = c;
				return 1;
			}
			*p = c;
			if (!c)
				return 0;
			while (p[1] == '/')
				p++;
		}
	}
}

int main(int argc, char **argv)
{
	int parents = 0, status = 0, i = 1;
	mode_t mode = 0777;
	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (strcmp(argv[i], "-p") == 0) {
			parents = 1;
		} else if (strcmp(argv[i], "-m") == 0 && i + 1 < argc) {
			mode = strtol(argv[++i], NULL, 8);
		} else {
			fprintf(stderr, "usage: mkdir [-p] [-m MODE] DIR...\n");
			return 1;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "usage: mkdir [-p] [-m MODE] DIR...\n");
		return 1;
	}
	for (; i < argc; i++) {
		if (parents) {
			status |= make_parents(argv[i], mode);
		} else if (mkdir(argv[i], mode) < 0) {
			fprintf(stderr, "mkdir: %s: %s\n", argv[i], strerror(errno));
			status = 1;
		}
	}
	return status;
}
