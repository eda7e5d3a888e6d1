/*
 * input.c - where shell text comes from, and the lexer that cuts it into
 * tokens.
 *
 * Text is either all in memory (sh -c, scripts, eval, $(...)) or read from a
 * file descriptor on demand, one line at a time: a script piped into sh on
 * stdin may be followed by data that its commands read (`sh <<EOF` with
 * `read x` inside), so the shell must not read ahead of the current line.
 * On a pipe that means one byte per read(); on a seekable file a block is
 * read and the rest is given back with lseek. On a terminal, read() returns
 * one line (cooked mode); the prompt is printed first.
 *
 * Words keep their quotes: expansion (expand.c) interprets them later.
 */
#include "sh.h"
#include <stdarg.h>
#include <unistd.h>

void in_init_string(struct input *in, const char *text)
{
	memset(in, 0, sizeof *in);
	in->len = strlen(text);
	in->cap = in->len + 1;
	in->buf = xmalloc(in->cap);
	memcpy(in->buf, text, in->len + 1);
	in->fd = -1;
	in->lineno = 1;
}

void in_init_fd(struct input *in, int fd, int interactive)
{
	memset(in, 0, sizeof *in);
	in->cap = 256;
	in->buf = xmalloc(in->cap);
	in->fd = fd;
	in->interactive = interactive;
	in->lineno = 1;
}

void in_free(struct input *in)
{
	free(in->buf);
	in->buf = NULL;
}

/* Forgets the text already consumed (between top-level commands). */
void in_discard(struct input *in)
{
	if (in->fd < 0)
		return;
	memmove(in->buf, in->buf + in->pos, in->len - in->pos);
	in->len -= in->pos;
	in->pos = 0;
}

static void in_append(struct input *in, const char *s, size_t n)
{
	if (in->len + n + 1 > in->cap) {
		while (in->len + n + 1 > in->cap)
			in->cap *= 2;
		in->buf = xrealloc(in->buf, in->cap);
	}
	memcpy(in->buf + in->len, s, n);
	in->len += n;
	in->buf[in->len] = 0;
}

/* Reads one more line. Returns 1 if text was added, 0 at end of input,
 * -1 if Ctrl-C interrupted the read (interactive only). */
int in_fill(struct input *in)
{
	char chunk[512];
	if (in->fd < 0 || in->eof)
		return 0;
	if (in->interactive) {
		const char *ps = in->len == 0 ? var_get("PS1") : var_get("PS2");
		if (ps)
			write(2, ps, strlen(ps));
		sh.got_sigint = 0;
		ssize_t n = read(in->fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR && sh.got_sigint)
			return -1;
		if (n <= 0) {
			in->eof = 1;
			return 0;
		}
		in_append(in, chunk, n);
		/* A line longer than the chunk arrives in pieces. */
		while (chunk[n - 1] != '\n' && (n = read(in->fd, chunk, sizeof chunk)) > 0)
			in_append(in, chunk, n);
		return 1;
	}
	off_t here = lseek(in->fd, 0, SEEK_CUR);
	if (here >= 0) {
		/* Seekable: read a block, keep one line, seek back to after it. */
		ssize_t n = read(in->fd, chunk, sizeof chunk);
		if (n <= 0) {
			in->eof = 1;
			return 0;
		}
		char *nl = memchr(chunk, '\n', n);
		ssize_t keep = nl ? nl - chunk + 1 : n;
		in_append(in, chunk, keep);
		if (keep < n)
			lseek(in->fd, here + keep, SEEK_SET);
		return 1;
	}
	size_t before = in->len;
	for (;;) {
		char c;
		ssize_t n = read(in->fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			in->eof = 1;
			break;
		}
		in_append(in, &c, 1);
		if (c == '\n')
			break;
	}
	return in->len > before;
}

/* The next character without consuming it (EOF at the end), reading more
 * input when needed. A Ctrl-C during the read is remembered in in->eof = 2. */
int in_peek(struct input *in)
{
	while (in->pos >= in->len) {
		int r = in_fill(in);
		if (r < 0) {
			in->eof = 2;
			return EOF;
		}
		if (r == 0)
			return EOF;
	}
	return (unsigned char)in->buf[in->pos];
}

int in_get(struct input *in)
{
	int c = in_peek(in);
	if (c != EOF) {
		in->pos++;
		if (c == '\n')
			in->lineno++;
	}
	return c;
}

void syntax_error(struct lexer *lx, const char *fmt, ...)
{
	va_list ap;
	if (lx->in->eof == 2) {
		lx->interrupted = 1;
	} else {
		char msg[256];
		va_start(ap, fmt);
		vsnprintf(msg, sizeof msg, fmt, ap);
		va_end(ap);
		if (lx->in->fd < 0 || !lx->in->interactive)
			sh_error("line %d: syntax error: %s", lx->in->lineno, msg);
		else
			sh_error("syntax error: %s", msg);
	}
	longjmp(*lx->err, 1);
}

const char *tok_name(int tok)
{
	static const char *names[] = {
		[T_EOF] = "end of file", [T_NEWLINE] = "newline", [T_WORD] = "word",
		[T_IO_NUMBER] = "number", [T_SEMI] = ";", [T_AMP] = "&", [T_PIPE] = "|",
		[T_AND_IF] = "&&", [T_OR_IF] = "||", [T_DSEMI] = ";;", [T_LPAREN] = "(",
		[T_RPAREN] = ")", [T_LESS] = "<", [T_GREAT] = ">", [T_DGREAT] = ">>",
		[T_LESSAND] = "<&", [T_GREATAND] = ">&", [T_LESSGREAT] = "<>",
		[T_DLESS] = "<<", [T_DLESSDASH] = "<<-", [T_CLOBBER] = ">|",
	};
	return names[tok];
}

/* Appends the next character of the stream to b; error at end of input. */
static int take(struct lexer *lx, struct str *b, const char *what)
{
	int c = in_get(lx->in);
	if (c == EOF)
		syntax_error(lx, "unterminated %s", what);
	str_addc(b, c);
	return c;
}

static void lex_dollar(struct lexer *lx, struct str *b);
static void lex_backquote(struct lexer *lx, struct str *b);

/* Reads a "..." string (the opening quote is already in b). */
static void lex_dquote(struct lexer *lx, struct str *b)
{
	for (;;) {
		int c = take(lx, b, "\"");
		if (c == '"')
			return;
		if (c == '\\')
			take(lx, b, "\"");
		else if (c == '$')
			lex_dollar(lx, b);
		else if (c == '`')
			lex_backquote(lx, b);
	}
}

/* Reads `...` (the opening backquote is already in b). */
static void lex_backquote(struct lexer *lx, struct str *b)
{
	for (;;) {
		int c = take(lx, b, "`");
		if (c == '`')
			return;
		if (c == '\\')
			take(lx, b, "`");
	}
}

/* Tracks the words "case" and "esac" in $(...) text, so that the ')' of a
 * case pattern is not taken for the end of the command substitution. */
struct casewatch {
	char word[5];
	int len, depth;
};

static void watch_char(struct casewatch *w, int c)
{
	if ((c >= 'a' && c <= 'z')) {
		if (w->len < 5)
			w->word[w->len] = c;
		w->len++;
		return;
	}
	if (w->len == 4 && !memcmp(w->word, "case", 4))
		w->depth++;
	else if (w->len == 4 && !memcmp(w->word, "esac", 4) && w->depth > 0)
		w->depth--;
	w->len = c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '(' || c == '&' || c == '|' ? 0 : 99;
}

/* After a '$' (already in b): reads a balanced $(...), $((...)) or ${...}. */
static void lex_dollar(struct lexer *lx, struct str *b)
{
	int c = in_peek(lx->in), open, close, depth = 1;
	struct casewatch w = {.len = 0};
	if (c != '(' && c != '{')
		return;
	open = c;
	close = c == '(' ? ')' : '}';
	take(lx, b, "$(");
	while (depth > 0) {
		c = take(lx, b, open == '(' ? "$(" : "${");
		if (open == '(')
			watch_char(&w, c);
		if ((c == '(' || c == ')') && open == '(' && w.depth > 0)
			; /* a case pattern's parenthesis */
		else if (c == open)
			depth++;
		else if (c == close)
			depth--;
		else if (c == '\\')
			take(lx, b, "$(");
		else if (c == '\'' && open == '(')
			while (take(lx, b, "'") != '\'')
				;
		else if (c == '"')
			lex_dquote(lx, b);
		else if (c == '`')
			lex_backquote(lx, b);
		else if (c == '$')
			lex_dollar(lx, b);
	}
}

/* Reads the bodies of the here-documents announced on the line just ended. */
static void read_heredocs(struct lexer *lx)
{
	for (int i = 0; i < lx->npending; i++) {
		struct redir *r = lx->pending[i];
		struct str body = {0}, line = {0};
		for (;;) {
			int c;
			line.len = 0;
			while ((c = in_get(lx->in)) != EOF && c != '\n')
				str_addc(&line, c);
			str_addc(&line, 0);
			line.len--;
			const char *l = line.s;
			if (r->heredoc_strip)
				while (*l == '\t')
					l++;
			if (strcmp(l, r->word) == 0)
				break;
			if (c == EOF && line.len == 0)
				break;
			str_adds(&body, l);
			str_addc(&body, '\n');
			if (c == EOF)
				break;
		}
		free(line.s);
		r->heredoc = str_take(&body);
	}
	lx->npending = 0;
}

static int is_meta(int c)
{
	return c == EOF || c == ' ' || c == '\t' || c == '\n' || strchr(";&|()<>", c);
}

/* Reads the next token into lx->tok (and lx->text for words). */
int lex_next(struct lexer *lx)
{
	struct input *in = lx->in;
	int c;
	free(lx->text);
	lx->text = NULL;
	for (;;) {
		c = in_peek(in);
		if (c == ' ' || c == '\t') {
			in_get(in);
		} else if (c == '\\' && in->pos + 1 < in->len && in->buf[in->pos + 1] == '\n') {
			in_get(in);
			in_get(in);
		} else if (c == '\\' && in->pos + 1 >= in->len && in->fd >= 0) {
			/* A backslash at the end of what was read: look at the next line. */
			in_get(in);
			if (in_peek(in) == '\n') {
				in_get(in);
			} else {
				in->pos--;
				break;
			}
		} else if (c == '#') {
			while ((c = in_peek(in)) != EOF && c != '\n')
				in_get(in);
		} else {
			break;
		}
	}
	lx->tok_start = in->pos;
	c = in_get(in);
	switch (c) {
	case EOF:
		if (in->eof == 2)
			syntax_error(lx, "interrupted");
		lx->tok = T_EOF;
		break;
	case '\n':
		lx->tok = T_NEWLINE;
		lx->tok_end = in->pos;
		if (lx->npending)
			read_heredocs(lx);
		return lx->tok;
	case ';':
		lx->tok = in_peek(in) == ';' ? (in_get(in), T_DSEMI) : T_SEMI;
		break;
	case '&':
		lx->tok = in_peek(in) == '&' ? (in_get(in), T_AND_IF) : T_AMP;
		break;
	case '|':
		lx->tok = in_peek(in) == '|' ? (in_get(in), T_OR_IF) : T_PIPE;
		break;
	case '(':
		lx->tok = T_LPAREN;
		break;
	case ')':
		lx->tok = T_RPAREN;
		break;
	case '<':
		c = in_peek(in);
		if (c == '<') {
			in_get(in);
			lx->tok = in_peek(in) == '-' ? (in_get(in), T_DLESSDASH) : T_DLESS;
		} else if (c == '&') {
			in_get(in);
			lx->tok = T_LESSAND;
		} else if (c == '>') {
			in_get(in);
			lx->tok = T_LESSGREAT;
		} else {
			lx->tok = T_LESS;
		}
		break;
	case '>':
		c = in_peek(in);
		if (c == '>' || c == '&' || c == '|') {
			in_get(in);
			lx->tok = c == '>' ? T_DGREAT : c == '&' ? T_GREATAND : T_CLOBBER;
		} else {
			lx->tok = T_GREAT;
		}
		break;
	default: {
		struct str b = {0};
		int all_digits = 1;
		in->pos--;
		while (!is_meta(c = in_peek(in))) {
			take(lx, &b, "word");
			if (c < '0' || c > '9')
				all_digits = 0;
			if (c == '\\') {
				if (in_peek(in) == '\n') {
					in_get(in);
					b.len--;
				} else if (in_peek(in) != EOF) {
					take(lx, &b, "word");
				}
			} else if (c == '\'') {
				while (take(lx, &b, "'") != '\'')
					;
			} else if (c == '"') {
				lex_dquote(lx, &b);
			} else if (c == '`') {
				lex_backquote(lx, &b);
			} else if (c == '$') {
				lex_dollar(lx, &b);
			}
		}
		lx->text = str_take(&b);
		lx->tok = all_digits && (c == '<' || c == '>') ? T_IO_NUMBER : T_WORD;
	}
	}
	lx->tok_end = in->pos;
	return lx->tok;
}

/* In a complete word s, s[i] is an opening bracket: returns the index of
 * its partner, skipping quoted text and nested brackets. */
size_t scan_matching(const char *s, size_t i, char open, char close)
{
	int depth = 0;
	struct casewatch w = {.len = 0};
	for (; s[i]; i++) {
		char c = s[i];
		if (open == '(')
			watch_char(&w, c);
		if ((c == '(' || c == ')') && open == '(' && w.depth > 0)
			continue;
		if (c == '\\' && s[i + 1]) {
			i++;
		} else if (c == '\'' && open == '(') {
			while (s[i + 1] && s[++i] != '\'')
				;
		} else if (c == '"') {
			while (s[i + 1] && s[++i] != '"')
				if (s[i] == '\\' && s[i + 1])
					i++;
		} else if (c == '`') {
			i = scan_backquote(s, i);
		} else if (c == open) {
			depth++;
		} else if (c == close && --depth == 0) {
			return i;
		}
	}
	return i;
}

/* s[i] is a backquote: returns the index of the closing one. */
size_t scan_backquote(const char *s, size_t i)
{
	for (i++; s[i] && s[i] != '`'; i++)
		if (s[i] == '\\' && s[i + 1])
			i++;
	return i;
}
