/*
 * uname - print system information.
 *
 * Usage: uname [-asnrvm]
 *   -s kernel name (default)   -n node name   -r release   -v version
 *   -m machine                 -a all of them, in that order
 * Under nommu the machine and release are what nommu reports; natively
 * they are the host's. Exits 0, or 1 on a bad option.
 */
#include <stdio.h>
#include <sys/utsname.h>

int main(int argc, char **argv)
{
	struct utsname u;
	enum { S = 1, N = 2, R = 4, V = 8, M = 16 };
	int which = 0;
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] != '-') {
			fprintf(stderr, "uname: extra operand '%s'\n", argv[i]);
			return 1;
		}
		for (const char *c = argv[i] + 1; *c; c++) {
			switch (*c) {
			case 'a': which |= S | N | R | V | M; break;
			case 's': which |= S; break;
			case 'n': which |= N; break;
			case 'r': which |= R; break;
			case 'v': which |= V; break;
			case 'm': which |= M; break;
			default:
				fprintf(stderr, "uname: invalid option -%c\nusage: uname [-asnrvm]\n", *c);
				return 1;
			}
		}
	}
	if (!which)
		which = S;
	if (uname(&u) < 0) {
		perror("uname");
		return 1;
	}
	const char *fields[] = {u.sysname, u.nodename, u.release, u.version, u.machine};
	int first = 1;
	for (int k = 0; k < 5; k++) {
		if (which & (1 << k)) {
			printf("%s%s", first ? "" : " ", fields[k]);
			first = 0;
		}
	}
	printf("\n");
	return 0;
}
