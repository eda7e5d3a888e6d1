/*
 * fileio - file syscalls through stdio and raw file descriptors.
 *
 * Usage: fileio [DIR]      (DIR defaults to ".")
 * Works in DIR/fileio.tmp (created, then removed): fopen/fprintf/fgets,
 * open/write/read/lseek/pread/fstat/stat/ftruncate, O_APPEND, O_EXCL,
 * rename and unlink, then the error cases open-missing ENOENT, unlink-dir
 * EISDIR, mkdir-existing EEXIST, rmdir-non-empty ENOTEMPTY, read-bad-fd
 * EBADF, open-dir-for-writing EISDIR. Prints each result; exits 0 when every
 * check passed, 1 otherwise.
 */
#include "guest.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Writes three lines with stdio, reads them back with fgets. */
static void stdio_round_trip(void)
{
	FILE *f = fopen("a.txt", "w");
	check("fopen for writing", f != NULL);
	if (!f)
		return;
	for (int i = 1; i <= 3; i++)
		fprintf(f, "line %d of %d\n", i, 3);
	check("fclose", fclose(f) == 0);

	char line[64];
	f = fopen("a.txt", "r");
	check("fopen for reading", f != NULL);
	if (!f)
		return;
	while (fgets(line, sizeof line, f))
		printf("  read back: %s", line);
	fclose(f);
}

/* Seeks, reads, overwrites and appends with raw fds. a.txt is 36 bytes. */
static void raw_fd_io(void)
{
	char buf[16] = {0};
	struct stat st;
	int fd = open("a.txt", O_RDWR);
	report("open O_RDWR", fd);
	printf("lseek SEEK_END -> %ld\n", (long)lseek(fd, 0, SEEK_END));
	printf("lseek SEEK_SET 5 -> %ld\n", (long)lseek(fd, 5, SEEK_SET));
	printf("read 6 -> %zd \"%s\"\n", read(fd, buf, 6), buf);
	printf("lseek SEEK_CUR -> %ld\n", (long)lseek(fd, 0, SEEK_CUR));
	printf("write 4 at 0 -> %zd\n", pwrite(fd, "LINE", 4, 0));
	memset(buf, 0, sizeof buf);
	printf("pread 9 at 0 -> %zd \"%s\"\n", pread(fd, buf, 9, 0), buf);
	check("fstat is a regular file of 36 bytes",
	      fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 36);
	check("ftruncate to 10", ftruncate(fd, 10) == 0);
	check("stat sees 10 bytes", stat("a.txt", &st) == 0 && st.st_size == 10);
	close(fd);

	fd = open("a.txt", O_WRONLY | O_APPEND);
	lseek(fd, 0, SEEK_SET);
	printf("O_APPEND write 3 -> %zd\n", write(fd, "end", 3));
	check("append landed at the end", fstat(fd, &st) == 0 && st.st_size == 13);
	close(fd);
}

static void rename_and_unlink(void)
{
	struct stat st;
	errno = 0;
	report("open O_CREAT|O_EXCL on existing file",
	       open("a.txt", O_WRONLY | O_CREAT | O_EXCL, 0644));
	report("rename a.txt b.txt", rename("a.txt", "b.txt"));
	report("stat a.txt after rename", stat("a.txt", &st));
	check("stat b.txt has 13 bytes", stat("b.txt", &st) == 0 && st.st_size == 13);
	report("unlink b.txt", unlink("b.txt"));
	report("unlink b.txt again", unlink("b.txt"));
}

static void error_cases(void)
{
	char c;
	report("open missing file", open("missing.txt", O_RDONLY));
	report("mkdir sub", mkdir("sub", 0755));
	report("mkdir sub again", mkdir("sub", 0755));
	report("unlink a directory", unlink("sub"));
	report("open a directory for writing", open("sub", O_WRONLY));
	close(open("sub/f", O_WRONLY | O_CREAT, 0644));
	report("rmdir non-empty directory", rmdir("sub"));
	report("read from bad fd", read(1000, &c, 1));
	report("unlink sub/f", unlink("sub/f"));
	report("rmdir sub", rmdir("sub"));
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	if (chdir(dir) < 0) {
		report("chdir DIR", -1);
		return 1;
	}
	mkdir("fileio.tmp", 0755);
	if (chdir("fileio.tmp") < 0) {
		report("chdir fileio.tmp", -1);
		return 1;
	}
	stdio_round_trip();
	raw_fd_io();
	rename_and_unlink();
	error_cases();
	check("chdir ..", chdir("..") == 0);
	check("rmdir fileio.tmp", rmdir("fileio.tmp") == 0);
	return guest_status();
}
