/*
 * kill - send a signal to processes.
 *
 * Usage: kill [-s NAME | -NAME | -N] PID...      (default SIGTERM)
 *        kill -l [NUMBER]
 * NAME may be given with or without "SIG" (TERM, SIGTERM, term); N is a
 * number. A negative PID after "--" names a process group. -l lists the
 * signal names; -l N prints the name of signal N (or of N-128, for an exit
 * status). Exits 0, or 1 if any kill() failed or an argument was bad.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	int num;
	const char *name;
} sigs[] = {
	{SIGHUP, "HUP"},   {SIGINT, "INT"},       {SIGQUIT, "QUIT"},   {SIGILL, "ILL"},
	{SIGTRAP, "TRAP"}, {SIGABRT, "ABRT"},     {SIGBUS, "BUS"},     {SIGFPE, "FPE"},
	{SIGKILL, "KILL"}, {SIGUSR1, "USR1"},     {SIGSEGV, "SEGV"},   {SIGUSR2, "USR2"},
	{SIGPIPE, "PIPE"}, {SIGALRM, "ALRM"},     {SIGTERM, "TERM"},   {SIGSTKFLT, "STKFLT"},
	{SIGCHLD, "CHLD"}, {SIGCONT, "CONT"},     {SIGSTOP, "STOP"},   {SIGTSTP, "TSTP"},
	{SIGTTIN, "TTIN"}, {SIGTTOU, "TTOU"},     {SIGURG, "URG"},     {SIGXCPU, "XCPU"},
	{SIGXFSZ, "XFSZ"}, {SIGVTALRM, "VTALRM"}, {SIGPROF, "PROF"},   {SIGWINCH, "WINCH"},
	{SIGIO, "IO"},     {SIGPWR, "PWR"},       {SIGSYS, "SYS"},
};
enum { NSIGS = sizeof sigs / sizeof sigs[0] };

/* A signal name or number; -1 if unknown. */
static int parse_signal(const char *s)
{
	if (isdigit((unsigned char)s[0])) {
		char *end;
		long n = strtol(s, &end, 10);
		return *end || n < 0 || n > 64 ? -1 : (int)n;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (int i = 0; i < NSIGS; i++)
		if (strcasecmp(s, sigs[i].name) == 0)
			return sigs[i].num;
	if (strcasecmp(s, "POLL") == 0)
		return SIGIO;
	if (strcasecmp(s, "IOT") == 0)
		return SIGABRT;
	return -1;
}

static int list(const char *arg)
{
	if (!arg) {
		for (int i = 0; i < NSIGS; i++)
			printf("%2d) SIG%s%s", sigs[i].num, sigs[i].name, i % 4 == 3 || i == NSIGS - 1 ? "\n" : "\t");
		return 0;
	}
	int n = atoi(arg);
	if (n > 128)
		n -= 128;
	for (int i = 0; i < NSIGS; i++) {
		if (sigs[i].num == n) {
			printf("%s\n", sigs[i].name);
			return 0;
		}
	}
	int byname = parse_signal(arg);
	if (byname > 0) {
		printf("%d\n", byname);
		return 0;
	}
	fprintf(stderr, "kill: %s: unknown signal\n", arg);
	return 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: kill [-s NAME | -NAME | -N] PID...\n       kill -l [NUMBER]\n");
	return 1;
}

int main(int argc, char **argv)
{
	int sig = SIGTERM, i = 1, status = 0;
	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "-l") == 0 || strcmp(argv[1], "-L") == 0)
		return list(argc > 2 ? argv[2] : NULL);
	if (strcmp(argv[1], "-s") == 0 || strcmp(argv[1], "-n") == 0) {
		if (argc < 3)
			return usage();
		sig = parse_signal(argv[2]);
		i = 3;
	} else if (argv[1][0] == '-' && argv[1][1] && strcmp(argv[1], "--") != 0) {
		sig = parse_signal(argv[1] + 1);
		i = 2;
	}
	if (sig < 0) {
		fprintf(stderr, "kill: %s: unknown signal\n", argv[i - 1]);
		return 1;
	}
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	if (i >= argc)
		return usage();
	for (; i < argc; i++) {
		char *end;
		long pid = strtol(argv[i], &end, 10);
		if (!argv[i][0] || *end) {
			fprintf(stderr, "kill: %s: not a process id\n", argv[i]);
			status = 1;
			continue;
		}
		if (kill((pid_t)pid, sig) < 0) {
			fprintf(stderr, "kill: (%ld): %s\n", pid, strerror(errno));
			status = 1;
		}
	}
	return status;
}
