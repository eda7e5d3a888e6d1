/*
 * check_unimplemented - calls that Linux has and nommu does not implement
 * (for nommu check, which lists them apart from no-MMU problems).
 *
 * Usage: check_unimplemented
 * Asks for the process's execution domain with personality(0xffffffff)
 * twice and for its I/O priority with ioprio_get once; prints each result
 * ("ok" natively, ENOSYS under nommu), then "done". Exits 0. These are no
 * no-MMU problems (a no-MMU Linux has both calls): `nommu check` finds no
 * problem and lists the calls, with their counts, at the marked lines.
 */
#include "guest.h"
#include <sys/personality.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { IOPRIO_WHO_PROCESS = 1 };

int main(void)
{
	for (int i = 0; i < 2; i++) {
		long rc = personality(0xffffffff); /* CHECK: personality */
		report("personality", rc < 0 ? rc : 0);
	}
	long rc = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0); /* CHECK: ioprio_get */
	report("ioprio_get", rc < 0 ? rc : 0);
	printf("done\n");
	return 0;
}
