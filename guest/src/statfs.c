/*
 * statfs - what file systems say about themselves: statfs/fstatfs (libc,
 * which uses statfs64/fstatfs64), the raw statfs64 with a wrong size, the
 * old 32-bit statfs, and statvfs, for the current directory (a host disk
 * under nommu), /dev/shm (tmpfs), /proc, /dev/null and a pipe.
 *
 * Usage: statfs   (run in the root: "." names it both natively and under
 * nommu). Block counts change as other programs write, so only types, sizes,
 * flags and relations between counts are printed.
 * Exits 0 when every check passed.
 */
#include "guest.h"
#include <fcntl.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

/* the kernel's struct statfs64 on i386 (84 bytes, 4-byte aligned) */
struct kstatfs64 {
	unsigned f_type, f_bsize;
	unsigned long long f_blocks, f_bfree, f_bavail, f_files, f_ffree;
	int f_fsid[2];
	unsigned f_namelen, f_frsize, f_flags, f_spare[4];
} __attribute__((packed, aligned(4)));

/* the old struct statfs: every field 32 bits (64 bytes) */
struct kstatfs32 {
	unsigned f_type, f_bsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree;
	int f_fsid[2];
	unsigned f_namelen, f_frsize, f_flags, f_spare[4];
};

static void show(const char *what, int rc, const struct statfs *s)
{
	if (rc < 0) {
		report(what, rc);
		return;
	}
	printf("%s: type %#lx bsize %lu namelen %lu frsize %lu rdonly %d\n", what,
	       (unsigned long)s->f_type, (unsigned long)s->f_bsize, (unsigned long)s->f_namelen,
	       (unsigned long)s->f_frsize, (int)(s->f_flags & ST_RDONLY));
	printf("%s: flags valid %d, bavail <= bfree <= blocks %d, ffree <= files %d\n", what,
	       (s->f_flags & 0x20) != 0, s->f_bavail <= s->f_bfree && s->f_bfree <= s->f_blocks,
	       s->f_ffree <= s->f_files);
}

static void paths(void)
{
	struct statfs s, f;
	show(".", statfs(".", &s), &s);
	check(". has blocks", s.f_blocks > 0);
	int fd = open(".", O_RDONLY | O_DIRECTORY);
	int rc = fstatfs(fd, &f);
	report("fstatfs of .", rc);
	check("statfs and fstatfs agree", f.f_type == s.f_type && f.f_blocks == s.f_blocks &&
						   f.f_bsize == s.f_bsize && f.f_flags == s.f_flags);
	close(fd);
	show("/dev/shm", statfs("/dev/shm", &s), &s);
	check("/dev/shm has blocks", s.f_blocks > 0);
	int shm = open("/dev/shm/statfs.probe", O_CREAT | O_RDWR, 0600);
	show("a /dev/shm file (fstatfs)", fstatfs(shm, &s), &s);
	close(shm);
	unlink("/dev/shm/statfs.probe");
	show("/proc", statfs("/proc", &s), &s);
	show("/proc/self/status", statfs("/proc/self/status", &s), &s);
	int pfd = open("/proc/self/status", O_RDONLY);
	show("an open /proc file (fstatfs)", fstatfs(pfd, &s), &s);
	close(pfd);
	show("/dev/null", statfs("/dev/null", &s), &s);
	int p[2];
	pipe(p);
	rc = fstatfs(p[0], &s);
	printf("a pipe: type %#lx\n", rc < 0 ? 0UL : (unsigned long)s.f_type);
	close(p[0]);
	close(p[1]);
	report("statfs of a missing file", statfs("tmp/missing", &s));
	report("statfs below a file", statfs("statfs/x", &s));
	report("fstatfs of a closed descriptor", fstatfs(99, &s));
	unlink("tmp/statfs.link");
	symlink("/proc", "tmp/statfs.link");
	rc = statfs("tmp/statfs.link", &s);
	printf("through a symlink to /proc: type %#lx\n", rc < 0 ? 0UL : (unsigned long)s.f_type);
	unlink("tmp/statfs.link");
}

static void raw_calls(void)
{
	struct kstatfs64 k64;
	struct kstatfs32 k32;
	struct statfs s;
	statfs(".", &s);
	printf("sizeof struct statfs64: %zu\n", sizeof k64);
	long rc = syscall(SYS_statfs64, ".", sizeof k64, &k64);
	report("statfs64", rc);
	check("statfs64 matches libc", k64.f_type == (unsigned)s.f_type && k64.f_blocks == s.f_blocks);
	report("statfs64 size 88", syscall(SYS_statfs64, ".", 88, &k64));
	report("statfs64 size 64", syscall(SYS_statfs64, ".", 64, &k64));
	report("statfs64 size 88 of a missing file", syscall(SYS_statfs64, "tmp/missing", 88, &k64));
	int fd = open(".", O_RDONLY);
	report("fstatfs64", syscall(SYS_fstatfs64, fd, sizeof k64, &k64));
	report("fstatfs64 size 0", syscall(SYS_fstatfs64, fd, 0, &k64));
	rc = syscall(SYS_fstatfs, fd, &k32);
	report("old fstatfs", rc);
	if (rc == 0)
		check("old fstatfs: same type and size", k32.f_type == (unsigned)s.f_type &&
							     k32.f_bsize == s.f_bsize && k32.f_blocks == s.f_blocks);
	rc = syscall(SYS_statfs, "/dev/shm", &k32);
	printf("old statfs of /dev/shm: %s, type %#x\n", rc ? errname(errno) : "ok", k32.f_type);
	report("statfs64 to a bad address", syscall(SYS_statfs64, ".", sizeof k64, (void *)16));
	close(fd);
}

static void vfs(void)
{
	struct statvfs v;
	int rc = statvfs(".", &v);
	report("statvfs", rc);
	printf("statvfs: bsize %lu frsize %lu namemax %lu rdonly %d\n", v.f_bsize, v.f_frsize,
	       v.f_namemax, (int)(v.f_flag & ST_RDONLY));
	rc = statvfs("/dev/shm", &v);
	printf("statvfs /dev/shm: namemax %lu, blocks > 0 %d\n", v.f_namemax, v.f_blocks > 0);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	paths();
	raw_calls();
	vfs();
	return guest_status();
}
