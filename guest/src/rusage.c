/*
 * rusage.c - getrusage, times, wait4's rusage and sysinfo, checked for what
 * holds on any machine: times never go backwards, a spinning child's CPU
 * time counts for its parent only once it is waited for, bad arguments fail.
 *
 * Usage: rusage          (the checks; spawns ./rusage spin)
 *        rusage spin     (use about 60 ms of CPU time, then exit)
 */
#include "guest.h"

#include <spawn.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/times.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double secs(struct rusage *r)
{
	return r->ru_utime.tv_sec + r->ru_utime.tv_usec / 1e6 + r->ru_stime.tv_sec +
	       r->ru_stime.tv_usec / 1e6;
}

static int sane(struct rusage *r)
{
	return r->ru_utime.tv_sec >= 0 && r->ru_utime.tv_usec >= 0 && r->ru_utime.tv_usec < 1000000 &&
	       r->ru_stime.tv_sec >= 0 && r->ru_stime.tv_usec >= 0 && r->ru_stime.tv_usec < 1000000;
}

static void spin(double seconds)
{
	double start = cpu_now();
	while (cpu_now() - start < seconds)
		for (volatile int i = 0; i < 10000; i++)
			;
}

int main(int argc, char **argv)
{
	struct rusage a, b, c, child;
	struct tms t1, t2;
	struct sysinfo si;
	char *args[] = { "rusage", "spin", 0 };
	clock_t e1, e2;
	pid_t pid;
	int status;

	if (argc > 1) {
		spin(0.06);
		return 0;
	}
	check("getrusage(RUSAGE_SELF)", getrusage(RUSAGE_SELF, &a) == 0 && sane(&a));
	spin(0.02);
	getrusage(RUSAGE_SELF, &b);
	check("  never goes backwards", secs(&b) >= secs(&a));
	check("  the spin counted", secs(&b) > secs(&a));
	check("getrusage(RUSAGE_THREAD)", getrusage(RUSAGE_THREAD, &c) == 0 && sane(&c));
	check("getrusage(RUSAGE_CHILDREN), none yet",
	      getrusage(RUSAGE_CHILDREN, &c) == 0 && secs(&c) == 0);
	report("getrusage(42)", getrusage(42, &c));
	check("maxrss", b.ru_maxrss > 0);

	e1 = times(&t1);
	posix_spawn(&pid, "./rusage", 0, 0, args, environ);
	usleep(10000);
	getrusage(RUSAGE_CHILDREN, &c);
	check("a running child's time is not counted yet", secs(&c) == 0);
	check("wait4", wait4(pid, &status, 0, &child) == pid && status == 0);
	check("  its rusage has its CPU time", sane(&child) && secs(&child) >= 0.05);
	getrusage(RUSAGE_CHILDREN, &c);
	check("after wait, RUSAGE_CHILDREN counts it", secs(&c) >= 0.05);
	e2 = times(&t2);
	check("times: elapsed ticks grow", e2 >= e1);
	check("times: the child's ticks", t2.tms_cutime + t2.tms_cstime >= 4);
	check("times: own ticks never go backwards",
	      t2.tms_utime + t2.tms_stime >= t1.tms_utime + t1.tms_stime);

	check("sysinfo", sysinfo(&si) == 0);
	check("  some RAM, some of it free", si.totalram > 0 && si.freeram <= si.totalram &&
						   si.mem_unit >= 1);
	check("  processes", si.procs >= 1);
	check("  uptime", si.uptime < 100000000);
	return guest_status();
}
