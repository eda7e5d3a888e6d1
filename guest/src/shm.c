/*
 * shm - shared memory between a parent and its children: SysV (shmget,
 * shmat, shmdt, shmctl) and POSIX (shm_open, a file in /dev/shm, mmap'd
 * MAP_SHARED).
 *
 * Usage: shm                        run everything (the parent)
 *        shm sysv-child SHMID       (started by the parent with posix_spawn)
 *        shm posix-child NAME       (started by the parent with vfork+execve)
 * The parent writes a message into the shared memory, a child started as a
 * new program attaches the same memory, checks the message and writes a
 * reply, and the parent sees the reply. Also checked: IPC_STAT's fields,
 * shmat at a chosen address (EINVAL without an MMU), shmdt needing the exact
 * start, IPC_RMID destroying the segment at the last detach, shmget's errors,
 * shm_unlink. Prints no addresses, so native and emulated runs compare.
 * Exits 0 when every check passed.
 */
#include "guest.h"
#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#define PG 4096UL
#define SEG_SIZE 10000 /* not a whole number of pages */
#define MSG "hello from the parent"
#define REPLY "reply from the child"

extern char **environ;

static int sysv_child(int id)
{
	char *p = shmat(id, NULL, 0);
	report("child: shmat", p == (void *)-1 ? -1 : 0);
	if (p == (void *)-1)
		return 1;
	check("child: sees the parent's message", strcmp(p, MSG) == 0);
	struct shmid_ds ds;
	shmctl(id, IPC_STAT, &ds);
	printf("child: attachments now: %lu\n", (unsigned long)ds.shm_nattch);
	check("child: last operator is the child", ds.shm_lpid == getpid());
	strcpy(p + PG, REPLY);
	report("child: shmdt", shmdt(p));
	return guest_status();
}

static int posix_child(const char *name)
{
	int fd = shm_open(name, O_RDWR, 0);
	report("child: shm_open", fd);
	char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	report("child: mmap MAP_SHARED", p == MAP_FAILED ? -1 : 0);
	if (p == MAP_FAILED)
		return 1;
	check("child: sees the parent's message", strcmp(p, MSG) == 0);
	strcpy(p + PG, REPLY);
	munmap(p, 2 * PG);
	close(fd);
	return guest_status();
}

static void wait_child(pid_t pid)
{
	int status;
	waitpid(pid, &status, 0);
	print_wait_status("child", status);
}

static void sysv_stat(int id, struct shmid_ds *ds)
{
	if (shmctl(id, IPC_STAT, ds) != 0)
		memset(ds, 0, sizeof *ds);
}

static void sysv_spawn_child(int id)
{
	char arg[16];
	snprintf(arg, sizeof arg, "%d", id);
	char *argv[] = {"./shm", "sysv-child", arg, NULL};
	pid_t pid;
	int err = posix_spawn(&pid, "./shm", NULL, NULL, argv, environ);
	if (!err) /* the child runs alongside: report once it is done */
		wait_child(pid);
	report_err("posix_spawn the child", err);
}

static void sysv_errors(void)
{
	key_t key = 0x4e4d0000 | (getpid() & 0xffff);
	int id = shmget(key, PG, IPC_CREAT | IPC_EXCL | 0600);
	report("shmget with a new key", id);
	report("shmget IPC_CREAT|IPC_EXCL of an existing key", shmget(key, PG, IPC_CREAT | IPC_EXCL | 0600));
	check("shmget of an existing key finds it", shmget(key, PG, 0) == id);
	report("shmget of an existing key, larger", shmget(key, 2 * PG, 0));
	report("shmget of a missing key", shmget(key ^ 0x8000, PG, 0));
	report("shmget of size 0", shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600));
	report("shmctl IPC_RMID", shmctl(id, IPC_RMID, NULL));
	report("shmat of a removed segment", shmat(id, NULL, 0) == (void *)-1 ? -1 : 0);
	report("shmctl of a bad id", shmctl(-1, IPC_STAT, NULL));
}

static void sysv(void)
{
	int id = shmget(IPC_PRIVATE, SEG_SIZE, IPC_CREAT | 0600);
	report("shmget", id);
	struct shmid_ds ds;
	sysv_stat(id, &ds);
	check("IPC_STAT: size as asked", ds.shm_segsz == SEG_SIZE);
	check("IPC_STAT: mode 0600", (ds.shm_perm.mode & 0777) == 0600);
	check("IPC_STAT: created by this process", ds.shm_cpid == getpid());
	check("IPC_STAT: no attachments yet", ds.shm_nattch == 0);
	char *p = shmat(id, NULL, 0);
	report("shmat at address 0", p == (void *)-1 ? -1 : 0);
	if (p == (void *)-1)
		return;
	check("a new segment is zeroed", p[0] == 0 && p[SEG_SIZE - 1] == 0);
	strcpy(p, MSG);
	char *q = shmat(id, NULL, SHM_RDONLY);
	check("a second attachment sees the same bytes", q != (void *)-1 && strcmp(q, MSG) == 0);
	printf("both attachments are at one address: %s\n", q == p ? "yes" : "no");
	sysv_stat(id, &ds);
	printf("attachments: %lu\n", (unsigned long)ds.shm_nattch);

	char *spot = mmap(NULL, 4 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(spot, 4 * PG);
	char *at = shmat(id, spot, 0); /* a free address, chosen */
	report("shmat at a chosen address", at == (void *)-1 ? -1 : 0);
	if (at != (void *)-1)
		shmdt(at);
	report("shmdt inside an attachment", shmdt(p + PG));
	report("shmdt of an unaligned address", shmdt(p + 1));

	fflush(stdout);
	sysv_spawn_child(id);
	check("the child's reply is visible", strcmp(p + PG, REPLY) == 0);
	sysv_stat(id, &ds);
	printf("attachments after the child: %lu\n", (unsigned long)ds.shm_nattch);

	report("IPC_RMID while attached", shmctl(id, IPC_RMID, NULL));
	sysv_stat(id, &ds);
	check("IPC_STAT of a removed segment still works", ds.shm_segsz == SEG_SIZE);
	check("marked SHM_DEST", (ds.shm_perm.mode & SHM_DEST) != 0);
	report("shmdt", shmdt(p));
	report("shmdt of the second attachment", shmdt(q));
	report("IPC_STAT after the last detach", shmctl(id, IPC_STAT, &ds));
	sysv_errors();
}

static void posix(void)
{
	char name[64];
	snprintf(name, sizeof name, "/nommu-shm.%d", (int)getpid());
	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	report("shm_open", fd);
	report("ftruncate", ftruncate(fd, 2 * PG));
	struct stat sb;
	check("fstat: the size", fstat(fd, &sb) == 0 && sb.st_size == 2 * PG);
	char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	report("mmap MAP_SHARED", p == MAP_FAILED ? -1 : 0);
	if (p == MAP_FAILED)
		return;
	check("a new shm file is zeroed", p[0] == 0 && p[2 * PG - 1] == 0);
	strcpy(p, MSG);
	int seen = 0;
	DIR *d = opendir("/dev/shm");
	for (struct dirent *e; d && (e = readdir(d));)
		seen |= strcmp(e->d_name, name + 1) == 0;
	if (d)
		closedir(d);
	check("/dev/shm lists it", seen);

	fflush(stdout);
	pid_t pid = vfork();
	if (pid == 0) {
		execl("./shm", "./shm", "posix-child", name, (char *)NULL);
		_exit(127);
	}
	wait_child(pid);
	check("the child's reply is visible", strcmp(p + PG, REPLY) == 0);
	char buf[32] = "";
	pread(fd, buf, sizeof REPLY, PG);
	check("read() sees it too", strcmp(buf, REPLY) == 0);
	report("shm_unlink", shm_unlink(name));
	report("shm_open after shm_unlink", shm_open(name, O_RDWR, 0));
	check("the mapping outlives the name", strcmp(p, MSG) == 0);
	munmap(p, 2 * PG);
	close(fd);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc == 3 && strcmp(argv[1], "sysv-child") == 0)
		return sysv_child(atoi(argv[2]));
	if (argc == 3 && strcmp(argv[1], "posix-child") == 0)
		return posix_child(argv[2]);
	sysv();
	posix();
	return guest_status();
}
