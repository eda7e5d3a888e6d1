/*
 * test, [ - evaluate a condition.
 *
 * Usage: test EXPR      or      [ EXPR ]
 * EXPR:  STRING  -n STRING  -z STRING  S1 = S2  S1 != S2  S1 < S2  S1 > S2
 *        N1 -eq|-ne|-lt|-le|-gt|-ge N2
 *        -e|-f|-d|-r|-w|-x|-s|-L|-h|-b|-c|-p|-S FILE   -t FD
 *        F1 -nt|-ot|-ef F2   ! EXPR   EXPR -a EXPR   EXPR -o EXPR   ( EXPR )
 * Up to four arguments follow the POSIX rules by argument count (so that
 * [ "$x" = "" ] works whatever $x holds); longer ones are parsed with
 * ! binding tighter than -a, which binds tighter than -o.
 * Exits 0 if EXPR is true, 1 if false, 2 on a usage error.
 * The same source builds "[" (src/[.c includes this file); invoked as "["
 * the last argument must be "]".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char **av;
static int ac, pos;

static void __attribute__((noreturn)) error(const char *msg, const char *arg)
{
	if (arg)
		fprintf(stderr, "test: %s: %s\n", arg, msg);
	else
		fprintf(stderr, "test: %s\n", msg);
	exit(2);
}

static int is_binop(const char *s)
{
	static const char *const ops[] = {"=", "!=", "==", "<", ">", "-eq", "-ne", "-lt", "-le",
					  "-gt", "-ge", "-nt", "-ot", "-ef", NULL};
	for (int i = 0; ops[i]; i++)
		if (strcmp(s, ops[i]) == 0)
			return 1;
	return 0;
}

static int is_unop(const char *s)
{
	return s[0] == '-' && s[1] && !s[2] && strchr("efdrwxszLhbcpStnguk", s[1]);
}

static long long number(const char *s)
{
	char *end;
	while (*s == ' ' || *s == '\t')
		s++;
	long long v = strtoll(s, &end, 10);
	while (*end == ' ' || *end == '\t')
		end++;
	if (end == s || *end)
		error("integer expression expected", s);
	return v;
}

static int unary(const char *op, const char *arg)
{
	struct stat st;
	switch (op[1]) {
	case 'n': return arg[0] != 0;
	case 'z': return arg[0] == 0;
	case 't': return isatty((int)number(arg));
	case 'r': return access(arg, R_OK) == 0;
	case 'w': return access(arg, W_OK) == 0;
	case 'x': return access(arg, X_OK) == 0;
	case 'L':
	case 'h': return lstat(arg, &st) == 0 && S_ISLNK(st.st_mode);
	}
	if (stat(arg, &st) < 0)
		return 0;
	switch (op[1]) {
	case 'e': return 1;
	case 'f': return S_ISREG(st.st_mode);
	case 'd': return S_ISDIR(st.st_mode);
	case 's': return st.st_size > 0;
	case 'b': return S_ISBLK(st.st_mode);
	case 'c': return S_ISCHR(st.st_mode);
	case 'p': return S_ISFIFO(st.st_mode);
	case 'S': return S_ISSOCK(st.st_mode);
	case 'g': return (st.st_mode & S_ISGID) != 0;
	case 'u': return (st.st_mode & S_ISUID) != 0;
	case 'k': return (st.st_mode & S_ISVTX) != 0;
	}
	return 0;
}

static int binary(const char *a, const char *op, const char *b)
{
	if (!strcmp(op, "=") || !strcmp(op, "=="))
		return strcmp(a, b) == 0;
	if (!strcmp(op, "!="))
		return strcmp(a, b) != 0;
	if (!strcmp(op, "<"))
		return strcmp(a, b) < 0;
	if (!strcmp(op, ">"))
		return strcmp(a, b) > 0;
	if (op[1] == 'n' || op[1] == 'o' || (op[1] == 'e' && op[2] == 'f')) {
		struct stat sa, sb;
		int ha = stat(a, &sa) == 0, hb = stat(b, &sb) == 0;
		if (!strcmp(op, "-ef"))
			return ha && hb && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
		if (!strcmp(op, "-nt"))
			return ha && (!hb || sa.st_mtime > sb.st_mtime);
		return hb && (!ha || sa.st_mtime < sb.st_mtime);
	}
	long long x = number(a), y = number(b);
	if (!strcmp(op, "-eq")) return x == y;
	if (!strcmp(op, "-ne")) return x != y;
	if (!strcmp(op, "-lt")) return x < y;
	if (!strcmp(op, "-le")) return x <= y;
	if (!strcmp(op, "-gt")) return x > y;
	return x >= y;
}

static const char *peek(int k)
{
	return pos + k < ac ? av[pos + k] : NULL;
}

static int or_expr(void);

static int primary(void)
{
	const char *a = peek(0);
	if (!a)
		error("argument expected", NULL);
	if (peek(1) && is_binop(peek(1)) && peek(2)) {
		pos += 3;
		return binary(a, av[pos - 2], av[pos - 1]);
	}
	if (!strcmp(a, "(")) {
		pos++;
		int v = or_expr();
		if (!peek(0) || strcmp(peek(0), ")"))
			error("missing )", NULL);
		pos++;
		return v;
	}
	if (is_unop(a) && peek(1)) {
		pos += 2;
		return unary(a, av[pos - 1]);
	}
	pos++;
	return a[0] != 0;
}

static int not_expr(void)
{
	if (peek(0) && !strcmp(peek(0), "!") && peek(1)) {
		pos++;
		return !not_expr();
	}
	return primary();
}

static int and_expr(void)
{
	int v = not_expr();
	while (peek(0) && !strcmp(peek(0), "-a")) {
		pos++;
		v = not_expr() && v;
	}
	return v;
}

static int or_expr(void)
{
	int v = and_expr();
	while (peek(0) && !strcmp(peek(0), "-o")) {
		pos++;
		v = and_expr() || v;
	}
	return v;
}

/* The POSIX rules for n <= 4 arguments starting at av[i]; -1 if they do
 * not apply. */
static int by_count(int i, int n)
{
	char **a = av + i;
	switch (n) {
	case 0:
		return 0;
	case 1:
		return a[0][0] != 0;
	case 2:
		if (!strcmp(a[0], "!"))
			return a[1][0] == 0;
		if (is_unop(a[0]))
			return unary(a[0], a[1]);
		error("unary operator expected", a[0]);
	case 3:
		if (is_binop(a[1]))
			return binary(a[0], a[1], a[2]);
		if (!strcmp(a[0], "!"))
			return !by_count(i + 1, 2);
		if (!strcmp(a[0], "(") && !strcmp(a[2], ")"))
			return a[1][0] != 0;
		return -1;
	case 4:
		if (!strcmp(a[0], "!")) {
			int v = by_count(i + 1, 3);
			return v < 0 ? -1 : !v;
		}
		if (!strcmp(a[0], "(") && !strcmp(a[3], ")"))
			return by_count(i + 1, 2);
		return -1;
	}
	return -1;
}

int main(int argc, char **argv)
{
	const char *name = strrchr(argv[0], '/');
	name = name ? name + 1 : argv[0];
	if (strcmp(name, "[") == 0) {
		if (argc < 2 || strcmp(argv[argc - 1], "]") != 0) {
			fprintf(stderr, "[: missing ]\n");
			return 2;
		}
		argc--;
	}
	av = argv + 1;
	ac = argc - 1;
	int v = by_count(0, ac);
	if (v < 0) {
		v = or_expr();
		if (pos < ac)
			error("unexpected argument", av[pos]);
	}
	return v ? 0 : 1;
}
