/*
 * echo - print the arguments, separated by spaces, and a newline.
 *
 * Usage: echo [-n] [-e] [ARG...]
 *   -n  no trailing newline
 *   -e  interpret \n \t \\ \a \b \r \v \f \c (stop output) and \0NNN
 * Exits 0 (1 if writing fails).
 */
#include <stdio.h>
#include <string.h>

/* Prints s with backslash escapes; returns 1 if \c asked to stop. */
static int print_escaped(const char *s)
{
	for (; *s; s++) {
		if (*s != '\\' || !s[1]) {
			putchar(*s);
			continue;
		}
		switch (*++s) {
		case 'n': putchar('\n'); break;
		case 't': putchar('\t'); break;
		case 'r': putchar('\r'); break;
		case 'a': putchar('\a'); break;
		case 'b': putchar('\b'); break;
		case 'f': putchar('\f'); break;
		case 'v': putchar('\v'); break;
		case '\\': putchar('\\'); break;
		case 'c': return 1;
		case '0': {
			int v = 0;
			for (int k = 0; k < 3 && s[1] >= '0' && s[1] <= '7'; k++)
				v = v * 8 + (*++s - '0');
			putchar(v);
			break;
		}
		default: putchar('\\'); putchar(*s); break;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	int newline = 1, escapes = 0, i = 1;
	/* Options only as leading words made of n/e/E letters, like coreutils. */
	for (; i < argc && argv[i][0] == '-' && argv[i][1] && strspn(argv[i] + 1, "neE") == strlen(argv[i] + 1); i++) {
		for (const char *c = argv[i] + 1; *c; c++) {
			if (*c == 'n')
				newline = 0;
			else
				escapes = *c == 'e';
		}
	}
	for (int first = i; i < argc; i++) {
		if (i > first)
			putchar(' ');
		if (escapes ? print_escaped(argv[i]) : (fputs(argv[i], stdout), 0))
			return fflush(stdout) ? 1 : 0;
	}
	if (newline)
		putchar('\n');
	return fflush(stdout) ? 1 : 0;
}
