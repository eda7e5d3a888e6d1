/*
 * builtin.c - commands the shell runs itself, because they change the
 * shell (cd, exit, export, set, read, ...) or the way it runs (wait, eval,
 * break), and echo. test, printf, pwd and the rest are separate programs in
 * /bin, started with posix_spawn like any other command.
 *
 * echo is built in, as in every POSIX shell, because scripts count on it
 * taking no time: `prog & echo $!` must print the pid before prog's first
 * output, and a new process for each echo would lose that race. In a
 * pipeline or in the background it is /bin/echo again (see run_cmd): there
 * it needs a process of its own anyway.
 *
 * (exec is handled in exec.c: it needs the command's redirections.)
 */
#include "echo.h"
#include "sh.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static int bi_true(int argc, char **argv)
{
	return 0;
}

static int bi_false(int argc, char **argv)
{
	return 1;
}

static int bi_cd(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : var_get("HOME");
	int print = 0;
	if (!dir) {
		sh_error("cd: HOME not set");
		return 1;
	}
	if (strcmp(dir, "-") == 0) {
		dir = var_get("OLDPWD");
		if (!dir) {
			sh_error("cd: OLDPWD not set");
			return 1;
		}
		print = 1;
	}
	char *target = xstrdup(dir);
	if (chdir(target) < 0) {
		sh_error("cd: %s: %s", target, err_text(errno));
		free(target);
		return 1;
	}
	const char *old = var_get("PWD");
	if (old)
		var_set("OLDPWD", old, 0);
	char cwd[4096];
	if (getcwd(cwd, sizeof cwd))
		var_set("PWD", cwd, 0);
	if (print)
		printf("%s\n", cwd);
	free(target);
	return 0;
}

/* echo [-n] [-e] [ARG...]: /bin/echo's code (guest/include/echo.h). */
static int bi_echo(int argc, char **argv)
{
	if (echo_args(argc, argv) == 0)
		return 0;
	clearerr(stdout);
	return 1;
}

static int number_arg(const char *what, const char *s, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end) {
		sh_error("%s: %s: numeric argument required", what, s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int bi_exit(int argc, char **argv)
{
	int status = sh.status;
	if (argc > 1 && number_arg("exit", argv[1], &status) < 0)
		status = 2;
	sh_exit(status & 255);
}

static int bi_export(int argc, char **argv)
{
	if (argc == 1 || (argc == 2 && strcmp(argv[1], "-p") == 0)) {
		var_print(1);
		return 0;
	}
	int status = 0;
	for (int i = 1; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		size_t n = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);
		if (!valid_name(argv[i], n)) {
			sh_error("export: %s: bad variable name", argv[i]);
			status = 1;
			continue;
		}
		if (eq) {
			*eq = 0;
			var_set(argv[i], eq + 1, 1);
			*eq = '=';
		} else {
			var_export(argv[i]);
		}
	}
	return status;
}

static int bi_unset(int argc, char **argv)
{
	int functions = 0, i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-f") == 0)
			functions = 1;
		else if (strcmp(argv[i], "-v") == 0)
			functions = 0;
		else
			break;
	}
	for (; i < argc; i++) {
		if (functions)
			func_unset(argv[i]);
		else
			var_unset(argv[i]);
	}
	return 0;
}

static void set_params(char **args, int n)
{
	for (int i = 0; i < sh.nparams; i++)
		free(sh.params[i]);
	free(sh.params);
	sh.params = xmalloc((n + 1) * sizeof *sh.params);
	for (int i = 0; i < n; i++)
		sh.params[i] = xstrdup(args[i]);
	sh.nparams = n;
}

/* One option letter of set (or of sh's command line); 0 if unknown. */
int set_option(char c, int on)
{
	switch (c) {
	case 'e': sh.errexit = on; return 1;
	case 'x': sh.xtrace = on; return 1;
	case 'f': sh.noglob = on; return 1;
	case 'n': sh.noexec = on; return 1;
	case 'u': case 'v': case 'h': case 'm': case 'C': return 1; /* accepted, ignored */
	}
	return 0;
}

static int bi_set(int argc, char **argv)
{
	int i = 1;
	if (argc == 1) {
		var_print(0);
		return 0;
	}
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			set_params(argv + i, argc - i);
			return 0;
		}
		if ((a[0] != '-' && a[0] != '+') || !a[1])
			break;
		if (strcmp(a + 1, "o") == 0 && i + 1 < argc) {
			const char *o = argv[++i];
			int on = a[0] == '-';
			if (!strcmp(o, "errexit")) sh.errexit = on;
			else if (!strcmp(o, "xtrace")) sh.xtrace = on;
			else if (!strcmp(o, "noglob")) sh.noglob = on;
			continue;
		}
		for (const char *c = a + 1; *c; c++) {
			if (!set_option(*c, a[0] == '-')) {
				sh_error("set: -%c: invalid option", *c);
				return 2;
			}
		}
	}
	if (i < argc)
		set_params(argv + i, argc - i);
	return 0;
}

static int bi_shift(int argc, char **argv)
{
	int n = 1;
	if (argc > 1 && number_arg("shift", argv[1], &n) < 0)
		return 2;
	if (n < 0 || n > sh.nparams) {
		sh_error("shift: can't shift that many");
		return 1;
	}
	for (int i = 0; i < n; i++)
		free(sh.params[i]);
	memmove(sh.params, sh.params + n, (sh.nparams - n) * sizeof *sh.params);
	sh.nparams -= n;
	return 0;
}

/* read [-r] [-p PROMPT] [NAME...]: one line from stdin, read a byte at a
 * time so that nothing after the line is consumed. */
static int bi_read(int argc, char **argv)
{
	int raw = 0, i = 1, status = 0;
	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (strcmp(argv[i], "-r") == 0) {
			raw = 1;
		} else if (strcmp(argv[i], "-p") == 0 && i + 1 < argc) {
			fputs(argv[++i], stderr);
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else {
			sh_error("read: %s: invalid option", argv[i]);
			return 2;
		}
	}
	struct str line = {0};
	char *quoted = NULL; /* per character: escaped with a backslash */
	size_t qcap = 0;
	for (;;) {
		char c;
		ssize_t n = read(0, &c, 1);
		if (n < 0 && errno == EINTR) {
			if (sh.got_sigint) {
				status = 130;
				break;
			}
			continue;
		}
		if (n <= 0) {
			status = 1;
			break;
		}
		int esc = 0;
		if (c == '\\' && !raw) {
			if (read(0, &c, 1) <= 0) {
				status = 1;
				break;
			}
			if (c == '\n')
				continue;
			esc = 1;
		} else if (c == '\n') {
			break;
		}
		if (line.len + 1 >= qcap) {
			qcap = qcap ? qcap * 2 : 64;
			quoted = xrealloc(quoted, qcap);
		}
		quoted[line.len] = esc;
		str_addc(&line, c);
	}
	str_addc(&line, 0);
	line.len--;
	const char *ifs = var_get("IFS");
	if (!ifs)
		ifs = " \t\n";
	char *names_default[] = {"REPLY", NULL};
	char **names = i < argc ? argv + i : names_default;
	int nnames = i < argc ? argc - i : 1;
	size_t pos = 0, len = line.len;
#define IS_IFS(k) (!(quoted && quoted[k]) && line.s[k] && strchr(ifs, line.s[k]))
#define IS_WS(k) (IS_IFS(k) && strchr(" \t\n", line.s[k]))
	for (int k = 0; k < nnames; k++) {
		while (pos < len && IS_WS(pos))
			pos++;
		size_t start = pos, end;
		if (k == nnames - 1) {
			end = len;
			while (end > start && IS_WS(end - 1))
				end--;
			pos = len;
		} else {
			while (pos < len && !IS_IFS(pos))
				pos++;
			end = pos;
			if (pos < len && !IS_WS(pos))
				pos++; /* one non-blank delimiter */
			else
				while (pos < len && IS_WS(pos))
					pos++;
			if (pos < len && IS_IFS(pos) && !IS_WS(pos))
				pos++;
		}
		char *v = xstrndup(line.s + start, end - start);
		var_set(names[k], v, 0);
		free(v);
	}
#undef IS_IFS
#undef IS_WS
	free(line.s);
	free(quoted);
	return status;
}

static int loop_count(const char *what, int argc, char **argv, int *n)
{
	*n = 1;
	if (argc > 1 && (number_arg(what, argv[1], n) < 0 || *n < 1))
		return -1;
	if (sh.loop_depth == 0)
		return -1;
	if (*n > sh.loop_depth)
		*n = sh.loop_depth;
	return 0;
}

static int bi_break(int argc, char **argv)
{
	int n;
	if (loop_count("break", argc, argv, &n) == 0)
		sh.breaking = n;
	return 0;
}

static int bi_continue(int argc, char **argv)
{
	int n;
	if (loop_count("continue", argc, argv, &n) == 0)
		sh.continuing = n;
	return 0;
}

static int bi_return(int argc, char **argv)
{
	int n = sh.status;
	if (argc > 1 && number_arg("return", argv[1], &n) < 0)
		n = 2;
	sh.retval = n & 255;
	sh.returning = 1;
	return sh.retval;
}

static char *read_file(const char *path)
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

static int bi_dot(int argc, char **argv)
{
	if (argc < 2) {
		sh_error(".: filename argument required");
		return 2;
	}
	char *path = NULL, *text = NULL;
	int not_executable;
	if (!strchr(argv[1], '/')) {
		/* PATH is searched, then the current directory. */
		path = find_program(argv[1], &not_executable);
		if (path)
			text = read_file(path);
	}
	if (!text)
		text = read_file(argv[1]);
	free(path);
	if (!text) {
		sh_error(".: %s: %s", argv[1], err_text(errno));
		return sh.interactive ? 1 : (sh_exit(2), 2);
	}
	char **saved = sh.params;
	int nsaved = sh.nparams, with_args = argc > 2;
	if (with_args) {
		sh.params = NULL;
		sh.nparams = 0;
		set_params(argv + 2, argc - 2);
	}
	sh.func_depth++;
	int st = run_text(text, argv[1]);
	sh.func_depth--;
	if (sh.returning) {
		st = sh.retval;
		sh.returning = 0;
	}
	if (with_args) {
		set_params(NULL, 0);
		free(sh.params);
		sh.params = saved;
		sh.nparams = nsaved;
	}
	free(text);
	return st;
}

static int bi_eval(int argc, char **argv)
{
	struct str b = {0};
	for (int i = 1; i < argc; i++) {
		if (i > 1)
			str_addc(&b, ' ');
		str_adds(&b, argv[i]);
	}
	str_addc(&b, 0);
	char *text = str_take(&b);
	int st = run_text(text, "eval");
	free(text);
	return st;
}

static int bi_wait(int argc, char **argv)
{
	if (argc == 1)
		return wait_all_jobs();
	int st = 0;
	for (int i = 1; i < argc; i++) {
		int pid;
		const char *a = argv[i];
		if (a[0] == '%') {
			if (number_arg("wait", a + 1, &pid) < 0)
				return 2;
			pid = -pid;
		} else if (number_arg("wait", a, &pid) < 0) {
			return 2;
		}
		st = wait_job_pid(pid);
	}
	return st;
}

static int bi_jobs(int argc, char **argv)
{
	print_jobs();
	return 0;
}

/* How name would be run: 0 and a description, or 1 if it would not be. */
static int describe(const char *name, int verbose)
{
	int not_executable;
	if (func_find(name)) {
		printf(verbose ? "%s is a function\n" : "%s\n", name);
		return 0;
	}
	if (builtin_find(name) || !strcmp(name, "exec")) {
		printf(verbose ? "%s is a shell builtin\n" : "%s\n", name);
		return 0;
	}
	char *path = find_program(name, &not_executable);
	if (!path || not_executable || access(path, X_OK) < 0) {
		if (verbose)
			printf("%s: not found\n", name);
		free(path);
		return 1;
	}
	if (verbose)
		printf("%s is %s\n", name, path);
	else
		printf("%s\n", path);
	free(path);
	return 0;
}

static int bi_type(int argc, char **argv)
{
	int st = 0;
	for (int i = 1; i < argc; i++)
		st |= describe(argv[i], 1);
	return st;
}

static int bi_command(int argc, char **argv)
{
	if (argc > 2 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "-V"))) {
		int st = 0;
		for (int i = 2; i < argc; i++)
			st |= describe(argv[i], argv[1][1] == 'V');
		return st;
	}
	if (argc == 1)
		return 0;
	/* command NAME ARGS: run NAME skipping functions. */
	builtin_fn bi = builtin_find(argv[1]);
	if (bi)
		return bi(argc - 1, argv + 1);
	return run_external(argv + 1);
}

static int bi_umask(int argc, char **argv)
{
	if (argc > 1) {
		umask(strtol(argv[1], NULL, 8));
		return 0;
	}
	mode_t m = umask(0);
	umask(m);
	printf("%04o\n", (unsigned)m);
	return 0;
}

static const struct {
	const char *name;
	builtin_fn fn;
	int special;
} builtins[] = {
	{":", bi_true, 1},       {".", bi_dot, 1},          {"break", bi_break, 1},
	{"continue", bi_continue, 1}, {"eval", bi_eval, 1}, {"exit", bi_exit, 1},
	{"export", bi_export, 1}, {"return", bi_return, 1}, {"set", bi_set, 1},
	{"shift", bi_shift, 1},  {"unset", bi_unset, 1},    {"source", bi_dot, 1},
	{"cd", bi_cd, 0},        {"command", bi_command, 0}, {"echo", bi_echo, 0}, {"false", bi_false, 0},
	{"jobs", bi_jobs, 0},    {"read", bi_read, 0},      {"true", bi_true, 0},
	{"type", bi_type, 0},    {"umask", bi_umask, 0},    {"wait", bi_wait, 0},
	{"exec", bi_true, 1},
};

builtin_fn builtin_find(const char *name)
{
	for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
		if (strcmp(builtins[i].name, name) == 0)
			return builtins[i].fn;
	return NULL;
}

int builtin_is_special(const char *name)
{
	for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
		if (strcmp(builtins[i].name, name) == 0)
			return builtins[i].special;
	return 0;
}
