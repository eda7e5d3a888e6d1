/*
 * expand.c - word expansion: tilde, $parameters, ${...}, $(...) and `...`,
 * $((...)), quote removal, field splitting on IFS, and pathname expansion.
 *
 * A word is expanded into a buffer of characters with a flag byte each:
 * QUOTED characters are protected from splitting and globbing, SPLIT ones
 * came from an unquoted expansion and may be split on IFS. Two flag-only
 * entries carry no character: MARK says "a field exists here even if empty"
 * (from "" or "$x"), BREAK ends a field (between the words of "$@").
 */
#include "sh.h"
#include <fnmatch.h>
#include <glob.h>
#include <unistd.h>

enum { QUOTED = 1, SPLIT = 2, MARK = 4, BREAK = 8 };

struct xbuf {
	char *s;
	unsigned char *f;
	size_t len, cap;
	int at_empty;   /* "$@" with no parameters was seen */
};

static void xadd(struct xbuf *b, char c, int flags)
{
	if (b->len + 1 >= b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->s = xrealloc(b->s, b->cap);
		b->f = xrealloc(b->f, b->cap);
	}
	b->s[b->len] = c;
	b->f[b->len++] = flags;
}

static void xadds(struct xbuf *b, const char *s, int flags)
{
	for (; *s; s++)
		xadd(b, *s, flags);
}

static void xfree(struct xbuf *b)
{
	free(b->s);
	free(b->f);
}

/* An expansion's text: quoted inside "...", else subject to splitting. */
static void add_value(struct xbuf *b, const char *v, int dq)
{
	xadds(b, v ? v : "", dq ? QUOTED : SPLIT);
	if (dq)
		xadd(b, 0, MARK);
}

static void expand_into(struct xbuf *b, const char *s, size_t n, int dq, int heredoc);

static char num_buf[32];

static const char *num(long v)
{
	snprintf(num_buf, sizeof num_buf, "%ld", v);
	return num_buf;
}

/* The value of a special or positional parameter or a variable; NULL if
 * unset. Returns a pointer valid until the next call. */
static const char *param(const char *name)
{
	static char *joined;
	if (name[1] == 0 || (name[0] >= '0' && name[0] <= '9')) {
		switch (name[0]) {
		case '?': return num(sh.status);
		case '$': return num(sh.pid);
		case '!': return sh.last_bg ? num(sh.last_bg) : NULL;
		case '#': return num(sh.nparams);
		case '-': {
			char *p = num_buf;
			if (sh.errexit) *p++ = 'e';
			if (sh.noglob) *p++ = 'f';
			if (sh.interactive) *p++ = 'i';
			if (sh.xtrace) *p++ = 'x';
			*p = 0;
			return num_buf;
		}
		case '@':
		case '*': {
			struct str j = {0};
			const char *ifs = var_get("IFS");
			char sep = ifs ? ifs[0] : ' ';
			for (int i = 0; i < sh.nparams; i++) {
				if (i && sep)
					str_addc(&j, sep);
				str_adds(&j, sh.params[i]);
			}
			str_addc(&j, 0);
			free(joined);
			joined = str_take(&j);
			return joined;
		}
		}
		if (name[0] >= '0' && name[0] <= '9') {
			int i = atoi(name);
			if (i == 0)
				return sh.arg0;
			return i <= sh.nparams ? sh.params[i - 1] : NULL;
		}
	}
	return var_get(name);
}

/* $@ or $* outside ${...}: one field per parameter where appropriate. */
static void add_params(struct xbuf *b, int at, int dq)
{
	if (dq && !at) {
		add_value(b, param("*"), 1);
		return;
	}
	if (sh.nparams == 0 && dq)
		b->at_empty = 1;
	for (int i = 0; i < sh.nparams; i++) {
		if (i)
			xadd(b, 0, BREAK);
		add_value(b, sh.params[i], dq);
	}
}

/* Removes the shortest/longest prefix/suffix matching pat from v. */
static char *trim(const char *v, const char *pat, int suffix, int longest)
{
	size_t n = strlen(v);
	char *tmp = xstrdup(v);
	for (size_t k = 0; k <= n; k++) {
		size_t len = longest ? n - k : k;
		int match;
		if (suffix) {
			match = fnmatch(pat, v + n - len, 0) == 0;
		} else {
			char c = tmp[len];
			tmp[len] = 0;
			match = fnmatch(pat, tmp, 0) == 0;
			tmp[len] = c;
		}
		if (match) {
			if (suffix)
				tmp[n - len] = 0;
			else
				memmove(tmp, v + len, n - len + 1);
			return tmp;
		}
	}
	return tmp;
}

/* ${...}; s[0..n) is the text between the braces. */
static void expand_braces(struct xbuf *b, const char *s, size_t n, int dq)
{
	size_t i = 0;
	int length = 0;
	if (n > 1 && s[0] == '#') {
		length = 1;
		i = 1;
	}
	size_t start = i;
	if (i < n && strchr("@*#?-$!", s[i]))
		i++;
	else
		while (i < n && (s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
				 (s[i] >= '0' && s[i] <= '9')))
			i++;
	if (i == start) {
		sh_error("${%.*s}: bad substitution", (int)n, s);
		return;
	}
	char *name = xstrndup(s + start, i - start);
	const char *v = param(name);
	char *vcopy = v ? xstrdup(v) : NULL;
	if (length) {
		add_value(b, num(vcopy ? (long)strlen(vcopy) : 0), dq);
		goto out;
	}
	if (i == n) {
		if (!strcmp(name, "@") || !strcmp(name, "*"))
			add_params(b, name[0] == '@', dq);
		else
			add_value(b, vcopy, dq);
		goto out;
	}
	int colon = s[i] == ':';
	if (colon)
		i++;
	char op = i < n ? s[i++] : 0;
	const char *word = s + i;
	size_t wlen = n - i;
	int unset = !vcopy || (colon && !*vcopy);
	switch (op) {
	case '-':
		if (unset)
			expand_into(b, word, wlen, dq, 0);
		else
			add_value(b, vcopy, dq);
		break;
	case '+':
		if (!unset)
			expand_into(b, word, wlen, dq, 0);
		break;
	case '=':
		if (unset) {
			char *w = xstrndup(word, wlen), *val = expand_string(w);
			var_set(name, val, 0);
			add_value(b, val, dq);
			free(w);
			free(val);
		} else {
			add_value(b, vcopy, dq);
		}
		break;
	case '?':
		if (unset) {
			char *w = xstrndup(word, wlen), *msg = expand_string(w);
			sh_error("%s: %s", name, *msg ? msg : "parameter not set");
			free(w);
			free(msg);
			if (!sh.interactive)
				sh_exit(1);
		} else {
			add_value(b, vcopy, dq);
		}
		break;
	case '#':
	case '%': {
		int longest = i < n && s[i] == op;
		char *w = xstrndup(word + longest, wlen - longest), *pat = expand_pattern(w);
		char *r = trim(vcopy ? vcopy : "", pat, op == '%', longest);
		add_value(b, r, dq);
		free(w);
		free(pat);
		free(r);
		break;
	}
	default:
		sh_error("${%.*s}: bad substitution", (int)n, s);
	}
out:
	free(name);
	free(vcopy);
}

/* `...`: the text between the backquotes, with \` \\ \$ unescaped. */
static char *unbackquote(const char *s, size_t n)
{
	struct str b = {0};
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n && strchr("`\\$", s[i + 1]))
			i++;
		str_addc(&b, s[i]);
	}
	str_addc(&b, 0);
	return str_take(&b);
}

static void add_command_output(struct xbuf *b, const char *text, int dq)
{
	char *out = command_output(text);
	add_value(b, out, dq);
	free(out);
}

/* s[i] is '$': expands what follows, returns the index after it. */
static size_t expand_dollar(struct xbuf *b, const char *s, size_t i, size_t n, int dq)
{
	char c = i + 1 < n ? s[i + 1] : 0;
	if (c == '(' && i + 2 < n && s[i + 2] == '(') {
		size_t j = scan_matching(s, i + 1, '(', ')');
		if (j < n && s[j - 1] == ')') {
			char *inner = xstrndup(s + i + 3, j - i - 4), *text = expand_string(inner);
			int error = 0;
			long v = arith_eval(text, &error);
			if (error)
				sh.status = 1;
			add_value(b, error ? "" : num(v), dq);
			free(inner);
			free(text);
			return j + 1;
		}
	}
	if (c == '(') {
		size_t j = scan_matching(s, i + 1, '(', ')');
		char *inner = xstrndup(s + i + 2, j - i - 2);
		add_command_output(b, inner, dq);
		free(inner);
		return j + 1;
	}
	if (c == '{') {
		size_t j = scan_matching(s, i + 1, '{', '}');
		expand_braces(b, s + i + 2, j - i - 2, dq);
		return j + 1;
	}
	if (c == '@' || c == '*') {
		add_params(b, c == '@', dq);
		return i + 2;
	}
	if (c && (strchr("#?-$!", c) || (c >= '0' && c <= '9'))) {
		char name[2] = {c, 0};
		add_value(b, param(name), dq);
		return i + 2;
	}
	size_t j = i + 1;
	while (j < n && (s[j] == '_' || (s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') ||
			 (j > i + 1 && s[j] >= '0' && s[j] <= '9')))
		j++;
	if (j == i + 1) {
		xadd(b, '$', dq ? QUOTED : 0);
		return i + 1;
	}
	char *name = xstrndup(s + i + 1, j - i - 1);
	add_value(b, param(name), dq);
	free(name);
	return j;
}

/* Expands s[0..n) into b. dq: inside "..." already; heredoc: quotes are
 * ordinary characters. */
static void expand_into(struct xbuf *b, const char *s, size_t n, int dq, int heredoc)
{
	size_t i = 0;
	if (!dq && !heredoc && n && s[0] == '~') {
		size_t j = 1;
		while (j < n && s[j] != '/')
			j++;
		const char *home = var_get("HOME");
		if (j == 1 && home) {
			xadds(b, home, QUOTED);
			i = 1;
		}
	}
	while (i < n) {
		char c = s[i];
		if (c == '\'' && !dq && !heredoc) {
			size_t j = i + 1;
			while (j < n && s[j] != '\'')
				xadd(b, s[j++], QUOTED);
			xadd(b, 0, MARK);
			i = j + 1;
		} else if (c == '"' && !heredoc) {
			dq = !dq;
			xadd(b, 0, MARK);
			i++;
		} else if (c == '\\') {
			char next = i + 1 < n ? s[i + 1] : 0;
			if (next == '\n') {
				i += 2;
			} else if ((dq || heredoc) && !(next && strchr(heredoc ? "$`\\" : "$`\"\\", next))) {
				xadd(b, '\\', QUOTED);
				i++;
			} else if (next) {
				xadd(b, next, QUOTED);
				i += 2;
			} else {
				xadd(b, '\\', QUOTED);
				i++;
			}
		} else if (c == '$') {
			i = expand_dollar(b, s, i, n, dq || heredoc);
		} else if (c == '`') {
			size_t j = scan_backquote(s, i);
			char *inner = unbackquote(s + i + 1, j - i - 1);
			add_command_output(b, inner, dq || heredoc);
			free(inner);
			i = j + 1;
		} else {
			xadd(b, c, dq || heredoc ? QUOTED : 0);
			i++;
		}
	}
}

static int has_glob_chars(struct xbuf *b, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (!(b->f[i] & (QUOTED | MARK | BREAK)) && strchr("*?[", b->s[i]))
			return 1;
	return 0;
}

/* b[from..to) as a pattern: quoted special characters get a backslash. */
static char *make_pattern(struct xbuf *b, size_t from, size_t to)
{
	struct str p = {0};
	for (size_t i = from; i < to; i++) {
		if (b->f[i] & (MARK | BREAK))
			continue;
		if (((b->f[i] & QUOTED) || b->s[i] == '\\') && strchr("*?[]\\", b->s[i]))
			str_addc(&p, '\\');
		str_addc(&p, b->s[i]);
	}
	str_addc(&p, 0);
	return str_take(&p);
}

static char *plain(struct xbuf *b, size_t from, size_t to)
{
	struct str p = {0};
	for (size_t i = from; i < to; i++)
		if (!(b->f[i] & (MARK | BREAK)))
			str_addc(&p, b->s[i]);
	str_addc(&p, 0);
	return str_take(&p);
}

static void push(char ***argv, int *argc, char *s)
{
	*argv = xrealloc(*argv, (*argc + 2) * sizeof **argv);
	(*argv)[(*argc)++] = s;
	(*argv)[*argc] = NULL;
}

/* One field, b[from..to): pathname expansion if it has unquoted * ? [. */
static void emit_field(struct xbuf *b, size_t from, size_t to, char ***argv, int *argc)
{
	if (!sh.noglob && has_glob_chars(b, from, to)) {
		char *pat = make_pattern(b, from, to);
		glob_t g;
		if (glob(pat, 0, NULL, &g) == 0) {
			for (size_t k = 0; k < g.gl_pathc; k++)
				push(argv, argc, xstrdup(g.gl_pathv[k]));
			globfree(&g);
			free(pat);
			return;
		}
		free(pat);
	}
	push(argv, argc, plain(b, from, to));
}

void expand_fields(const char *word, char ***argv, int *argc)
{
	struct xbuf b = {0};
	expand_into(&b, word, strlen(word), 0, 0);
	const char *ifs = var_get("IFS");
	if (!ifs)
		ifs = " \t\n";
	size_t start = 0;
	int forced = 0, nfields = 0;
	/* A field is made of the characters between delimiters; it exists if
	 * it has characters or a MARK. */
	for (size_t i = 0; i <= b.len; i++) {
		int end = i == b.len;
		int delim = 0, ws = 0;
		if (!end) {
			if (b.f[i] & MARK) {
				forced = 1;
				continue;
			}
			if (b.f[i] & BREAK) {
				delim = 1;
			} else if ((b.f[i] & SPLIT) && strchr(ifs, b.s[i]) && b.s[i]) {
				delim = 1;
				ws = b.s[i] == ' ' || b.s[i] == '\t' || b.s[i] == '\n';
			}
		}
		if (!end && !delim)
			continue;
		int has_chars = 0;
		for (size_t k = start; k < i; k++)
			if (!(b.f[k] & (MARK | BREAK)))
				has_chars = 1;
		if (has_chars || forced || (delim && !ws && !end)) {
			emit_field(&b, start, i, argv, argc);
			nfields++;
		}
		forced = 0;
		start = i + 1;
	}
	/* "$@" with no parameters and nothing else: no field at all. */
	if (b.at_empty && nfields == 1 && (*argv)[*argc - 1][0] == 0) {
		free((*argv)[--*argc]);
		(*argv)[*argc] = NULL;
	}
	xfree(&b);
}

char *expand_string(const char *word)
{
	struct xbuf b = {0};
	expand_into(&b, word, strlen(word), 0, 0);
	char *s = plain(&b, 0, b.len);
	xfree(&b);
	return s;
}

char *expand_pattern(const char *word)
{
	struct xbuf b = {0};
	expand_into(&b, word, strlen(word), 0, 0);
	char *s = make_pattern(&b, 0, b.len);
	xfree(&b);
	return s;
}

char *expand_heredoc(const char *body)
{
	struct xbuf b = {0};
	expand_into(&b, body, strlen(body), 0, 1);
	char *s = plain(&b, 0, b.len);
	xfree(&b);
	return s;
}
