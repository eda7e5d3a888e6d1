/*
 * fdleak - a descriptor leak must end with EMFILE at the descriptor limit.
 *
 * Usage: fdleak [LIMIT]
 * With LIMIT, first lowers RLIMIT_NOFILE to LIMIT with setrlimit and checks
 * getrlimit reports it. Then opens /dev/null until open fails, and prints
 * how many descriptors it got and the errno (EMFILE). At the limit, pipe()
 * and dup() fail with EMFILE too; after closing one descriptor open works
 * again. Exits 0 when every check passed.
 */
#include "guest.h"
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct rlimit rl;
	int fds[2], n = 0, last = -1, fd;
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc > 1) {
		rl.rlim_cur = rl.rlim_max = strtoul(argv[1], NULL, 0);
		report("setrlimit RLIMIT_NOFILE", setrlimit(RLIMIT_NOFILE, &rl));
	}
	check("getrlimit RLIMIT_NOFILE", getrlimit(RLIMIT_NOFILE, &rl) == 0);
	printf("RLIMIT_NOFILE: %lu\n", (unsigned long)rl.rlim_cur);
	while ((fd = open("/dev/null", O_RDONLY)) >= 0) {
		last = fd;
		n++;
	}
	printf("open failed after %d descriptors: %s\n", n, errname(errno));
	check("open failed with EMFILE", errno == EMFILE);
	check("the last descriptor is the limit - 1", (unsigned long)last == rl.rlim_cur - 1);
	check("pipe fails with EMFILE", pipe(fds) < 0 && errno == EMFILE);
	check("dup fails with EMFILE", dup(0) < 0 && errno == EMFILE);
	close(last);
	fd = open("/dev/null", O_RDONLY);
	check("after a close, open works again", fd == last);
	return guest_status();
}
