/*
 * sleep - wait for a while.
 *
 * Usage: sleep DURATION...
 * Each DURATION is a number of seconds, fractions allowed ("0.25"), with an
 * optional suffix s, m, h or d; they add up. Sleeps with nanosleep,
 * continuing after interruptions. Exits 0, or 1 on a bad duration.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	double total = 0;
	if (argc < 2) {
		fprintf(stderr, "usage: sleep SECONDS...\n");
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		char *end;
		double v = strtod(argv[i], &end);
		double unit = 1;
		if (*end == 'm')
			unit = 60;
		else if (*end == 'h')
			unit = 3600;
		else if (*end == 'd')
			unit = 86400;
		if (*end && *end != 's' && unit == 1)
			end = NULL;
		if (end == argv[i] || !end || (*end && end[1]) || v < 0) {
			fprintf(stderr, "sleep: invalid time interval '%s'\n", argv[i]);
			return 1;
		}
		total += v * unit;
	}
	struct timespec ts;
	ts.tv_sec = (time_t)total;
	ts.tv_nsec = (long)((total - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return 0;
}
