/*
 * mmap_file_shared - two processes share a disk file through MAP_SHARED.
 *
 * Usage: mmap_file_shared    (needs an MMU: fork, and MAP_SHARED of a file)
 * Parent and child (fork) each map the same file MAP_SHARED, separately,
 * after the fork. The child writes through its mapping and tells the parent
 * through a pipe; the parent must see the bytes in its own mapping at once,
 * before anything is written back; then the other way round. Finally read()
 * sees what was stored once the mappings are gone. Prints what each side
 * saw; exits 0. Without an MMU, MAP_SHARED of a disk file is ENODEV.
 */
#include "guest.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

static char *map_it(const char *path)
{
	int fd = open(path, O_RDWR);
	char *p = fd < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fd >= 0)
		close(fd);
	return p;
}

int main(void)
{
	const char *path = "tmp/mmap_file_shared.dat";
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	char zeros[4096] = {0};
	if (fd < 0 || write(fd, zeros, sizeof zeros) != sizeof zeros) {
		report("create tmp/mmap_file_shared.dat", -1);
		return 1;
	}
	close(fd);
	int to_parent[2], to_child[2];
	pipe(to_parent);
	pipe(to_child);
	pid_t pid = fork();
	if (pid < 0) {
		report("fork", -1);
		unlink(path);
		return 1;
	}
	char *p = map_it(path);
	if (p == MAP_FAILED) {
		report("mmap MAP_SHARED", -1);
		return 1;
	}
	char c;
	if (pid == 0) {
		strcpy(p, "written by the child");
		write(to_parent[1], "x", 1);
		read(to_child[0], &c, 1);
		printf("child sees: \"%s\"\n", p + 100);
		fflush(stdout);
		munmap(p, 4096);
		_exit(0);
	}
	read(to_parent[0], &c, 1);
	printf("parent sees: \"%s\"\n", p);
	fflush(stdout);
	strcpy(p + 100, "written by the parent");
	write(to_child[1], "x", 1);
	int status;
	waitpid(pid, &status, 0);
	munmap(p, 4096);
	char back[64] = {0};
	fd = open(path, O_RDONLY);
	pread(fd, back, 30, 100);
	printf("read() after munmap: \"%s\"\n", back);
	close(fd);

	/* A store past the end of a short file (inside the mapped page) does not
	 * make the file longer when the page is written back. */
	fd = open(path, O_RDWR | O_TRUNC);
	write(fd, "0123456789", 10);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	p[0] = 'X';
	p[100] = 'Y';
	munmap(p, 4096);
	char head[11] = {0};
	pread(fd, head, 10, 0);
	printf("a 10-byte file after stores at 0 and 100: \"%s\", %ld bytes\n", head,
	       (long)lseek(fd, 0, SEEK_END));
	close(fd);
	unlink(path);
	return 0;
}
