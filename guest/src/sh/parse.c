/*
 * parse.c - tokens to a syntax tree, by recursive descent over the POSIX
 * shell grammar (a subset):
 *
 *   list      : and_or ((';' | '&' | newline) and_or)*
 *   and_or    : pipeline (('&&' | '||') pipeline)*
 *   pipeline  : ['!'] command ('|' command)*
 *   command   : simple | compound redirect* | NAME '(' ')' compound
 *   compound  : '{' list '}' | '(' list ')' | if | while | until | for | case
 *
 * Reserved words (if, then, do, ...) are only recognized where a command
 * starts. Every command node keeps its source text, so that the shell can
 * hand it to a new copy of itself (exec.c: there is no fork to copy the
 * shell, so pipeline stages that are not programs run in a re-executed sh).
 */
#include "sh.h"

static struct node *parse_list(struct lexer *lx);
static struct node *parse_and_or(struct lexer *lx);
static struct node *parse_command_node(struct lexer *lx);

static int peek(struct lexer *lx)
{
	if (!lx->have_tok) {
		lex_next(lx);
		lx->have_tok = 1;
	}
	return lx->tok;
}

static void consume(struct lexer *lx)
{
	peek(lx);
	lx->have_tok = 0;
	lx->last_end = lx->tok_end;
}

/* The current token is the unquoted word w. */
static int is_word(struct lexer *lx, const char *w)
{
	return peek(lx) == T_WORD && strcmp(lx->text, w) == 0;
}

static int is_list_end(struct lexer *lx)
{
	static const char *const ends[] = {"then", "else", "elif", "fi", "do", "done", "esac", "}", NULL};
	int t = peek(lx);
	if (t == T_EOF || t == T_RPAREN || t == T_DSEMI)
		return 1;
	if (t != T_WORD)
		return 0;
	for (int i = 0; ends[i]; i++)
		if (strcmp(lx->text, ends[i]) == 0)
			return 1;
	return 0;
}

static void unexpected(struct lexer *lx)
{
	if (peek(lx) == T_WORD)
		syntax_error(lx, "unexpected '%s'", lx->text);
	syntax_error(lx, "unexpected %s", tok_name(lx->tok));
}

static void expect(struct lexer *lx, const char *w)
{
	if (!is_word(lx, w)) {
		if (peek(lx) == T_EOF)
			syntax_error(lx, "unexpected end of file (expecting '%s')", w);
		unexpected(lx);
	}
	consume(lx);
}

static void skip_newlines(struct lexer *lx)
{
	while (peek(lx) == T_NEWLINE)
		consume(lx);
}

static struct node *new_node(int type, struct lexer *lx)
{
	struct node *n = calloc(1, sizeof *n);
	if (!n)
		abort();
	n->type = type;
	n->lineno = lx->in->lineno;
	return n;
}

static void add_kid(struct node *n, struct node *kid)
{
	n->kids = xrealloc(n->kids, (n->nkids + 1) * sizeof *n->kids);
	n->kids[n->nkids++] = kid;
}

static void add_word(struct node *n, char *w)
{
	n->words = xrealloc(n->words, (n->nwords + 2) * sizeof *n->words);
	n->words[n->nwords++] = w;
	n->words[n->nwords] = NULL;
}

/* The current word, taken over by the caller. */
static char *take_word(struct lexer *lx)
{
	char *w = lx->text;
	lx->text = NULL;
	consume(lx);
	return w;
}

static void set_src(struct lexer *lx, struct node *n, size_t start)
{
	size_t end = lx->last_end;
	n->src = xstrndup(lx->in->buf + start, end > start ? end - start : 0);
}

static int is_redir_tok(int t)
{
	return t == T_LESS || t == T_GREAT || t == T_DGREAT || t == T_LESSAND || t == T_GREATAND ||
	       t == T_LESSGREAT || t == T_DLESS || t == T_DLESSDASH || t == T_CLOBBER;
}

/* Parses one redirection ([n]op word) and appends it to *list. */
static void parse_redir(struct lexer *lx, struct redir **list)
{
	struct redir *r = calloc(1, sizeof *r), **tail;
	int fd = -1;
	if (peek(lx) == T_IO_NUMBER) {
		fd = atoi(lx->text);
		consume(lx);
	}
	int t = peek(lx);
	consume(lx);
	switch (t) {
	case T_LESS: r->op = R_IN; break;
	case T_GREAT: r->op = R_OUT; break;
	case T_DGREAT: r->op = R_APPEND; break;
	case T_CLOBBER: r->op = R_CLOBBER; break;
	case T_LESSGREAT: r->op = R_RDWR; break;
	case T_LESSAND: r->op = R_DUPIN; break;
	case T_GREATAND: r->op = R_DUPOUT; break;
	default: r->op = R_HEREDOC; r->heredoc_strip = t == T_DLESSDASH; break;
	}
	r->fd = fd >= 0 ? fd : (r->op == R_IN || r->op == R_RDWR || r->op == R_DUPIN || r->op == R_HEREDOC) ? 0 : 1;
	if (peek(lx) != T_WORD)
		unexpected(lx);
	r->word = take_word(lx);
	if (r->op == R_HEREDOC) {
		/* The delimiter is the word with its quotes removed; any quote
		 * means the body is taken literally. */
		char *d = r->word, *o = d;
		for (char *s = d; *s; s++) {
			if (*s == '\'' || *s == '"') {
				r->heredoc_quoted = 1;
			} else if (*s == '\\' && s[1]) {
				r->heredoc_quoted = 1;
				*o++ = *++s;
			} else {
				*o++ = *s;
			}
		}
		*o = 0;
		if (lx->npending == (int)(sizeof lx->pending / sizeof lx->pending[0]))
			syntax_error(lx, "too many here-documents");
		lx->pending[lx->npending++] = r;
	}
	for (tail = list; *tail; tail = &(*tail)->next)
		;
	*tail = r;
}

static void parse_trailing_redirs(struct lexer *lx, struct node *n)
{
	while (is_redir_tok(peek(lx)) || lx->tok == T_IO_NUMBER)
		parse_redir(lx, &n->redirs);
}

/* A list inside a compound command: up to a reserved word, ')' or ';;'. */
static struct node *parse_list(struct lexer *lx)
{
	struct node *list = new_node(N_LIST, lx);
	for (;;) {
		skip_newlines(lx);
		if (is_list_end(lx))
			break;
		struct node *item = parse_and_or(lx);
		int t = peek(lx);
		list->bg = xrealloc(list->bg, list->nkids + 1);
		list->bg[list->nkids] = t == T_AMP;
		add_kid(list, item);
		if (t == T_SEMI || t == T_AMP || t == T_NEWLINE)
			consume(lx);
		else
			break;
	}
	if (list->nkids == 0)
		unexpected(lx);
	return list;
}

static struct node *parse_if(struct lexer *lx)
{
	struct node *n = new_node(N_IF, lx);
	consume(lx); /* if or elif */
	add_kid(n, parse_list(lx));
	expect(lx, "then");
	add_kid(n, parse_list(lx));
	if (is_word(lx, "elif")) {
		add_kid(n, parse_if(lx));
		return n;
	}
	if (is_word(lx, "else")) {
		consume(lx);
		add_kid(n, parse_list(lx));
	}
	expect(lx, "fi");
	return n;
}

static struct node *parse_loop(struct lexer *lx, int type)
{
	struct node *n = new_node(type, lx);
	consume(lx);
	add_kid(n, parse_list(lx));
	expect(lx, "do");
	add_kid(n, parse_list(lx));
	expect(lx, "done");
	return n;
}

static struct node *parse_for(struct lexer *lx)
{
	struct node *n = new_node(N_FOR, lx);
	consume(lx);
	if (peek(lx) != T_WORD || !valid_name(lx->text, strlen(lx->text)))
		unexpected(lx);
	n->name = take_word(lx);
	skip_newlines(lx);
	if (is_word(lx, "in")) {
		consume(lx);
		n->has_in = 1;
		while (peek(lx) == T_WORD)
			add_word(n, take_word(lx));
		if (peek(lx) != T_SEMI && lx->tok != T_NEWLINE)
			unexpected(lx);
		consume(lx);
	} else if (peek(lx) == T_SEMI) {
		consume(lx);
	}
	skip_newlines(lx);
	expect(lx, "do");
	add_kid(n, parse_list(lx));
	expect(lx, "done");
	return n;
}

static struct node *parse_case(struct lexer *lx)
{
	struct node *n = new_node(N_CASE, lx);
	consume(lx);
	if (peek(lx) != T_WORD)
		unexpected(lx);
	n->name = take_word(lx);
	skip_newlines(lx);
	expect(lx, "in");
	skip_newlines(lx);
	while (!is_word(lx, "esac")) {
		struct node *item = new_node(N_CASEITEM, lx);
		if (peek(lx) == T_LPAREN)
			consume(lx);
		for (;;) {
			if (peek(lx) != T_WORD)
				unexpected(lx);
			add_word(item, take_word(lx));
			if (peek(lx) != T_PIPE)
				break;
			consume(lx);
		}
		if (peek(lx) != T_RPAREN)
			unexpected(lx);
		consume(lx);
		skip_newlines(lx);
		if (peek(lx) != T_DSEMI && !is_word(lx, "esac"))
			add_kid(item, parse_list(lx));
		else
			add_kid(item, NULL);
		add_kid(n, item);
		if (peek(lx) == T_DSEMI)
			consume(lx);
		else if (!is_word(lx, "esac"))
			unexpected(lx);
		skip_newlines(lx);
	}
	consume(lx);
	return n;
}

/* Reserved words that start a compound command. */
static struct node *parse_compound(struct lexer *lx)
{
	struct node *n;
	if (peek(lx) == T_LPAREN) {
		consume(lx);
		n = new_node(N_SUBSHELL, lx);
		add_kid(n, parse_list(lx));
		if (peek(lx) != T_RPAREN)
			unexpected(lx);
		consume(lx);
		return n;
	}
	if (lx->tok != T_WORD)
		return NULL;
	if (strcmp(lx->text, "{") == 0) {
		consume(lx);
		n = new_node(N_GROUP, lx);
		add_kid(n, parse_list(lx));
		expect(lx, "}");
		return n;
	}
	if (strcmp(lx->text, "if") == 0)
		return parse_if(lx);
	if (strcmp(lx->text, "while") == 0)
		return parse_loop(lx, N_WHILE);
	if (strcmp(lx->text, "until") == 0)
		return parse_loop(lx, N_UNTIL);
	if (strcmp(lx->text, "for") == 0)
		return parse_for(lx);
	if (strcmp(lx->text, "case") == 0)
		return parse_case(lx);
	return NULL;
}

static struct node *parse_command_node(struct lexer *lx)
{
	peek(lx);
	size_t start = lx->tok_start;
	struct node *n = parse_compound(lx);
	if (n) {
		parse_trailing_redirs(lx, n);
		set_src(lx, n, start);
		return n;
	}
	if (is_list_end(lx))
		unexpected(lx);
	n = new_node(N_CMD, lx);
	for (;;) {
		int t = peek(lx);
		if (t == T_WORD) {
			add_word(n, take_word(lx));
			/* NAME ( ) compound-command: a function definition. */
			if (n->nwords == 1 && !n->redirs && peek(lx) == T_LPAREN &&
			    valid_name(n->words[0], strlen(n->words[0]))) {
				consume(lx);
				if (peek(lx) != T_RPAREN)
					unexpected(lx);
				consume(lx);
				skip_newlines(lx);
				struct node *body = parse_compound(lx);
				if (!body)
					unexpected(lx);
				parse_trailing_redirs(lx, body);
				n->type = N_FUNC;
				n->name = n->words[0];
				n->nwords = 0;
				add_kid(n, body);
				set_src(lx, n, start);
				return n;
			}
		} else if (t == T_IO_NUMBER || is_redir_tok(t)) {
			parse_redir(lx, &n->redirs);
		} else {
			break;
		}
	}
	if (n->nwords == 0 && !n->redirs)
		unexpected(lx);
	set_src(lx, n, start);
	return n;
}

static struct node *parse_pipeline(struct lexer *lx)
{
	peek(lx);
	size_t start = lx->tok_start;
	int bang = 0;
	if (is_word(lx, "!")) {
		consume(lx);
		bang = 1;
	}
	struct node *n = parse_command_node(lx);
	if (peek(lx) == T_PIPE) {
		struct node *p = new_node(N_PIPE, lx);
		add_kid(p, n);
		while (peek(lx) == T_PIPE) {
			consume(lx);
			skip_newlines(lx);
			add_kid(p, parse_command_node(lx));
		}
		n = p;
		set_src(lx, n, start);
	}
	if (bang) {
		struct node *b = new_node(N_NOT, lx);
		add_kid(b, n);
		n = b;
		set_src(lx, n, start);
	}
	return n;
}

static struct node *parse_and_or(struct lexer *lx)
{
	peek(lx);
	size_t start = lx->tok_start;
	struct node *n = parse_pipeline(lx);
	while (peek(lx) == T_AND_IF || lx->tok == T_OR_IF) {
		struct node *op = new_node(lx->tok == T_AND_IF ? N_AND : N_OR, lx);
		consume(lx);
		skip_newlines(lx);
		add_kid(op, n);
		add_kid(op, parse_pipeline(lx));
		n = op;
		set_src(lx, n, start);
	}
	return n;
}

struct node *parse_command(struct input *in, int *status)
{
	jmp_buf err;
	struct lexer lx = {.in = in, .err = &err};
	struct node *volatile list = NULL;
	in_discard(in);
	if (setjmp(err)) {
		*status = lx.interrupted ? 3 : 2;
		if (lx.interrupted)
			in->eof = 0;
		free(lx.text);
		/* Drop the rest of the line that failed. */
		if (in->fd >= 0)
			in->pos = in->len;
		free_node(list);
		return NULL;
	}
	*status = 0;
	int t = peek(&lx);
	if (t == T_EOF) {
		*status = 1;
		return NULL;
	}
	if (t == T_NEWLINE) {
		consume(&lx);
		return NULL;
	}
	list = new_node(N_LIST, &lx);
	for (;;) {
		struct node *item = parse_and_or(&lx);
		int sep = 0;
		t = peek(&lx);
		list->bg = xrealloc(list->bg, list->nkids + 1);
		list->bg[list->nkids] = t == T_AMP;
		add_kid(list, item);
		if (t == T_SEMI || t == T_AMP) {
			consume(&lx);
			t = peek(&lx);
			sep = 1;
		}
		if (t == T_NEWLINE) {
			consume(&lx);
			break;
		}
		if (t == T_EOF)
			break;
		if (!sep)
			unexpected(&lx);
	}
	free(lx.text);
	return list;
}

void free_node(struct node *n)
{
	if (!n || n->kept)
		return;
	for (int i = 0; i < n->nwords; i++)
		free(n->words[i]);
	free(n->words);
	for (int i = 0; i < n->nkids; i++)
		free_node(n->kids[i]);
	free(n->kids);
	free(n->bg);
	free(n->name);
	for (struct redir *r = n->redirs, *next; r; r = next) {
		next = r->next;
		free(r->word);
		free(r->heredoc);
		free(r);
	}
	free(n->src);
	free(n);
}
