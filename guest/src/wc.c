/*
 * wc - count lines, words and bytes.
 *
 * Usage: wc [-lwc] [FILE...]     ("-" or no FILE: stdin)
 * Prints the selected counts (default all three, in the order lines words
 * bytes) and the file name; a "total" line when there are several files.
 * With only -l and stdin it prints just the number. Exits 0, or 1 if a file
 * could not be read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int show_l, show_w, show_c;

static void print(unsigned long l, unsigned long w, unsigned long c, const char *name)
{
	const char *sep = "";
	if (show_l) {
		printf("%s%lu", sep, l);
		sep = " ";
	}
	if (show_w) {
		printf("%s%lu", sep, w);
		sep = " ";
	}
	if (show_c)
		printf("%s%lu", sep, c);
	if (name)
		printf(" %s", name);
	printf("\n");
}

static int count(int fd, const char *name, unsigned long t[3])
{
	char buf[4096];
	unsigned long l = 0, w = 0, c = 0;
	int in_word = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		c += n;
		for (ssize_t i = 0; i < n; i++) {
			char ch = buf[i];
			if (ch == '\n')
				l++;
			int space = ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
			if (!space && !in_word)
				w++;
			in_word = !space;
		}
	}
	if (n < 0) {
		fprintf(stderr, "wc: %s: %s\n", name ? name : "stdin", strerror(errno));
		return 1;
	}
	print(l, w, c, name);
	t[0] += l;
	t[1] += w;
	t[2] += c;
	return 0;
}

int main(int argc, char **argv)
{
	int i = 1, status = 0;
	unsigned long total[3] = {0, 0, 0};
	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		for (const char *c = argv[i] + 1; *c; c++) {
			if (*c == 'l') show_l = 1;
			else if (*c == 'w') show_w = 1;
			else if (*c == 'c') show_c = 1;
			else {
				fprintf(stderr, "usage: wc [-lwc] [FILE...]\n");
				return 1;
			}
		}
	}
	if (!show_l && !show_w && !show_c)
		show_l = show_w = show_c = 1;
	if (i >= argc)
		return count(0, NULL, total);
	int files = argc - i;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "-") == 0) {
			status |= count(0, "-", total);
			continue;
		}
		int fd = open(argv[i], O_RDONLY);
		if (fd < 0) {
			fprintf(stderr, "wc: %s: %s\n", argv[i], strerror(errno));
			status = 1;
			continue;
		}
		status |= count(fd, argv[i], total);
		close(fd);
	}
	if (files > 1)
		print(total[0], total[1], total[2], "total");
	return status;
}
