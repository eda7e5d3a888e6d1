/*
 * sh - a small POSIX-style shell for a machine without fork().
 *
 * Usage: sh [-eixfn] [-c COMMAND [NAME [ARG...]] | SCRIPT [ARG...]]
 *   -c COMMAND   run COMMAND ($0 = NAME, $1... = ARGs)
 *   SCRIPT       run the file SCRIPT ($0 = SCRIPT)
 *   (neither)    read commands from stdin; interactive when stdin and
 *                stderr are terminals (or -i): prompt "nommu# ", Ctrl-C
 *                interrupts the running command, not the shell.
 *
 * Language: pipelines, && || ; &, redirections (< > >> >| <> <& >& << <<-,
 * with fd numbers: 2> 2>&1 >&2), quoting ('...', "...", \), $NAME ${NAME}
 * ${NAME:-w} ${NAME:=w} ${NAME:+w} ${NAME:?w} ${#NAME} ${NAME%w} ${NAME#w},
 * $? $$ $! $# $0..$9 $@ $*, $(...) `...` $((...)), globbing, ~, if/elif/
 * else, while/until, for, case, { ...; }, functions. Builtins: cd exit exec
 * wait export unset set shift read eval . break continue return true false
 * : jobs type command umask. ( ... ) is refused: subshells need fork().
 *
 * How commands start without fork (posix_spawn, and re-executing the
 * shell for shell code) is explained at the top of exec.c.
 *
 * Exit status: the last command's; 127 command not found, 126 not
 * executable, 2 syntax error, 128+N killed by signal N.
 */
#include "sh.h"
#include <fcntl.h>
#include <stdarg.h>
#include <sys/auxv.h>
#include <unistd.h>

extern char **environ;

struct shell sh;

void sh_error(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fflush(stdout);
	fprintf(stderr, "sh: %s\n", msg);
}

/* Error text from a fixed table (the same words natively and under nommu). */
const char *err_text(int e)
{
	switch (e) {
	case EPERM: return "Operation not permitted";
	case ENOENT: return "No such file or directory";
	case EIO: return "I/O error";
	case E2BIG: return "Argument list too long";
	case ENOEXEC: return "Exec format error";
	case EBADF: return "Bad file descriptor";
	case ENOMEM: return "Out of memory";
	case EACCES: return "Permission denied";
	case EFAULT: return "Bad address";
	case EBUSY: return "Resource busy";
	case EEXIST: return "File exists";
	case ENOTDIR: return "Not a directory";
	case EISDIR: return "Is a directory";
	case EINVAL: return "Invalid argument";
	case EMFILE: return "Too many open files";
	case ETXTBSY: return "Text file busy";
	case ENOSPC: return "No space left on device";
	case EROFS: return "Read-only file system";
	case EPIPE: return "Broken pipe";
	case ENAMETOOLONG: return "Filename too long";
	case ENOSYS: return "Function not implemented";
	case ELOOP: return "Symbolic link loop";
	case EAGAIN: return "Resource temporarily unavailable";
	}
	return "Error";
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		write(2, "sh: out of memory\n", 18);
		_exit(2);
	}
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		write(2, "sh: out of memory\n", 18);
		_exit(2);
	}
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

void str_add(struct str *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap = b->cap ? b->cap * 2 : 64;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = 0;
}

void str_addc(struct str *b, char c)
{
	str_add(b, &c, 1);
}

void str_adds(struct str *b, const char *s)
{
	str_add(b, s, strlen(s));
}

/* The string (never NULL); b is reset. */
char *str_take(struct str *b)
{
	char *s = b->s ? b->s : xstrdup("");
	b->s = NULL;
	b->len = b->cap = 0;
	return s;
}

static void on_sigint(int sig)
{
	sh.got_sigint = 1;
}

/* Interactive: at the prompt Ctrl-C abandons the line being typed (a
 * handler, so that read() fails with EINTR); while a command runs the
 * shell ignores SIGINT and only the command (default action) dies. */
void set_prompt_signals(int at_prompt)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = at_prompt ? on_sigint : SIG_IGN;
	sigaction(SIGINT, &sa, NULL);
}

/* This program's path, to re-execute it for shell code in pipelines. */
static char *find_self(const char *arg0)
{
	int not_executable;
	char cwd[4096];
	if (strchr(arg0, '/')) {
		if (arg0[0] == '/' || !getcwd(cwd, sizeof cwd))
			return xstrdup(arg0);
		char *p = xmalloc(strlen(cwd) + strlen(arg0) + 2);
		sprintf(p, "%s/%s", cwd, arg0);
		return p;
	}
	/* The path given to execve, which the kernel leaves in the auxv. */
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	if (execfn && strchr(execfn, '/'))
		return find_self(execfn);
	char *p = find_program(arg0, &not_executable);
	if (p && !not_executable && p[0] == '/')
		return p;
	free(p);
	return xstrdup("/bin/sh");
}

static char *read_script(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct str b = {0};
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		str_add(&b, buf, n);
	close(fd);
	str_addc(&b, 0);
	return str_take(&b);
}

static void set_args(char **args, int n)
{
	sh.params = xmalloc((n + 1) * sizeof *sh.params);
	for (int i = 0; i < n; i++)
		sh.params[i] = xstrdup(args[i]);
	sh.nparams = n;
}

int main(int argc, char **argv)
{
	struct sigaction old;
	struct input in;
	int i = 1, cflag = 0, iflag = 0, sflag = 0;

	sh.pid = getpid();
	var_import(environ);
	if (!var_get("PS1"))
		var_set("PS1", geteuid() == 0 ? "nommu# " : "nommu$ ", 0);
	char ppid[16];
	snprintf(ppid, sizeof ppid, "%d", (int)getppid());
	var_set("PPID", ppid, 0);
	if (!var_get("PS2"))
		var_set("PS2", "> ", 0);
	if (sigaction(SIGINT, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
		sh.sigint_ignored_at_start = 1;
	if (sigaction(SIGQUIT, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
		sh.sigquit_ignored_at_start = 1;

	/* A copy started by exec.c for shell code: --subshell PID STATUS. */
	if (argc > 3 && strcmp(argv[1], "--subshell") == 0) {
		sh.pid = atoi(argv[2]);
		sh.status = atoi(argv[3]);
		i = 4;
	}
	for (; i < argc && (argv[i][0] == '-' || argv[i][0] == '+') && argv[i][1]; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		for (const char *c = argv[i] + 1; *c; c++) {
			int on = argv[i][0] == '-';
			if (*c == 'c')
				cflag = on;
			else if (*c == 'i')
				iflag = on;
			else if (*c == 's')
				sflag = on;
			else if (!set_option(*c, on)) {
				sh_error("-%c: invalid option", *c);
				fprintf(stderr, "usage: sh [-eixfn] [-c COMMAND [NAME [ARG...]] | SCRIPT [ARG...]]\n");
				return 2;
			}
		}
	}
	sh.self = find_self(argv[0]);

	if (cflag) {
		if (i >= argc) {
			sh_error("-c requires an argument");
			return 2;
		}
		const char *text = argv[i++];
		sh.arg0 = i < argc ? argv[i++] : argv[0];
		set_args(argv + i, argc - i);
		sh.interactive = iflag;
		in_init_string(&in, text);
		run_input(&in);
		sh_exit(sh.status);
	}
	if (i < argc && !sflag) {
		const char *path = argv[i++];
		char *text = read_script(path);
		if (!text) {
			int e = errno;
			sh_error("%s: %s", path, err_text(e));
			return e == ENOENT ? 127 : 126;
		}
		sh.arg0 = (char *)path;
		set_args(argv + i, argc - i);
		in_init_string(&in, text);
		free(text);
		run_input(&in);
		sh_exit(sh.status);
	}
	sh.arg0 = argv[0];
	set_args(argv + i, argc - i);
	sh.interactive = iflag || (isatty(0) && isatty(2));
	if (sh.interactive) {
		signal(SIGQUIT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
	}
	in_init_fd(&in, 0, sh.interactive);
	run_input(&in);
	if (sh.interactive)
		write(2, "exit\n", 5);
	sh_exit(sh.status);
}
