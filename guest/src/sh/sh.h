/*
 * sh.h - declarations shared by the files of the shell (see main.c).
 *
 * The shell is split into: input.c (where text comes from, and the lexer),
 * parse.c (tokens to a syntax tree), expand.c and arith.c (words to fields),
 * var.c (variables, functions, positional parameters), exec.c (running the
 * tree; every external command is started with posix_spawn there),
 * builtin.c (cd, exit, exec, wait, export, ...), main.c (options, modes).
 */
#ifndef SH_H
#define SH_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* ---- input and lexer (input.c) ---- */

/* Where shell text comes from: a string in memory, or a file descriptor read
 * on demand (one line at a time, so commands that read the same stdin see
 * the rest of it). */
struct input {
	char *buf;
	size_t len, cap, pos;
	int fd;              /* -1: all text is already in buf */
	int interactive;     /* print prompts before reading from fd */
	int eof;
	int lineno;
};

enum token {
	T_EOF, T_NEWLINE, T_WORD, T_IO_NUMBER,
	T_SEMI, T_AMP, T_PIPE, T_AND_IF, T_OR_IF, T_DSEMI, T_LPAREN, T_RPAREN,
	T_LESS, T_GREAT, T_DGREAT, T_LESSAND, T_GREATAND, T_LESSGREAT, T_DLESS,
	T_DLESSDASH, T_CLOBBER,
};

enum redir_op { R_IN, R_OUT, R_APPEND, R_CLOBBER, R_RDWR, R_DUPIN, R_DUPOUT, R_HEREDOC };

struct redir {
	struct redir *next;
	int fd;              /* the descriptor being redirected */
	int op;              /* enum redir_op */
	char *word;          /* file name, fd number, or here-document delimiter */
	char *heredoc;       /* here-document body */
	int heredoc_quoted;  /* delimiter was quoted: no expansion in the body */
	int heredoc_strip;   /* <<- : leading tabs removed */
};

enum node_type {
	N_CMD, N_PIPE, N_AND, N_OR, N_NOT, N_LIST, N_IF, N_WHILE, N_UNTIL,
	N_FOR, N_CASE, N_CASEITEM, N_GROUP, N_SUBSHELL, N_FUNC,
};

struct node {
	int type;
	char **words;        /* N_CMD: words; N_FOR: items; N_CASEITEM: patterns */
	int nwords;
	int has_in;          /* N_FOR: "in" was given */
	struct node **kids;  /* stages, list items, cond/then/else, body... */
	int nkids;
	char *bg;            /* N_LIST: per item, 1 when it ends in '&' */
	char *name;          /* N_FOR variable, N_FUNC name, N_CASE subject */
	struct redir *redirs;
	char *src;           /* the command's source text (for re-executing) */
	int lineno;
	int kept;            /* owned by the function table: never freed */
};

/* Lexer state; one per parse (parses nest for eval, $(...) and "."). */
struct lexer {
	struct input *in;
	int tok;             /* current token, valid when have_tok */
	int have_tok;
	char *text;          /* T_WORD / T_IO_NUMBER text, with quotes kept */
	size_t tok_start;    /* offset in in->buf where the token starts */
	size_t tok_end;      /* ... and where it ends */
	size_t last_end;     /* end of the last token the parser consumed */
	struct redir *pending[16]; /* here-documents to read after the newline */
	int npending;
	int interrupted;     /* Ctrl-C while reading a continuation line */
	jmp_buf *err;        /* syntax errors longjmp here */
};

int in_fill(struct input *in);
int in_peek(struct input *in);
int in_get(struct input *in);
void in_discard(struct input *in);
void in_init_string(struct input *in, const char *text);
void in_init_fd(struct input *in, int fd, int interactive);
void in_free(struct input *in);
int lex_next(struct lexer *lx);
const char *tok_name(int tok);
void syntax_error(struct lexer *lx, const char *fmt, ...);
size_t scan_matching(const char *s, size_t i, char open, char close);
size_t scan_backquote(const char *s, size_t i);

/* ---- parser (parse.c) ---- */

/* Parses one complete command (up to a newline at top level). Returns the
 * tree, NULL for an empty line; *status is 0, 1 at end of input, 2 after a
 * syntax error (already reported), 3 after Ctrl-C. */
struct node *parse_command(struct input *in, int *status);
void free_node(struct node *n);

/* ---- expansion (expand.c, arith.c) ---- */

/* Word to fields: quote removal, parameter/command/arithmetic expansion,
 * field splitting and pathname expansion. Appends to *argv (NULL-ended). */
void expand_fields(const char *word, char ***argv, int *argc);
/* Word to one string (assignments, redirection targets): no splitting. */
char *expand_string(const char *word);
/* Word to an fnmatch pattern (case patterns): quoted characters escaped. */
char *expand_pattern(const char *word);
/* Here-document body: only $ ` \ are special. */
char *expand_heredoc(const char *body);
long arith_eval(const char *expr, int *error);
char *command_output(const char *text);

/* ---- variables (var.c) ---- */

const char *var_get(const char *name);
void var_set(const char *name, const char *value, int export);
void var_unset(const char *name);
int var_is_exported(const char *name);
void var_export(const char *name);
void var_import(char **environ);
char **var_environ(char **extra, int nextra);
void var_print(int exported_only);
char *var_prelude(void);
int valid_name(const char *s, size_t n);
char *shell_quote(const char *s);

struct func {
	struct func *next;
	char *name;
	struct node *body;
};
struct func *func_find(const char *name);
void func_define(const char *name, struct node *body);
int func_unset(const char *name);

/* ---- execution (exec.c) ---- */

int run_node(struct node *n);
int run_text(const char *text, const char *what);
void run_input(struct input *in);
char *find_program(const char *name, int *not_executable);
pid_t spawn_shell(const char *text, int fd_in, int fd_out, int background);
int wait_status(pid_t pid);
int status_of(int wstatus);
void reap_jobs(int report);
int wait_all_jobs(void);
int wait_job_pid(pid_t pid);
void print_jobs(void);
int apply_redirs_saved(struct redir *r, int **saved, int *nsaved);
void restore_redirs(int *saved, int nsaved);
void sh_exit(int status) __attribute__((noreturn));
int run_external(char **argv);

/* ---- builtins (builtin.c) ---- */

typedef int (*builtin_fn)(int argc, char **argv);
builtin_fn builtin_find(const char *name);
int builtin_is_special(const char *name);
int set_option(char c, int on);

/* ---- shell-wide state (main.c) ---- */

struct shell {
	char *arg0;            /* $0 */
	char **params;         /* $1 ... */
	int nparams;
	int status;            /* $? */
	pid_t pid;             /* $$ (the top shell's pid, also in re-executed copies) */
	pid_t last_bg;         /* $! */
	int interactive;
	int errexit, xtrace, noglob, noexec;
	int cond_depth;        /* inside an if/while condition, ! or && || */
	int loop_depth, breaking, continuing, returning, func_depth;
	int retval;            /* the status given to `return` */
	int subst_status;      /* status of the last $(...) in this command */
	int sigint_ignored_at_start, sigquit_ignored_at_start;
	char *self;            /* this shell's program path, for re-executing */
	volatile sig_atomic_t got_sigint;
};
extern struct shell sh;

void sh_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *err_text(int e);

/* why.c: what the start of a file says about how execve will treat it. */
struct file_head {
	char interp[128]; /* the #! interpreter, "" if none */
	int binary;       /* not text: never to be run as a shell script */
	int foreign_elf;  /* an ELF file for another machine or word size */
};
void read_file_head(const char *path, struct file_head *h);
/* The message for execve's failure e on that file (buf: room for it). */
const char *exec_error(const struct file_head *h, int e, char *buf, size_t size);
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void set_prompt_signals(int at_prompt);

/* A growable string. */
struct str {
	char *s;
	size_t len, cap;
};
void str_addc(struct str *b, char c);
void str_add(struct str *b, const char *s, size_t n);
void str_adds(struct str *b, const char *s);
char *str_take(struct str *b);

#endif
