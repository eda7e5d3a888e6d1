/*
 * arith.c - $(( expression )): integer arithmetic with C precedence.
 *
 * Supports numbers (decimal, 0x hex, 0 octal), variable names, parentheses,
 * unary + - ! ~, * / %, + -, << >>, < <= > >=, == !=, &, ^, |, &&, ||,
 * ?:, and the assignments = += -= *= /= %=. The text has already had its
 * $parameters expanded.
 */
#include "sh.h"

struct arith {
	const char *s;
	int error;
	int noeval;   /* inside the untaken side of && || ?: (no assignments) */
};

static long expr(struct arith *a);

static void skip(struct arith *a)
{
	while (*a->s == ' ' || *a->s == '\t' || *a->s == '\n')
		a->s++;
}

/* Consumes op if it is next, unless it only starts a longer operator
 * ("|" in "||", "<" in "<=" or "<<", "+" in "+="). */
static int accept(struct arith *a, const char *op)
{
	skip(a);
	size_t n = strlen(op);
	if (strncmp(a->s, op, n) != 0)
		return 0;
	char next = a->s[n];
	if (n == 1 && strchr("|&<>", op[0]) && (next == op[0] || next == '='))
		return 0;
	if (n == 1 && strchr("+-*/%!^", op[0]) && next == '=')
		return 0;
	if (n == 2 && (op[0] == '<' || op[0] == '>') && op[1] == op[0] && next == '=')
		return 0;
	a->s += n;
	return 1;
}

static void fail(struct arith *a, const char *msg)
{
	if (!a->error)
		sh_error("arithmetic: %s", msg);
	a->error = 1;
}

static long var_value(struct arith *a, const char *name)
{
	const char *v = var_get(name);
	if (!v || !*v)
		return 0;
	char *end;
	long n = strtol(v, &end, 0);
	if (*end)
		fail(a, "variable is not a number");
	return n;
}

static int is_name_char(char c, int first)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9');
}

static long primary(struct arith *a)
{
	skip(a);
	if (accept(a, "(")) {
		long v = expr(a);
		if (!accept(a, ")"))
			fail(a, "missing )");
		return v;
	}
	if (*a->s >= '0' && *a->s <= '9') {
		char *end;
		long v = strtol(a->s, &end, 0);
		a->s = end;
		return v;
	}
	if (is_name_char(*a->s, 1)) {
		const char *start = a->s;
		while (is_name_char(*a->s, 0))
			a->s++;
		char *name = xstrndup(start, a->s - start);
		static const char *const ops[] = {"+=", "-=", "*=", "/=", "%=", "=", NULL};
		skip(a);
		for (int i = 0; ops[i]; i++) {
			if (strncmp(a->s, ops[i], strlen(ops[i])) == 0 && !(ops[i][0] == '=' && a->s[1] == '=')) {
				a->s += strlen(ops[i]);
				long old = var_value(a, name), rhs = expr(a), v = rhs;
				switch (ops[i][0]) {
				case '+': v = old + rhs; break;
				case '-': v = old - rhs; break;
				case '*': v = old * rhs; break;
				case '/':
				case '%':
					if (rhs == 0) {
						fail(a, "division by zero");
						v = 0;
					} else {
						v = ops[i][0] == '/' ? old / rhs : old % rhs;
					}
				}
				if (!a->noeval && !a->error) {
					char buf[32];
					snprintf(buf, sizeof buf, "%ld", v);
					var_set(name, buf, 0);
				}
				free(name);
				return v;
			}
		}
		long v = var_value(a, name);
		free(name);
		return v;
	}
	fail(a, *a->s ? "syntax error" : "missing operand");
	return 0;
}

static long unary(struct arith *a)
{
	if (accept(a, "-"))
		return -unary(a);
	if (accept(a, "+"))
		return unary(a);
	if (accept(a, "!"))
		return !unary(a);
	if (accept(a, "~"))
		return ~unary(a);
	return primary(a);
}

/* Binary operators, loosest first; each level is left-associative. */
static const char *const levels[][5] = {
	{"||"}, {"&&"}, {"|"}, {"^"}, {"&"}, {"==", "!="}, {"<=", ">=", "<", ">"},
	{"<<", ">>"}, {"+", "-"}, {"*", "/", "%"},
};
enum { NLEVELS = sizeof levels / sizeof levels[0] };

static long binary(struct arith *a, int level)
{
	if (level == NLEVELS)
		return unary(a);
	long v = binary(a, level + 1);
	for (;;) {
		const char *op = NULL;
		for (int i = 0; i < 5 && levels[level][i]; i++)
			if (accept(a, levels[level][i])) {
				op = levels[level][i];
				break;
			}
		if (!op)
			return v;
		int saved = a->noeval;
		if ((!strcmp(op, "&&") && !v) || (!strcmp(op, "||") && v))
			a->noeval = 1;
		long r = binary(a, level + 1);
		a->noeval = saved;
		if (!strcmp(op, "||")) v = v || r;
		else if (!strcmp(op, "&&")) v = v && r;
		else if (!strcmp(op, "|")) v |= r;
		else if (!strcmp(op, "^")) v ^= r;
		else if (!strcmp(op, "&")) v &= r;
		else if (!strcmp(op, "==")) v = v == r;
		else if (!strcmp(op, "!=")) v = v != r;
		else if (!strcmp(op, "<=")) v = v <= r;
		else if (!strcmp(op, ">=")) v = v >= r;
		else if (!strcmp(op, "<")) v = v < r;
		else if (!strcmp(op, ">")) v = v > r;
		else if (!strcmp(op, "<<")) v <<= r;
		else if (!strcmp(op, ">>")) v >>= r;
		else if (!strcmp(op, "+")) v += r;
		else if (!strcmp(op, "-")) v -= r;
		else if (!strcmp(op, "*")) v *= r;
		else if (r == 0) {
			if (!a->noeval)
				fail(a, "division by zero");
			v = 0;
		} else if (!strcmp(op, "/")) v /= r;
		else v %= r;
	}
}

static long expr(struct arith *a)
{
	long c = binary(a, 0);
	if (!accept(a, "?"))
		return c;
	int saved = a->noeval;
	a->noeval = saved || !c;
	long x = expr(a);
	if (!accept(a, ":"))
		fail(a, "missing :");
	a->noeval = saved || c;
	long y = expr(a);
	a->noeval = saved;
	return c ? x : y;
}

long arith_eval(const char *text, int *error)
{
	struct arith a = {.s = text};
	skip(&a);
	long v = *a.s ? expr(&a) : 0;
	skip(&a);
	if (*a.s && !a.error)
		fail(&a, "syntax error");
	*error = a.error;
	return a.error ? 0 : v;
}
