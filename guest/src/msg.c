/*
 * msg - SysV message queues: msgget, msgsnd, msgrcv, msgctl.
 *
 * Usage: msg
 * Sends typed messages and receives them by type (0: first; > 0: that type;
 * with MSG_EXCEPT: another type; < 0: the lowest type up to it), checks the
 * errors (E2BIG and MSG_NOERROR, ENOMSG and EAGAIN with IPC_NOWAIT, EINVAL),
 * IPC_STAT's counts, a full queue after IPC_SET shrinks it, a vfork child
 * sending to the parent, and IPC_RMID waking a thread that waits in msgrcv
 * with EIDRM. Prints results only (no ids, pids or times); exits 0.
 */
#include "guest.h"
#include <pthread.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <time.h>
#include <unistd.h>

struct message {
	long type;
	char text[64];
};

static int q, thread_errno;

static void send(long type, const char *text, int flags)
{
	struct message m = {.type = type};
	strcpy(m.text, text);
	int rc = msgsnd(q, &m, strlen(text) + 1, flags);
	printf("send %ld \"%s\": %s\n", type, text, rc ? errname(errno) : "ok");
}

static void receive(const char *what, long type, size_t size, int flags)
{
	struct message m = {0};
	ssize_t n = msgrcv(q, &m, size, type, flags);
	if (n < 0)
		printf("receive %s: %s\n", what, errname(errno));
	else
		printf("receive %s: type %ld, %zd bytes \"%.*s\"\n", what, m.type, n, (int)n, m.text);
}

static void *wait_for_a_message(void *arg)
{
	struct message m;
	thread_errno = msgrcv(q, &m, sizeof m.text, 0, 0) < 0 ? errno : 0;
	return arg;
}

int main(void)
{
	q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (q < 0) {
		report("msgget", -1);
		return 1;
	}
	send(3, "three", 0);
	send(1, "one", 0);
	send(2, "two", 0);
	send(1, "one again", 0);
	send(0, "type zero", 0);
	struct msqid_ds ds;
	msgctl(q, IPC_STAT, &ds);
	printf("IPC_STAT: %lu messages, %lu bytes, room for %lu\n", (unsigned long)ds.msg_qnum,
	       (unsigned long)ds.__msg_cbytes, (unsigned long)ds.msg_qbytes);
	int by_index = msgctl(q & 0x7fff, MSG_STAT, &ds);
	printf("MSG_STAT of its table index: %s, %lu messages\n",
	       by_index == q ? "the queue" : errname(errno), (unsigned long)ds.msg_qnum);
	receive("type 2", 2, 64, 0);
	receive("any but type 3", 3, 64, MSG_EXCEPT);
	receive("lowest type up to 3", -3, 64, 0);
	receive("the first, into 3 bytes", 0, 3, IPC_NOWAIT);
	receive("the first, cut to 3 bytes", 0, 3, MSG_NOERROR);
	receive("type 5", 5, 64, IPC_NOWAIT);
	receive("from an empty queue", 0, 64, IPC_NOWAIT);

	ds.msg_qbytes = 10;
	msgctl(q, IPC_SET, &ds);
	send(1, "12345678", IPC_NOWAIT);
	send(1, "more", IPC_NOWAIT);
	receive("the first", 0, 64, 0);
	ds.msg_qbytes = 16384;
	msgctl(q, IPC_SET, &ds);

	pid_t pid = vfork();
	if (pid == 0) {
		struct message m = {7, "from the child"};
		_exit(msgsnd(q, &m, 15, 0) ? 1 : 0);
	}
	int status;
	waitpid(pid, &status, 0);
	receive("what the child sent", 7, 64, IPC_NOWAIT);

	pthread_t waiter;
	pthread_create(&waiter, NULL, wait_for_a_message, NULL);
	struct timespec tick = {0, 100 * 1000 * 1000};
	nanosleep(&tick, NULL); /* the thread is asleep in msgrcv by now */
	msgctl(q, IPC_RMID, NULL);
	pthread_join(waiter, NULL);
	printf("the waiting thread got: %s\n", errname(thread_errno));
	printf("after IPC_RMID: %s\n", msgsnd(q, &(struct message){1, "x"}, 2, 0) ? errname(errno) : "ok");
	return 0;
}
