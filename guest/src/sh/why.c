/*
 * why.c - why a file cannot be run, worded as shells word it.
 *
 * execve() reports only an errno, and two of them mislead on their own:
 *
 *   - ENOENT for a file that exists: its #! interpreter is missing (bash
 *     says "./x: /bin/foo: bad interpreter: No such file or directory");
 *   - ENOEXEC: the shell runs a text file without #! as a script, but a
 *     binary (an ELF file for another machine, a truncated program, data)
 *     must not be fed to the shell line by line: "cannot execute binary
 *     file" says what happened instead of a screen of garbage errors.
 *
 * So when posix_spawn reports ENOENT or ENOEXEC, the shell reads the first
 * bytes of the file (read_file_head) and words the message (exec_error).
 */
#include "sh.h"
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

enum { EM_386 = 3, ELFCLASS32 = 1 };

void read_file_head(const char *path, struct file_head *h)
{
	unsigned char buf[128];
	memset(h, 0, sizeof *h);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	if (n >= 2 && buf[0] == '#' && buf[1] == '!') {
		ssize_t i = 2, len = 0;
		while (i < n && (buf[i] == ' ' || buf[i] == '\t'))
			i++;
		while (i < n && buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' &&
		       len < (ssize_t)sizeof h->interp - 1)
			h->interp[len++] = buf[i++];
		return;
	}
	if (n >= 20 && memcmp(buf, "\177ELF", 4) == 0) {
		h->binary = 1;
		h->foreign_elf = buf[4] != ELFCLASS32 || (buf[18] | buf[19] << 8) != EM_386;
		return;
	}
	h->binary = n > 0 && memchr(buf, '\0', n) != NULL;
}

const char *exec_error(const struct file_head *h, int e, char *buf, size_t size)
{
	if (e == ENOENT && h->interp[0]) {
		snprintf(buf, size, "%s: bad interpreter: No such file or directory", h->interp);
		return buf;
	}
	if (e == ENOENT)
		return "not found";
	if (e == ENOEXEC && h->foreign_elf)
		return "cannot execute binary file: not an i386 program";
	if (e == ENOEXEC && h->binary)
		return "cannot execute binary file: Exec format error";
	return err_text(e);
}
