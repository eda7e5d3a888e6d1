/*
 * sem - SysV semaphores: semget, semop, semtimedop, semctl, SEM_UNDO.
 *
 * Usage: sem
 * Creates a private set of 3 semaphores and checks, printing each result:
 * SETVAL/GETVAL/GETALL/SETALL, the errors (ERANGE, EFBIG, E2BIG, EAGAIN
 * with IPC_NOWAIT, EINVAL), all-or-nothing semop, a semtimedop that times
 * out, a vfork child (no MMU needed) that waits for the parent to post and
 * one whose SEM_UNDO is undone when it exits, GETPID/GETNCNT, key lookup
 * (EEXIST, ENOENT), IPC_STAT, and IPC_RMID waking a sleeping thread (EIDRM).
 * Prints results only (no ids, pids or times); exits 0.
 */
#include "guest.h"
#include <sys/ipc.h>
#include <pthread.h>
#include <sys/sem.h>
#include <time.h>
#include <unistd.h>

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static int id, thread_errno;

/* Takes 100 from #2, which never has that much: sleeps until the set goes. */
static void *wait_on_zero_set(void *arg)
{
	struct sembuf t = {2, -100, 0};
	thread_errno = semop(id, &t, 1) ? errno : 0;
	return arg;
}

static void op(const char *what, unsigned short num, short delta, short flags)
{
	struct sembuf b = {num, delta, flags};
	int rc = semop(id, &b, 1);
	printf("%s: %s\n", what, rc ? errname(errno) : "ok");
}

static void show(const char *what)
{
	unsigned short v[3];
	semctl(id, 0, GETALL, (union semun){.array = v});
	printf("%s: %u %u %u\n", what, v[0], v[1], v[2]);
}

int main(void)
{
	id = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
	if (id < 0) {
		report("semget", -1);
		return 1;
	}
	printf("SETVAL 0 = 5: %d\n", semctl(id, 0, SETVAL, (union semun){.val = 5}));
	printf("GETVAL 0: %d\n", semctl(id, 0, GETVAL));
	printf("SETVAL 40000: %s\n",
	       semctl(id, 1, SETVAL, (union semun){.val = 40000}) < 0 ? errname(errno) : "ok");
	printf("GETVAL 7: %s\n", semctl(id, 7, GETVAL) < 0 ? errname(errno) : "ok");
	unsigned short init[3] = {1, 2, 3};
	semctl(id, 0, SETALL, (union semun){.array = init});
	show("after SETALL 1 2 3");

	op("take 1 from #0", 0, -1, 0);
	op("take 1 more from #0, IPC_NOWAIT", 0, -1, IPC_NOWAIT);
	op("wait for #0 to be zero", 0, 0, 0);
	op("wait for #1 to be zero, IPC_NOWAIT", 1, 0, IPC_NOWAIT);
	op("add 32767 to #2", 2, 32767, 0);
	op("semaphore #5", 5, 1, 0);
	struct sembuf both[2] = {{1, -2, 0}, {2, -4, IPC_NOWAIT}};
	printf("take 2 from #1 and 4 from #2 at once: %s\n",
	       semop(id, both, 2) ? errname(errno) : "ok");
	show("nothing taken");
	struct sembuf many[501];
	for (int i = 0; i < 501; i++)
		many[i] = (struct sembuf){0, 1, 0};
	printf("501 operations: %s\n", semop(id, many, 501) ? errname(errno) : "ok");

	struct timespec short_wait = {0, 50 * 1000 * 1000};
	struct sembuf take = {0, -1, 0};
	printf("semtimedop on an empty semaphore: %s\n",
	       semtimedop(id, &take, 1, &short_wait) ? errname(errno) : "ok");

	/* A child (vfork: the parent sleeps until it execs or exits) cannot wait
	 * for the parent, so: the parent posts first, the child takes. */
	op("post #0", 0, 1, 0);
	pid_t pid = vfork();
	if (pid == 0) {
		struct sembuf t = {0, -1, 0};
		_exit(semop(id, &t, 1) ? 1 : 0);
	}
	int status;
	waitpid(pid, &status, 0);
	printf("child took #0: %s, now %d, GETPID is the child: %s\n",
	       WIFEXITED(status) && !WEXITSTATUS(status) ? "yes" : "no", semctl(id, 0, GETVAL),
	       semctl(id, 0, GETPID) == pid ? "yes" : "no");

	/* SEM_UNDO: the child adds 3 and exits; the kernel takes them back. */
	pid = vfork();
	if (pid == 0) {
		struct sembuf t = {1, 3, SEM_UNDO};
		_exit(semop(id, &t, 1) ? 1 : 0);
	}
	waitpid(pid, &status, 0);
	printf("SEM_UNDO child added 3 to #1 and exited: #1 is %d\n", semctl(id, 1, GETVAL));

	key_t key = 0x5e4a0000 + (getpid() & 0xffff); /* (tests may run side by side) */
	int key_id = semget(key, 2, IPC_CREAT | IPC_EXCL | 0600);
	printf("by key: %s", key_id >= 0 ? "created" : errname(errno));
	printf(", again with IPC_EXCL: %s",
	       semget(key, 2, IPC_CREAT | IPC_EXCL | 0600) < 0 ? errname(errno) : "ok");
	printf(", found: %s", semget(key, 0, 0) == key_id ? "same set" : "other");
	printf(", more semaphores than it has: %s",
	       semget(key, 5, 0) < 0 ? errname(errno) : "ok");
	printf(", unknown key: %s\n", semget(key ^ 0x8000, 1, 0) < 0 ? errname(errno) : "ok");
	struct semid_ds ds;
	semctl(key_id, 0, IPC_STAT, (union semun){.buf = &ds});
	printf("IPC_STAT: %lu semaphores, mode %o\n", (unsigned long)ds.sem_nsems,
	       ds.sem_perm.mode & 0777);
	int by_index = semctl(key_id & 0x7fff, 0, SEM_STAT, (union semun){.buf = &ds});
	printf("SEM_STAT of its table index: %s\n", by_index == key_id ? "the set" : errname(errno));
	semctl(key_id, 0, IPC_RMID);
	printf("after IPC_RMID: %s\n", semctl(key_id, 0, GETVAL) < 0 ? errname(errno) : "ok");

	/* A thread sleeps in semop; GETNCNT counts it; IPC_RMID wakes it: EIDRM. */
	pthread_t waiter;
	pthread_create(&waiter, NULL, wait_on_zero_set, NULL);
	struct timespec tick = {0, 10 * 1000 * 1000};
	for (int i = 0; i < 500 && semctl(id, 2, GETNCNT) != 1; i++)
		nanosleep(&tick, NULL);
	printf("GETNCNT #2 with a thread waiting: %d\n", semctl(id, 2, GETNCNT));
	semctl(id, 0, IPC_RMID);
	pthread_join(waiter, NULL);
	printf("the waiting thread got: %s\n", errname(thread_errno));
	return 0;
}
