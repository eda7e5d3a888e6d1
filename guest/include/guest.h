/*
 * guest.h - small helpers shared by the guest programs (header only).
 *
 * Every guest program must print the same bytes natively and under nommu, so
 * errors are printed as symbolic names plus musl's strerror text (both fixed
 * for a given libc), never as raw numbers, addresses, pids or times. A check
 * that fails prints "no" and makes the program exit with status 1.
 */
#ifndef GUEST_H
#define GUEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Linux futex operations (musl ships no <linux/futex.h>). */
enum {
	FUTEX_WAIT = 0,
	FUTEX_WAKE = 1,
	FUTEX_PRIVATE_FLAG = 128,
	FUTEX_WAIT_PRIVATE = FUTEX_WAIT | FUTEX_PRIVATE_FLAG,
	FUTEX_WAKE_PRIVATE = FUTEX_WAKE | FUTEX_PRIVATE_FLAG,
};

/* Number of failed check() calls; main returns guest_status(). */
static int guest_failures __attribute__((unused));

/* The Linux name of an errno value ("ENOENT"), or "E<number>" if unlisted. */
static inline const char *errname(int e)
{
	static char other[16];
	switch (e) {
	case 0: return "0";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case E2BIG: return "E2BIG";
	case ENOEXEC: return "ENOEXEC";
	case EBADF: return "EBADF";
	case ECHILD: return "ECHILD";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case EXDEV: return "EXDEV";
	case ENODEV: return "ENODEV";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EINVAL: return "EINVAL";
	case EMFILE: return "EMFILE";
	case ENOTTY: return "ENOTTY";
	case ENOSPC: return "ENOSPC";
	case ESPIPE: return "ESPIPE";
	case EROFS: return "EROFS";
	case EPIPE: return "EPIPE";
	case ERANGE: return "ERANGE";
	case EDEADLK: return "EDEADLK";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOSYS: return "ENOSYS";
	case ENOTEMPTY: return "ENOTEMPTY";
	case ELOOP: return "ELOOP";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	}
	snprintf(other, sizeof other, "E%d", e);
	return other;
}

/* Prints "what: ok" when rc >= 0, else "what: ENAME (strerror text)". */
static inline void report(const char *what, long rc)
{
	if (rc >= 0)
		printf("%s: ok\n", what);
	else
		printf("%s: %s (%s)\n", what, errname(errno), strerror(errno));
}

/* Prints "what: ENAME (text)" for an error number returned directly. */
static inline void report_err(const char *what, int err)
{
	if (err == 0)
		printf("%s: ok\n", what);
	else
		printf("%s: %s (%s)\n", what, errname(err), strerror(err));
}

/* Prints "what: yes" or "what: no"; a "no" is remembered as a failure. */
static inline void check(const char *what, int ok)
{
	printf("%s: %s\n", what, ok ? "yes" : "no");
	if (!ok)
		guest_failures++;
}

/* Exit status for main: 0 when every check() passed, else 1. */
static inline int guest_status(void)
{
	return guest_failures ? 1 : 0;
}

/* argv[i] as an unsigned number, or def when absent. */
static inline unsigned long arg_ulong(int argc, char **argv, int i, unsigned long def)
{
	return i < argc ? strtoul(argv[i], NULL, 0) : def;
}

/* The Linux name of a signal number ("SIGSEGV"), or "SIG<number>". */
static inline const char *signame(int sig)
{
	static char other[16];
	switch (sig) {
	case SIGHUP: return "SIGHUP";
	case SIGINT: return "SIGINT";
	case SIGQUIT: return "SIGQUIT";
	case SIGILL: return "SIGILL";
	case SIGTRAP: return "SIGTRAP";
	case SIGABRT: return "SIGABRT";
	case SIGBUS: return "SIGBUS";
	case SIGFPE: return "SIGFPE";
	case SIGKILL: return "SIGKILL";
	case SIGUSR1: return "SIGUSR1";
	case SIGSEGV: return "SIGSEGV";
	case SIGUSR2: return "SIGUSR2";
	case SIGPIPE: return "SIGPIPE";
	case SIGALRM: return "SIGALRM";
	case SIGTERM: return "SIGTERM";
	case SIGCHLD: return "SIGCHLD";
	}
	snprintf(other, sizeof other, "SIG%d", sig);
	return other;
}

/* Prints a wait status as "who: exited N" or "who: killed by SIGNAME". */
static inline void print_wait_status(const char *who, int status)
{
	if (WIFEXITED(status))
		printf("%s: exited %d\n", who, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		printf("%s: killed by %s\n", who, signame(WTERMSIG(status)));
	else
		printf("%s: stopped or unknown status\n", who);
}

/*
 * Starts fn(arg) in a new process that shares this one's memory
 * (clone(CLONE_VM|SIGCHLD)) on a fresh malloc'd stack. Unlike a vfork child,
 * it runs concurrently with the parent, and unlike a thread it is a separate
 * process: it has its own pid and fd table and is reaped with waitpid. It
 * shares the parent's TLS, so fn must not rely on errno. The stack is leaked.
 * Returns the pid, or -1 with errno set.
 */
static inline pid_t clone_process(int (*fn)(void *), void *arg)
{
	enum { STACK_SIZE = 64 * 1024 };
	char *stack = malloc(STACK_SIZE);
	if (!stack)
		return -1;
	return clone(fn, stack + STACK_SIZE, CLONE_VM | SIGCHLD, arg);
}

#endif
