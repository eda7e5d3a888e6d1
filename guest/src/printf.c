/*
 * printf - formatted output.
 *
 * Usage: printf FORMAT [ARG...]
 * FORMAT is printed with backslash escapes (\n \t \r \\ \a \b \f \v \"
 * \NNN octal, \c stop) and conversions %s %b (string with escapes) %c %d %i
 * %u %o %x %X %e %f %g %%, with flags, width and precision (also *). A
 * numeric ARG may be 'c (the character's code). The format is reused while
 * ARGs remain; missing ARGs count as "" or 0. Exits 0, or 1 if an ARG was
 * not a valid number.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char **args;
static int nargs, status;

static const char *next_arg(void)
{
	if (nargs == 0)
		return NULL;
	nargs--;
	return *args++;
}

static long long to_int(const char *s)
{
	if (!s || !*s)
		return 0;
	if (*s == '\'' || *s == '"')
		return (unsigned char)s[1];
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 0);
	if (*end || errno) {
		fprintf(stderr, "printf: '%s': expected a numeric value\n", s);
		status = 1;
	}
	return v;
}

static double to_double(const char *s)
{
	if (!s || !*s)
		return 0;
	char *end;
	double v = strtod(s, &end);
	if (*end) {
		fprintf(stderr, "printf: '%s': expected a numeric value\n", s);
		status = 1;
	}
	return v;
}

/* Handles the escape at *p (just after the backslash); returns 1 for \c. */
static int escape(const char **p, int in_b)
{
	const char *s = *p;
	int c = *s++;
	switch (c) {
	case 'n': putchar('\n'); break;
	case 't': putchar('\t'); break;
	case 'r': putchar('\r'); break;
	case 'a': putchar('\a'); break;
	case 'b': putchar('\b'); break;
	case 'f': putchar('\f'); break;
	case 'v': putchar('\v'); break;
	case '\\': putchar('\\'); break;
	case '"': putchar('"'); break;
	case 'c': *p = s; return 1;
	case 0: putchar('\\'); s--; break;
	default:
		if (c >= '0' && c <= '7') {
			int v = c - '0', max = in_b && c == '0' ? 3 : 2;
			for (int k = 0; k < max && *s >= '0' && *s <= '7'; k++)
				v = v * 8 + (*s++ - '0');
			putchar(v);
		} else {
			putchar('\\');
			putchar(c);
		}
	}
	*p = s;
	return 0;
}

/* One pass over the format; returns 1 if \c asked to stop everything. */
static int format(const char *f)
{
	while (*f) {
		if (*f == '\\') {
			f++;
			if (escape(&f, 0))
				return 1;
			continue;
		}
		if (*f != '%') {
			putchar(*f++);
			continue;
		}
		if (f[1] == '%') {
			putchar('%');
			f += 2;
			continue;
		}
		/* Copy "%[flags][width][.precision]" into spec, resolving '*'. */
		char spec[64];
		size_t n = 0;
		spec[n++] = *f++;
		while (*f && strchr("-+ #0", *f) && n < 20)
			spec[n++] = *f++;
		for (int part = 0; part < 2; part++) {
			if (part == 1) {
				if (*f != '.')
					break;
				spec[n++] = *f++;
			}
			if (*f == '*') {
				n += snprintf(spec + n, 20, "%d", (int)to_int(next_arg()));
				f++;
			} else {
				while (*f >= '0' && *f <= '9' && n < 50)
					spec[n++] = *f++;
			}
		}
		char conv = *f ? *f++ : 0;
		const char *a;
		switch (conv) {
		case 'd':
		case 'i':
			strcpy(spec + n, "lld");
			printf(spec, to_int(next_arg()));
			break;
		case 'u':
		case 'o':
		case 'x':
		case 'X':
			spec[n++] = 'l';
			spec[n++] = 'l';
			spec[n++] = conv;
			spec[n] = 0;
			printf(spec, (unsigned long long)to_int(next_arg()));
			break;
		case 'e':
		case 'E':
		case 'f':
		case 'F':
		case 'g':
		case 'G':
			spec[n++] = conv;
			spec[n] = 0;
			printf(spec, to_double(next_arg()));
			break;
		case 'c':
			a = next_arg();
			spec[n++] = 'c';
			spec[n] = 0;
			printf(spec, a && *a ? *a : 0);
			break;
		case 's':
			a = next_arg();
			spec[n++] = 's';
			spec[n] = 0;
			printf(spec, a ? a : "");
			break;
		case 'b':
			a = next_arg();
			for (const char *s = a ? a : ""; *s;) {
				if (*s == '\\') {
					s++;
					if (escape(&s, 1))
						return 1;
				} else {
					putchar(*s++);
				}
			}
			break;
		default:
			fprintf(stderr, "printf: %%%c: invalid conversion\n", conv);
			status = 1;
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: printf FORMAT [ARG...]\n");
		return 1;
	}
	args = argv + 2;
	nargs = argc - 2;
	for (;;) {
		int before = nargs;
		if (format(argv[1]) || nargs == 0 || nargs == before)
			break;
	}
	fflush(stdout);
	return status;
}
