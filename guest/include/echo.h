/*
 * echo.h - echo's options and escapes (header only), shared by /bin/echo
 * (guest/src/echo.c) and the shell's builtin (guest/src/sh/builtin.c), so
 * that `echo` means the same in a pipeline (/bin/echo) and alone (builtin).
 *
 * Usage: echo [-n] [-e] [ARG...]
 *   -n  no trailing newline
 *   -e  interpret \n \t \\ \a \b \r \v \f \c (stop output) and \0NNN
 */
#ifndef ECHO_H
#define ECHO_H

#include <stdio.h>
#include <string.h>

/* Prints s with echo -e's backslash escapes; returns 1 if \c asked to stop. */
static int echo_escaped(const char *s)
{
	static const char letters[] = "ntrabfv\\", codes[] = "\n\t\r\a\b\f\v\\";
	for (; *s; s++) {
		const char *letter = s[0] == '\\' && s[1] ? strchr(letters, s[1]) : NULL;
		if (s[0] != '\\' || !s[1]) {
			putchar(*s);
		} else if (s[1] == 'c') {
			return 1;
		} else if (letter) {
			putchar(codes[letter - letters]);
			s++;
		} else if (s[1] == '0') { /* \0NNN: up to three octal digits */
			int v = 0;
			s++;
			for (int k = 0; k < 3 && s[1] >= '0' && s[1] <= '7'; k++)
				v = v * 8 + (*++s - '0');
			putchar(v);
		} else {
			putchar(*s);
		}
	}
	return 0;
}

/* Prints argv[1...] as echo does; returns 0, or 1 if writing failed. */
static int echo_args(int argc, char **argv)
{
	int newline = 1, escapes = 0, i = 1;
	/* Options only as leading words made of n/e/E letters, like coreutils. */
	for (; i < argc && argv[i][0] == '-' && argv[i][1] &&
	       strspn(argv[i] + 1, "neE") == strlen(argv[i] + 1); i++) {
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
		if (escapes ? echo_escaped(argv[i]) : (fputs(argv[i], stdout), 0)) {
			newline = 0;
			break;
		}
	}
	if (newline)
		putchar('\n');
	return fflush(stdout) ? 1 : 0;
}

#endif
