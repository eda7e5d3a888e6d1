/*
 * waitpid - the wait4 variants and how children end.
 *
 * Usage: waitpid
 * Children are clone(CLONE_VM|SIGCHLD) processes running a function of this
 * program (they run alongside the parent, unlike vfork children, so the
 * parent can wait for them while they are alive). Checks, in order:
 *   waitpid(-1, WNOHANG) with no children        -> ECHILD
 *   WNOHANG on a live child                      -> 0; after release: exited 42
 *   kill(child, SIGKILL), waitpid(-1)            -> killed by SIGKILL
 *   kill(child, SIGTERM), waitpid(0) (own pgrp)  -> killed by SIGTERM
 *   wait4(-1, &status, 0, &rusage)               -> exited 3
 *   WNOHANG polling until a child has exited     -> exited 5
 *   waitpid(1) (not our child), waitpid(-1)      -> ECHILD
 * Exits 0 when every check passed.
 */
#include "guest.h"
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static volatile int released;

/* Sleeps in 1ms steps until released (or killed); touches no errno. */
static void wait_for_release(void)
{
	struct timespec ms = {0, 1000000};
	while (!released)
		nanosleep(&ms, NULL);
}

static int exit_after_release(void *code)
{
	wait_for_release();
	return (int)(long)code;
}

static int exit_now(void *code)
{
	return (int)(long)code;
}

/* Starts fn(arg) as a clone(CLONE_VM) child; exits 1 if that fails. */
static pid_t start(int (*fn)(void *), long arg)
{
	pid_t pid = clone_process(fn, (void *)arg);
	if (pid < 0) {
		report("clone", -1);
		exit(1);
	}
	return pid;
}

/* Waits for pid with flags; checks it is the one reaped and prints how. */
static void reap(const char *what, pid_t want, pid_t waited_for, int flags)
{
	int status = 0;
	pid_t got = waitpid(waited_for, &status, flags);
	check(what, got == want);
	if (got == want)
		print_wait_status("  child", status);
}

static void live_child(void)
{
	int status;
	released = 0;
	pid_t pid = start(exit_after_release, 42);
	check("WNOHANG on a live child returns 0", waitpid(pid, &status, WNOHANG) == 0);
	released = 1;
	reap("waitpid(pid) after release", pid, pid, 0);
}

static void killed_children(void)
{
	released = 0;
	pid_t pid = start(exit_after_release, 1);
	check("kill SIGKILL", kill(pid, SIGKILL) == 0);
	reap("waitpid(-1) reaps the SIGKILLed child", pid, -1, 0);

	pid = start(exit_after_release, 1);
	check("kill SIGTERM", kill(pid, SIGTERM) == 0);
	reap("waitpid(0) reaps the SIGTERMed child", pid, 0, 0);
}

static void other_variants(void)
{
	struct timespec ms = {0, 1000000};
	struct rusage ru;
	int status = 0;
	pid_t pid = start(exit_now, 3), got;
	check("wait4 with rusage", wait4(-1, &status, 0, &ru) == pid);
	print_wait_status("  child", status);

	pid = start(exit_now, 5);
	while ((got = waitpid(pid, &status, WNOHANG)) == 0)
		nanosleep(&ms, NULL);
	check("WNOHANG polling reaps the exited child", got == pid);
	print_wait_status("  child", status);
}

int main(void)
{
	report("waitpid(-1, WNOHANG) without children", waitpid(-1, NULL, WNOHANG));
	live_child();
	killed_children();
	other_variants();
	report("waitpid(1) (not a child)", waitpid(1, NULL, 0));
	report("waitpid(-1) with nothing left", waitpid(-1, NULL, 0));
	return guest_status();
}
