/*
 * errno - failing syscalls must return the right Linux errno.
 *
 * Usage: errno [DIR]       (DIR defaults to "."; errno.tmp is made there)
 * Prints one line per failing call: the call and the errno name with musl's
 * text. Each result is fixed by the Linux ABI, so the output is the same
 * natively and under nommu. Exits 0 when every call failed as expected.
 */
#include "guest.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Reports rc/errno, and counts a failure unless it is -1 with errno want. */
static void expect(const char *what, long rc, int want)
{
	report(what, rc);
	if (rc != -1 || errno != want)
		guest_failures++;
}

int main(int argc, char **argv)
{
	char buf[16];
	struct stat st;
	if (chdir(argc > 1 ? argv[1] : ".") < 0) {
		report("chdir DIR", -1);
		return 1;
	}
	int fd = open("errno.tmp", O_RDWR | O_CREAT | O_TRUNC, 0644);
	report("create errno.tmp", fd);

	expect("open /nonexistent", open("/nonexistent", O_RDONLY), ENOENT);
	expect("close -1", close(-1), EBADF);
	expect("read fd 1000", read(1000, buf, 1), EBADF);
	expect("dup2 0 to -1", dup2(0, -1), EBADF);
	expect("mkdir \"\"", mkdir("", 0755), ENOENT);
	expect("access /nonexistent", access("/nonexistent", F_OK), ENOENT);
	expect("stat /nonexistent/x", stat("/nonexistent/x", &st), ENOENT);
	expect("chdir to a file", chdir("errno.tmp"), ENOTDIR);
	expect("open file/x", open("errno.tmp/x", O_RDONLY), ENOTDIR);
	expect("open file O_DIRECTORY", open("errno.tmp", O_RDONLY | O_DIRECTORY), ENOTDIR);
	expect("rmdir a file", rmdir("errno.tmp"), ENOTDIR);
	expect("readlink of a non-link", readlink("errno.tmp", buf, sizeof buf), EINVAL);
	expect("lseek whence 99", lseek(fd, 0, 99), EINVAL);
	expect("lseek to -1", lseek(fd, -1, SEEK_SET), EINVAL);
	expect("write from bad pointer 0x1", write(fd, (void *)1, 4), EFAULT);
	expect("getcwd into 1 byte", getcwd(buf, 1) ? 0 : -1, ERANGE);
	expect("syscall 9999", syscall(9999), ENOSYS);
	expect("waitpid with no children", waitpid(-1, NULL, 0), ECHILD);

	close(fd);
	report("unlink errno.tmp", unlink("errno.tmp"));
	return guest_status();
}
