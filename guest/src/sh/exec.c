/*
 * exec.c - running the syntax tree, and starting programs with posix_spawn().
 *
 * There is no fork() on a no-MMU machine: without an MMU the kernel cannot
 * give a child its own copy of the parent's memory, so fork() fails with
 * EINVAL. Every external command is therefore started with posix_spawn(),
 * and the shell never runs its own code in a child process:
 *
 *   - a simple command that names a program: posix_spawn, its redirections
 *     given as file actions;
 *   - a pipeline a | b | c: each stage is spawned in turn, connected by
 *     pipes, and all run at once; the shell waits for them all;
 *   - a pipeline stage, background job or $(...) that is shell code (a
 *     builtin, a function, `while ...`): the shell spawns a new copy of
 *     itself ("sh -c TEXT", with the unexported variables and functions
 *     re-created by a prelude) - the re-exec technique of uClinux shells.
 *     ( ... ) subshells are refused with a message: they exist to isolate
 *     the shell's state, which only fork gives cheaply.
 *
 * WHY POSIX_SPAWN, in the style of the comment in CPython's
 * Modules/_posixsubprocess.c:
 *
 * A vfork() child runs in its parent's memory, on its parent's stack, until
 * it calls execve() or _exit(), and POSIX allows it nothing else. A shell
 * that sets up a command's descriptors and signals in a vfork child (dup2,
 * close, open, sigaction before execve, as shells do after fork) runs
 * library code on its suspended parent's stack: correct only with great
 * care, and exactly what `nommu check` reports. posix_spawn() is the
 * interface made for the job: the parent describes the child's setup as
 * data (file actions, attributes) and libc carries it out in a child that
 * has a stack of its own and no signal handlers, then execs. musl does it
 * with clone(CLONE_VM|CLONE_VFORK) on a separate stack: as cheap as vfork.
 *
 * The shell hands posix_spawn only what cannot fail unexpectedly, so that
 * every error is reported by the shell itself, in the usual words, on the
 * descriptor the command's stderr would have been:
 *
 *   - a file named by a redirection (> f, < f, >> f, <> f) is opened by the
 *     shell, close-on-exec and above every descriptor the command redirects,
 *     and passed on with adddup2: an open that fails is reported with the
 *     file's name and the command is not started (status 1);
 *   - n>&m, n<&m and here-documents are adddup2, n>&- is addclose. The
 *     shell follows the actions in a table of what each of the child's
 *     descriptors will be (struct spawn: fds), so that a copy of a
 *     descriptor that is not open is reported before anything starts, and
 *     messages go to the child's fd 2 as the redirections leave it;
 *   - what execve said comes back as posix_spawn's result: ENOENT is "not
 *     found" (127), anything else is reported with its text (126). ENOEXEC
 *     means a script without "#!": it is spawned again as "sh SCRIPT ARGS"
 *     (the file actions run again in the new child, which starts from the
 *     shell's descriptors, so they give the same result).
 *
 * Signals: the attributes give the child the shell's signal mask and, with
 * SETSIGDEF, the default action for the signals an interactive shell
 * ignores while a command runs (SIGINT, SIGQUIT, SIGTERM); libc itself
 * resets every caught signal to SIG_DFL in the child. posix_spawn cannot
 * make a program start with a signal ignored, which background jobs need
 * for SIGINT and SIGQUIT: the shell ignores them itself for the moment of
 * posix_spawn (all signals blocked meanwhile) and the child inherits
 * SIG_IGN. (A SIGINT sent to the shell in that moment is dropped: setting
 * SIG_IGN discards a pending signal.) There are no process groups: the
 * shell does no job control, its commands stay in its process group and a
 * Ctrl-C at the terminal reaches the command, while an interactive shell
 * ignores it.
 *
 * File descriptors: every descriptor the shell opens for itself (pipes,
 * saved copies of 0/1/2, here-document pipes) is close-on-exec, so the
 * child never has to close anything: it only gets copies onto 0, 1, 2, ...
 */
#include "sh.h"
#include <fcntl.h>
#include <fnmatch.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A redirection with its word expanded. */
struct prep {
	int fd;      /* the descriptor being set up */
	int op;      /* enum redir_op */
	char *path;  /* the file, for R_IN, R_OUT, R_APPEND, R_CLOBBER, R_RDWR */
	int src;     /* R_DUPIN/R_DUPOUT: the fd to copy (-1: close fd);
	              * R_HEREDOC: read end of a pipe holding the text */
};

/* A program to start, and the setup of its child, prepared by the shell. */
struct spawn {
	const char *name;          /* the command as typed, for messages */
	const char *path;          /* program found on PATH; NULL: not found */
	char **argv, **envp;
	char **script_argv;        /* sh PATH ARGS... if execve says ENOEXEC */
	posix_spawn_file_actions_t fa;
	int *fds, nfds;            /* the child's fd i will be the shell's fds[i]
	                            * (-1: closed); fds above nfds are the shell's */
	int *temps, ntemps;        /* the shell's own copies, all >= nfds, closed
	                            * once the child has started */
	sigset_t sigdef;           /* signals the program starts with SIG_DFL */
	int ignore[2], nignore;    /* signals it starts ignoring */
};

/* ---- the child's descriptors ---- */

static int open_flags(int op)
{
	switch (op) {
	case R_IN: return O_RDONLY;
	case R_OUT:
	case R_CLOBBER: return O_WRONLY | O_CREAT | O_TRUNC;
	case R_APPEND: return O_WRONLY | O_CREAT | O_APPEND;
	default: return O_RDWR | O_CREAT;
	}
}

/* An empty setup whose table covers every descriptor preps redirect. */
static void spawn_init(struct spawn *sp, const struct prep *preps, int npreps)
{
	sp->nfds = 10;
	for (int i = 0; i < npreps; i++)
		if (preps[i].fd >= sp->nfds)
			sp->nfds = preps[i].fd + 1;
	sp->fds = xmalloc(sp->nfds * sizeof *sp->fds);
	for (int i = 0; i < sp->nfds; i++)
		sp->fds[i] = i;
	sp->temps = NULL;
	sp->ntemps = 0;
	posix_spawn_file_actions_init(&sp->fa);
	sigemptyset(&sp->sigdef);
	sp->nignore = 0;
}

static void spawn_free(struct spawn *sp)
{
	for (int i = 0; i < sp->ntemps; i++)
		close(sp->temps[i]);
	free(sp->temps);
	free(sp->fds);
	posix_spawn_file_actions_destroy(&sp->fa);
}

/* What the child's descriptor n will be: one of the shell's, or -1. */
static int child_fd(const struct spawn *sp, int n)
{
	return n < sp->nfds ? sp->fds[n] : n;
}

/* Writes "sh: WHAT: TEXT" where the command's stderr would be; returns status. */
static int spawn_error(const struct spawn *sp, const char *what, const char *text, int status)
{
	int err = child_fd(sp, 2);
	fflush(stdout);
	fflush(stderr);
	if (err >= 0)
		dprintf(err, "sh: %s: %s\n", what, text);
	return status;
}

/* A close-on-exec copy of the shell's fd above the table; -1 on error. */
static int temp_copy(struct spawn *sp, int fd)
{
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, sp->nfds);
	if (copy >= 0) {
		sp->temps = xrealloc(sp->temps, (sp->ntemps + 1) * sizeof *sp->temps);
		sp->temps[sp->ntemps++] = copy;
	}
	return copy;
}

/* The child's fd `to` becomes a copy of the shell's fd. A copy above the
 * table is passed when the number could mean something else by then (an
 * earlier action replaced it) or is `to` itself (dup2 of a descriptor onto
 * itself would leave it close-on-exec). */
static int give_fd(struct spawn *sp, int fd, int to)
{
	int src = fd, e;
	if (fd == to || (fd < sp->nfds && sp->fds[fd] != fd))
		src = temp_copy(sp, fd);
	if (src < 0)
		return -1;
	if ((e = posix_spawn_file_actions_adddup2(&sp->fa, src, to))) {
		errno = e;
		return -1;
	}
	sp->fds[to] = fd;
	return 0;
}

/* n>&m and n<&m: the child's fd `to` becomes a copy of its fd m. */
static int copy_fd(struct spawn *sp, int m, int to)
{
	int fd = child_fd(sp, m);
	if (fd < 0 || fcntl(fd, F_GETFD) < 0)
		return -1;
	if (m != to)
		return give_fd(sp, fd, to);
	if (fd == m && (fcntl(fd, F_GETFD) & FD_CLOEXEC))
		return give_fd(sp, fd, to); /* one of the shell's own */
	return 0; /* already what the child will have */
}

/* Turns stdin/stdout and the redirections into file actions, in order.
 * Returns 0, or the status after reporting what failed. */
static int spawn_fds(struct spawn *sp, int fd_in, int fd_out, const struct prep *p, int n)
{
	if (fd_in >= 0 && give_fd(sp, fd_in, 0) < 0)
		return spawn_error(sp, "stdin", err_text(errno), 1);
	if (fd_out >= 0 && give_fd(sp, fd_out, 1) < 0)
		return spawn_error(sp, "stdout", err_text(errno), 1);
	for (int i = 0; i < n; i++) {
		if (p[i].path) {
			int fd = open(p[i].path, open_flags(p[i].op) | O_CLOEXEC, 0666);
			if (fd < 0)
				return spawn_error(sp, p[i].path, err_text(errno), 1);
			int copy = temp_copy(sp, fd);
			close(fd);
			if (copy < 0 || give_fd(sp, copy, p[i].fd) < 0)
				return spawn_error(sp, p[i].path, err_text(errno), 1);
		} else if (p[i].op == R_HEREDOC) {
			if (give_fd(sp, p[i].src, p[i].fd) < 0)
				return spawn_error(sp, "redirection", err_text(errno), 1);
		} else if (p[i].src < 0) {
			posix_spawn_file_actions_addclose(&sp->fa, p[i].fd);
			sp->fds[p[i].fd] = -1;
		} else if (copy_fd(sp, p[i].src, p[i].fd) < 0) {
			return spawn_error(sp, "redirection", err_text(EBADF), 1);
		}
	}
	return 0;
}

/* ---- starting the program ---- */

/* One posix_spawn of path with sp's setup; returns 0 or an errno value. */
static int spawn_once(struct spawn *sp, const char *path, char **argv, pid_t *pid)
{
	static const struct sigaction ign = {.sa_handler = SIG_IGN};
	struct sigaction old[2];
	sigset_t all, mask;
	posix_spawnattr_t attr;
	int ignored[2] = {0, 0};
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &mask);
	for (int i = 0; i < sp->nignore; i++) {
		sigaction(sp->ignore[i], NULL, &old[i]);
		ignored[i] = old[i].sa_handler != SIG_IGN;
		if (ignored[i])
			sigaction(sp->ignore[i], &ign, NULL);
	}
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(&attr, &mask);
	posix_spawnattr_setsigdefault(&attr, &sp->sigdef);
	int e = posix_spawn(pid, path, &sp->fa, &attr, argv, sp->envp);
	posix_spawnattr_destroy(&attr);
	for (int i = 0; i < sp->nignore; i++)
		if (ignored[i])
			sigaction(sp->ignore[i], &old[i], NULL);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	return e;
}

/* Starts sp (its descriptors already set up); returns the child's pid, or
 * -status if it could not start (reported). */
static pid_t spawn(struct spawn *sp)
{
	pid_t pid;
	if (!sp->path)
		return -spawn_error(sp, sp->name, "not found", 127);
	fflush(stdout);
	fflush(stderr);
	int e = spawn_once(sp, sp->path, sp->argv, &pid);
	struct file_head head = {0};
	if (e == ENOENT || e == ENOEXEC) /* the errno alone can mislead (why.c) */
		read_file_head(sp->path, &head);
	if (e == ENOEXEC && sp->script_argv && !head.binary) /* a shell script without #! */
		e = spawn_once(sp, sp->script_argv[0], sp->script_argv, &pid);
	if (e == 0)
		return pid;
	if (e == EAGAIN) { /* no process could be made */
		sh_error("posix_spawn: %s", err_text(e));
		return -2;
	}
	char text[192];
	return -spawn_error(sp, sp->name, exec_error(&head, e, text, sizeof text),
			    e == ENOENT ? 127 : 126);
}

/* The actions a program should start with for the signals the shell set. */
static void child_signals(struct spawn *sp, int background)
{
	static const int sigs[] = {SIGINT, SIGQUIT, SIGTERM};
	for (int i = 0; i < 3; i++) {
		int ignore = (sigs[i] == SIGINT && sh.sigint_ignored_at_start) ||
			     (sigs[i] == SIGQUIT && sh.sigquit_ignored_at_start) ||
			     (background && sigs[i] != SIGTERM);
		if (!sh.interactive && !ignore)
			continue; /* a non-interactive shell keeps what it inherited */
		if (ignore)
			sp->ignore[sp->nignore++] = sigs[i];
		else
			sigaddset(&sp->sigdef, sigs[i]);
	}
}

/* ---- redirections ---- */

/* A pipe whose ends are close-on-exec and above 2. */
static int make_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0) {
		sh_error("pipe: %s", err_text(errno));
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		if (p[i] < 3) {
			int fd = fcntl(p[i], F_DUPFD_CLOEXEC, 3);
			close(p[i]);
			p[i] = fd;
		}
	}
	return 0;
}

static void free_preps(struct prep *p, int n)
{
	for (int i = 0; i < n; i++) {
		free(p[i].path);
		if (p[i].op == R_HEREDOC && p[i].src >= 0)
			close(p[i].src);
	}
	free(p);
}

/* Expands the words of a redirection list. Returns 0, or -1 after an error
 * (reported). */
static int prepare_redirs(struct redir *r, struct prep **out, int *n)
{
	*out = NULL;
	*n = 0;
	for (; r; r = r->next) {
		struct prep p = {.fd = r->fd, .op = r->op, .src = -1};
		if (r->op == R_DUPIN || r->op == R_DUPOUT) {
			char *w = expand_string(r->word), *end;
			if (strcmp(w, "-") != 0) {
				p.src = strtol(w, &end, 10);
				if (!*w || *end || p.src < 0) {
					sh_error("%s: bad file descriptor", w);
					free(w);
					free_preps(*out, *n);
					return -1;
				}
			}
			free(w);
		} else if (r->op == R_HEREDOC) {
			char *text = r->heredoc_quoted ? xstrdup(r->heredoc ? r->heredoc : "")
						       : expand_heredoc(r->heredoc ? r->heredoc : "");
			int pfd[2];
			size_t len = strlen(text);
			if (len > 65536) {
				sh_error("here-document too large (%zu bytes)", len);
				free(text);
				free_preps(*out, *n);
				return -1;
			}
			if (make_pipe(pfd) < 0) {
				free(text);
				free_preps(*out, *n);
				return -1;
			}
			for (size_t off = 0; off < len;) {
				ssize_t w = write(pfd[1], text + off, len - off);
				if (w <= 0)
					break;
				off += w;
			}
			close(pfd[1]);
			free(text);
			p.src = pfd[0];
		} else {
			p.path = expand_string(r->word);
		}
		*out = xrealloc(*out, (*n + 1) * sizeof **out);
		(*out)[(*n)++] = p;
	}
	return 0;
}

/* Makes fd `to` refer to what `from` refers to, without close-on-exec. */
static int move_fd(int from, int to)
{
	if (from == to)
		return fcntl(to, F_SETFD, 0);
	return dup2(from, to);
}

/* Applies redirections in the shell itself (builtins, functions, compound
 * commands, exec). With saved != NULL, the old descriptors are kept so that
 * restore_redirs() can put them back. Returns 0 or -1 (reported). */
static int apply_preps(struct prep *p, int n, int **saved, int *nsaved)
{
	for (int i = 0; i < n; i++) {
		if (saved) {
			int copy = fcntl(p[i].fd, F_DUPFD_CLOEXEC, 10);
			*saved = xrealloc(*saved, (*nsaved + 2) * sizeof **saved);
			(*saved)[(*nsaved)++] = p[i].fd;
			(*saved)[(*nsaved)++] = copy;
		}
		if (p[i].path) {
			int fd = open(p[i].path, open_flags(p[i].op) | O_CLOEXEC, 0666);
			if (fd < 0) {
				sh_error("%s: %s", p[i].path, err_text(errno));
				return -1;
			}
			if (fd != p[i].fd) {
				dup2(fd, p[i].fd);
				close(fd);
			} else {
				fcntl(fd, F_SETFD, 0);
			}
		} else if (p[i].src < 0) {
			close(p[i].fd);
		} else if (move_fd(p[i].src, p[i].fd) < 0) {
			sh_error("%d: %s", p[i].src, err_text(errno));
			return -1;
		}
	}
	return 0;
}

void restore_redirs(int *saved, int nsaved)
{
	for (int i = nsaved - 2; i >= 0; i -= 2) {
		int fd = saved[i], copy = saved[i + 1];
		if (copy >= 0) {
			dup2(copy, fd);
			close(copy);
		} else {
			close(fd);
		}
	}
	free(saved);
}

int apply_redirs_saved(struct redir *r, int **saved, int *nsaved)
{
	struct prep *p;
	int n;
	*saved = NULL;
	*nsaved = 0;
	if (prepare_redirs(r, &p, &n) < 0)
		return -1;
	int rc = apply_preps(p, n, saved, nsaved);
	free_preps(p, n);
	return rc;
}

/* ---- finding and starting programs ---- */

/* The file to execute for name: a path as given, or the first executable
 * regular file NAME in a PATH directory. NULL if none; *not_executable is
 * set when only a non-executable file was found (that one is returned, so
 * that execve reports EACCES). */
char *find_program(const char *name, int *not_executable)
{
	const char *path = var_get("PATH");
	char *fallback = NULL;
	*not_executable = 0;
	if (!*name)
		return NULL;
	if (strchr(name, '/'))
		return xstrdup(name);
	if (!path)
		path = "/bin:/usr/bin";
	for (const char *p = path;; p++) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		char *full = xmalloc(len + strlen(name) + 3);
		if (len)
			sprintf(full, "%.*s/%s", (int)len, p, name);
		else
			sprintf(full, "./%s", name);
		struct stat st;
		if (stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(full, X_OK) == 0) {
				free(fallback);
				return full;
			}
			if (!fallback) {
				fallback = full;
				full = NULL;
			}
		}
		free(full);
		if (!colon)
			break;
		p = colon;
	}
	*not_executable = fallback != NULL;
	return fallback;
}

static void free_env(char **env, int nextra)
{
	for (int i = nextra; env[i]; i++)
		free(env[i]);
	free(env);
}

static int open_devnull(void)
{
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Starts argv with extra environment assigns. Returns the pid, or -status
 * if it could not start (reported). */
static pid_t start_program(char **argv, char **assigns, int nassign, struct prep *preps, int npreps,
			   int fd_in, int fd_out, int background)
{
	struct spawn sp = {.name = argv[0], .argv = argv};
	int not_executable, argc = 0, devnull = -1;
	pid_t pid;
	char *path = find_program(argv[0], &not_executable);
	while (argv[argc])
		argc++;
	char **script_argv = xmalloc((argc + 2) * sizeof *script_argv);
	script_argv[0] = sh.self;
	script_argv[1] = path;
	for (int i = 1; i <= argc; i++)
		script_argv[i + 1] = argv[i];
	sp.path = path;
	sp.script_argv = script_argv;
	sp.envp = var_environ(assigns, nassign);
	if (background && fd_in < 0)
		fd_in = devnull = open_devnull();
	spawn_init(&sp, preps, npreps);
	child_signals(&sp, background);
	int status = spawn_fds(&sp, fd_in, fd_out, preps, npreps);
	pid = status ? -status : spawn(&sp);
	spawn_free(&sp);
	if (devnull >= 0)
		close(devnull);
	free_env(sp.envp, nassign);
	free(script_argv);
	free(path);
	return pid;
}

/* Runs TEXT in a new copy of the shell ("sh -c TEXT") with the given stdin
 * and stdout; used for shell code that must run in another process.
 * Returns the pid, or -status if it could not start (reported). */
pid_t spawn_shell(const char *text, int fd_in, int fd_out, int background)
{
	char pid[16], status[16];
	char *prelude = var_prelude();
	char *script = xmalloc(strlen(prelude) + strlen(text) + 1);
	int devnull = -1;
	sprintf(script, "%s%s", prelude, text);
	snprintf(pid, sizeof pid, "%d", (int)sh.pid);
	snprintf(status, sizeof status, "%d", sh.status);
	char **argv = xmalloc((sh.nparams + 8) * sizeof *argv);
	int n = 0;
	argv[n++] = "sh";
	argv[n++] = "--subshell";
	argv[n++] = pid;
	argv[n++] = status;
	argv[n++] = "-c";
	argv[n++] = script;
	argv[n++] = sh.arg0;
	for (int i = 0; i < sh.nparams; i++)
		argv[n++] = sh.params[i];
	argv[n] = NULL;
	struct spawn sp = {.name = "sh", .path = sh.self, .argv = argv};
	sp.envp = var_environ(NULL, 0);
	if (background && fd_in < 0)
		fd_in = devnull = open_devnull();
	spawn_init(&sp, NULL, 0);
	child_signals(&sp, background);
	int failed = spawn_fds(&sp, fd_in, fd_out, NULL, 0);
	pid_t p = failed ? -failed : spawn(&sp);
	spawn_free(&sp);
	if (devnull >= 0)
		close(devnull);
	free_env(sp.envp, 0);
	free(argv);
	free(script);
	free(prelude);
	return p;
}

/* ---- waiting ---- */

static const char *sig_name(int sig)
{
	static const char *const names[] = {
		[SIGHUP] = "SIGHUP", [SIGINT] = "SIGINT", [SIGQUIT] = "SIGQUIT", [SIGILL] = "SIGILL",
		[SIGTRAP] = "SIGTRAP", [SIGABRT] = "SIGABRT", [SIGBUS] = "SIGBUS", [SIGFPE] = "SIGFPE",
		[SIGKILL] = "SIGKILL", [SIGUSR1] = "SIGUSR1", [SIGSEGV] = "SIGSEGV", [SIGUSR2] = "SIGUSR2",
		[SIGPIPE] = "SIGPIPE", [SIGALRM] = "SIGALRM", [SIGTERM] = "SIGTERM",
	};
	static char other[16];
	if (sig > 0 && sig < (int)(sizeof names / sizeof names[0]) && names[sig])
		return names[sig];
	snprintf(other, sizeof other, "SIG%d", sig);
	return other;
}

int status_of(int ws)
{
	if (WIFEXITED(ws))
		return WEXITSTATUS(ws);
	if (WIFSIGNALED(ws))
		return 128 + WTERMSIG(ws);
	return 255;
}

/* Waits for a foreground child; reports death by a signal like shells do. */
int wait_status(pid_t pid)
{
	int ws;
	while (waitpid(pid, &ws, 0) < 0) {
		if (errno != EINTR)
			return 127;
	}
	if (WIFSIGNALED(ws)) {
		int sig = WTERMSIG(ws);
		if (sig == SIGINT) {
			if (sh.interactive) {
				sh.got_sigint = 1;
				write(2, "\n", 1);
			}
		} else if (sig != SIGPIPE) {
			fprintf(stderr, "sh: killed by %s (%s)\n", sig_name(sig), strsignal(sig));
		}
	}
	return status_of(ws);
}

/* ---- background jobs ---- */

struct job {
	int id;
	int n;
	pid_t *pids;
	int *status;    /* -1 while running */
	char *text;
};

static struct job *jobs;
static int njobs, next_job_id = 1;

static int job_done(struct job *j)
{
	for (int i = 0; i < j->n; i++)
		if (j->status[i] < 0)
			return 0;
	return 1;
}

static void drop_job(int k)
{
	free(jobs[k].pids);
	free(jobs[k].status);
	free(jobs[k].text);
	memmove(&jobs[k], &jobs[k + 1], (njobs - k - 1) * sizeof *jobs);
	if (--njobs == 0)
		next_job_id = 1;
}

static void add_job(pid_t *pids, int n, const char *text)
{
	if (n == 0)
		return;
	/* A script that never waits: forget the oldest finished jobs. */
	for (int k = 0; k < njobs && njobs > 64; k++)
		if (job_done(&jobs[k]))
			drop_job(k--);
	jobs = xrealloc(jobs, (njobs + 1) * sizeof *jobs);
	struct job *j = &jobs[njobs++];
	j->id = next_job_id++;
	j->n = n;
	j->pids = xmalloc(n * sizeof *j->pids);
	j->status = xmalloc(n * sizeof *j->status);
	for (int i = 0; i < n; i++) {
		j->pids[i] = pids[i];
		j->status[i] = -1;
	}
	j->text = xstrdup(text ? text : "");
	sh.last_bg = pids[n - 1];
	if (sh.interactive)
		fprintf(stderr, "[%d] %d\n", j->id, (int)pids[n - 1]);
}

static struct job *record(pid_t pid, int status)
{
	for (int k = 0; k < njobs; k++)
		for (int i = 0; i < jobs[k].n; i++)
			if (jobs[k].pids[i] == pid) {
				jobs[k].status[i] = status;
				return &jobs[k];
			}
	return NULL;
}

/* Collects finished background processes without blocking; when report,
 * prints "[N] Done  TEXT" for finished jobs and forgets them. */
void reap_jobs(int report)
{
	int ws;
	pid_t pid;
	if (njobs == 0)
		return;
	while ((pid = waitpid(-1, &ws, WNOHANG)) > 0)
		record(pid, status_of(ws));
	if (!report)
		return;
	for (int k = 0; k < njobs; k++) {
		if (!job_done(&jobs[k]))
			continue;
		int st = jobs[k].status[jobs[k].n - 1];
		if (st)
			fprintf(stderr, "[%d] Exit %d\t%s\n", jobs[k].id, st, jobs[k].text);
		else
			fprintf(stderr, "[%d] Done\t%s\n", jobs[k].id, jobs[k].text);
		drop_job(k--);
	}
}

void print_jobs(void)
{
	reap_jobs(0);
	for (int k = 0; k < njobs; k++)
		printf("[%d] %s\t%s\n", jobs[k].id, job_done(&jobs[k]) ? "Done" : "Running", jobs[k].text);
}

/* Waits for one job's processes; returns the last one's status, or -1 if
 * interrupted by Ctrl-C. */
static int wait_job(struct job *j)
{
	for (int i = 0; i < j->n; i++) {
		int ws;
		while (j->status[i] < 0) {
			pid_t got = waitpid(j->pids[i], &ws, 0);
			if (got == j->pids[i]) {
				j->status[i] = status_of(ws);
			} else if (errno == EINTR) {
				if (sh.got_sigint)
					return -1;
			} else {
				j->status[i] = 127;
			}
		}
	}
	return j->status[j->n - 1];
}

int wait_all_jobs(void)
{
	while (njobs > 0) {
		if (wait_job(&jobs[0]) < 0)
			return 130;
		drop_job(0);
	}
	return 0;
}

/* `wait PID` or `wait %N`: pid <= 0 means job number -pid. */
int wait_job_pid(pid_t pid)
{
	for (int k = 0; k < njobs; k++) {
		struct job *j = &jobs[k];
		int match = pid <= 0 ? j->id == -pid : 0;
		for (int i = 0; i < j->n && !match; i++)
			match = j->pids[i] == pid;
		if (!match)
			continue;
		int st = wait_job(j);
		if (st < 0)
			return 130;
		if (pid <= 0 || j->pids[j->n - 1] == pid) {
			drop_job(k);
			return st;
		}
		for (int i = 0; i < j->n; i++)
			if (j->pids[i] == pid)
				return j->status[i];
	}
	return 127;
}

/* ---- simple commands ---- */

static pid_t spawn_node(struct node *n, int fd_in, int fd_out, int background);

struct cmd {
	char **argv;
	int argc;
	char **assigns;   /* NAME=value, expanded */
	int nassign;
};

static int is_assignment(const char *w)
{
	const char *eq = strchr(w, '=');
	return eq && valid_name(w, eq - w);
}

static void expand_cmd(struct node *n, struct cmd *c)
{
	int i = 0;
	memset(c, 0, sizeof *c);
	for (; i < n->nwords && is_assignment(n->words[i]); i++) {
		const char *eq = strchr(n->words[i], '=');
		char *value = expand_string(eq + 1);
		char *a = xmalloc((eq - n->words[i]) + strlen(value) + 2);
		sprintf(a, "%.*s=%s", (int)(eq - n->words[i]), n->words[i], value);
		free(value);
		c->assigns = xrealloc(c->assigns, (c->nassign + 1) * sizeof *c->assigns);
		c->assigns[c->nassign++] = a;
	}
	for (; i < n->nwords; i++)
		expand_fields(n->words[i], &c->argv, &c->argc);
}

static void free_cmd(struct cmd *c)
{
	for (int i = 0; i < c->argc; i++)
		free(c->argv[i]);
	free(c->argv);
	for (int i = 0; i < c->nassign; i++)
		free(c->assigns[i]);
	free(c->assigns);
}

static void trace(struct cmd *c)
{
	struct str b = {0};
	str_adds(&b, var_get("PS4") ? var_get("PS4") : "+ ");
	for (int i = 0; i < c->nassign; i++) {
		str_adds(&b, c->assigns[i]);
		str_addc(&b, ' ');
	}
	for (int i = 0; i < c->argc; i++) {
		str_adds(&b, c->argv[i]);
		str_addc(&b, ' ');
	}
	if (b.len)
		b.s[b.len - 1] = '\n';
	write(2, b.s, b.len);
	free(b.s);
}

/* Sets NAME=value assignments in the shell; with saved, remembers the old
 * values ("NAME=old", or "NAME" if unset) to put back afterwards. */
static void assign_all(struct cmd *c, char ***saved)
{
	if (saved)
		*saved = xmalloc((c->nassign + 1) * sizeof **saved);
	for (int i = 0; i < c->nassign; i++) {
		char *eq = strchr(c->assigns[i], '=');
		*eq = 0;
		if (saved) {
			const char *old = var_get(c->assigns[i]);
			struct str b = {0};
			str_adds(&b, c->assigns[i]);
			if (old) {
				str_addc(&b, '=');
				str_adds(&b, old);
			}
			str_addc(&b, 0);
			(*saved)[i] = str_take(&b);
		}
		var_set(c->assigns[i], eq + 1, 0);
		*eq = '=';
	}
}

static void unassign_all(char **saved, int n)
{
	for (int i = 0; i < n; i++) {
		char *eq = strchr(saved[i], '=');
		if (eq) {
			*eq = 0;
			var_set(saved[i], eq + 1, 0);
		} else {
			var_unset(saved[i]);
		}
		free(saved[i]);
	}
	free(saved);
}

static int call_function(struct func *f, int argc, char **argv)
{
	char **saved = sh.params;
	int nsaved = sh.nparams;
	sh.params = xmalloc(argc * sizeof *sh.params);
	for (int i = 1; i < argc; i++)
		sh.params[i - 1] = xstrdup(argv[i]);
	sh.nparams = argc - 1;
	sh.func_depth++;
	int st = run_node(f->body->kids[0]);
	sh.func_depth--;
	if (sh.returning) {
		st = sh.retval;
		sh.returning = 0;
	}
	for (int i = 0; i < sh.nparams; i++)
		free(sh.params[i]);
	free(sh.params);
	sh.params = saved;
	sh.nparams = nsaved;
	return st;
}

/* exec [cmd args]: without a command, make the redirections permanent;
 * with one, replace the shell by it (no new process: this IS the process). */
static int do_exec(struct cmd *c, struct prep *p, int np)
{
	if (apply_preps(p, np, NULL, NULL) < 0)
		return 1;
	if (c->argc == 1)
		return 0;
	int not_executable;
	char *path = find_program(c->argv[1], &not_executable);
	if (!path) {
		sh_error("%s: not found", c->argv[1]);
		sh_exit(127);
	}
	char **env = var_environ(c->assigns, c->nassign);
	static const int sigs[] = {SIGINT, SIGQUIT, SIGTERM};
	for (int i = 0; i < 3; i++)
		signal(sigs[i], (sigs[i] == SIGINT && sh.sigint_ignored_at_start) ||
					(sigs[i] == SIGQUIT && sh.sigquit_ignored_at_start)
				    ? SIG_IGN
				    : SIG_DFL);
	fflush(stdout);
	execve(path, c->argv + 1, env);
	int e = errno;
	struct file_head head;
	char text[192];
	read_file_head(path, &head);
	sh_error("%s: %s", c->argv[1], exec_error(&head, e, text, sizeof text));
	sh_exit(e == ENOENT ? 127 : 126);
}

/* Runs a simple command. Synchronously (async == 0): returns its status.
 * Asynchronously (a pipeline stage, background job): starts it and returns
 * the pid, or -status if it finished at once. */
static int run_cmd(struct node *n, int fd_in, int fd_out, int background, int async)
{
	struct cmd c;
	struct prep *p = NULL;
	int np = 0, status = 0, *saved = NULL, nsaved = 0;
	sh.subst_status = 0;
	expand_cmd(n, &c);
	if (sh.xtrace && (c.argc || c.nassign))
		trace(&c);
	if (c.argc == 0) {
		/* Only assignments and redirections. */
		if (prepare_redirs(n->redirs, &p, &np) < 0 || apply_preps(p, np, &saved, &nsaved) < 0)
			status = 1;
		restore_redirs(saved, nsaved);
		free_preps(p, np);
		if (!async)
			assign_all(&c, NULL);
		status = status ? status : sh.subst_status;
		free_cmd(&c);
		return async ? -status : status;
	}
	const char *name = c.argv[0];
	builtin_fn bi = builtin_find(name);
	int special = builtin_is_special(name);
	struct func *f = special ? NULL : func_find(name);
	if (async && !f && !n->redirs && (bi == builtin_find("true") || bi == builtin_find("false"))) {
		/* true, false and : in a pipeline need no process at all. */
		free_cmd(&c);
		return bi == builtin_find("true") ? 0 : -1;
	}
	if (async && !f && bi == builtin_find("echo"))
		bi = NULL; /* a stage needs a process: /bin/echo costs less than a new sh */
	if (async && (bi || f)) {
		/* Shell code cannot run in a child process: run it in a new sh. */
		pid_t pid = spawn_node(n, fd_in, fd_out, background);
		free_cmd(&c);
		return pid;
	}
	if (prepare_redirs(n->redirs, &p, &np) < 0) {
		free_cmd(&c);
		return async ? -1 : 1;
	}
	if (async) {
		pid_t pid = start_program(c.argv, c.assigns, c.nassign, p, np, fd_in, fd_out, background);
		free_preps(p, np);
		free_cmd(&c);
		return pid;
	}
	if (strcmp(name, "exec") == 0) {
		status = do_exec(&c, p, np);
	} else if (bi || f) {
		if (apply_preps(p, np, &saved, &nsaved) < 0) {
			status = 1;
		} else {
			char **old = NULL;
			assign_all(&c, special ? NULL : &old);
			if (f) {
				status = call_function(f, c.argc, c.argv);
			} else {
				status = bi(c.argc, c.argv);
				fflush(stdout);
			}
			if (old)
				unassign_all(old, c.nassign);
		}
		restore_redirs(saved, nsaved);
	} else {
		pid_t pid = start_program(c.argv, c.assigns, c.nassign, p, np, -1, -1, 0);
		status = pid > 0 ? wait_status(pid) : -pid;
	}
	free_preps(p, np);
	free_cmd(&c);
	return status;
}

/* `command NAME ARGS`: runs a program in the foreground. */
int run_external(char **argv)
{
	pid_t pid = start_program(argv, NULL, 0, NULL, 0, -1, -1, 0);
	return pid > 0 ? wait_status(pid) : -pid;
}

/* ---- pipelines ---- */

/* The source text of n for a new sh, with the bodies of its here-documents
 * (which follow the command's line in the original text) appended. */
static char *node_text(struct node *n)
{
	struct str b = {0};
	int any = 0;
	str_adds(&b, n->src);
	for (struct redir *r = n->redirs; r; r = r->next) {
		if (r->op != R_HEREDOC)
			continue;
		str_addc(&b, '\n');
		str_adds(&b, r->heredoc ? r->heredoc : "");
		str_adds(&b, r->word);
		any = 1;
	}
	if (any)
		str_addc(&b, '\n');
	return str_take(&b);
}

static pid_t spawn_node(struct node *n, int fd_in, int fd_out, int background)
{
	char *text = node_text(n);
	pid_t pid = spawn_shell(text, fd_in, fd_out, background);
	free(text);
	return pid;
}

/* Starts one pipeline stage: returns a pid, or -status. */
static int start_stage(struct node *n, int fd_in, int fd_out, int background)
{
	if (n->type == N_CMD)
		return run_cmd(n, fd_in, fd_out, background, 1);
	if (n->type == N_SUBSHELL) {
		sh_error("subshells need fork(), which this no-MMU machine does not have");
		return -2;
	}
	return spawn_node(n, fd_in, fd_out, background);
}

/* Starts all stages of a pipeline (or one command) without waiting. The
 * last stage writes to fd_out (-1: the shell's stdout). Fills pids[] with a
 * pid or -status per stage; returns the number of stages. */
static int start_pipeline(struct node *n, int fd_out, int background, int **pids)
{
	int nst = n->type == N_PIPE ? n->nkids : 1;
	struct node **stages = n->type == N_PIPE ? n->kids : &n;
	int prev = -1;
	*pids = xmalloc(nst * sizeof **pids);
	for (int i = 0; i < nst; i++) {
		int p[2] = {-1, -1}, out = fd_out;
		if (i < nst - 1) {
			if (make_pipe(p) < 0) {
				for (; i < nst; i++)
					(*pids)[i] = -2;
				break;
			}
			out = p[1];
		}
		if (background && i == 0)
			prev = open_devnull();
		(*pids)[i] = start_stage(stages[i], prev, out, background);
		if (prev >= 0)
			close(prev);
		if (p[1] >= 0)
			close(p[1]);
		prev = p[0];
	}
	if (prev >= 0)
		close(prev);
	return nst;
}

static int wait_pipeline(int *pids, int n)
{
	int status = 0;
	for (int i = 0; i < n; i++)
		status = pids[i] > 0 ? wait_status(pids[i]) : -pids[i];
	free(pids);
	return status;
}

static int run_pipe(struct node *n)
{
	int *pids;
	int nst = start_pipeline(n, -1, 0, &pids);
	return wait_pipeline(pids, nst);
}

/* cmd & : start without waiting; shell code goes to a new sh. */
static void run_background(struct node *n)
{
	int *pids = NULL, nst, k = 0;
	if (n->type == N_CMD || n->type == N_PIPE) {
		nst = start_pipeline(n, -1, 1, &pids);
	} else if (n->type == N_SUBSHELL) {
		sh_error("subshells need fork(), which this no-MMU machine does not have");
		return;
	} else {
		pids = xmalloc(sizeof *pids);
		pids[0] = spawn_node(n, -1, -1, 1);
		nst = 1;
	}
	for (int i = 0; i < nst; i++)
		if (pids[i] > 0)
			pids[k++] = pids[i];
	add_job(pids, k, n->src);
	free(pids);
}

/* $(...) and `...`: the output of text, trailing newlines removed. */
char *command_output(const char *text)
{
	int p[2], *pids = NULL, nst = 0;
	struct str out = {0};
	if (make_pipe(p) < 0)
		return xstrdup("");
	/* One pipeline of programs runs directly; anything else in a new sh. */
	struct input in;
	int st1, st2;
	in_init_string(&in, text);
	struct node *n = parse_command(&in, &st1), *only = NULL;
	if (st1 == 0 && n && n->nkids == 1 && !n->bg[0]) {
		struct node *rest = parse_command(&in, &st2);
		if (st2 == 1 && !rest)
			only = n->kids[0];
		free_node(rest);
	}
	if (only && (only->type == N_CMD || only->type == N_PIPE)) {
		nst = start_pipeline(only, p[1], 0, &pids);
	} else {
		pids = xmalloc(sizeof *pids);
		pids[0] = spawn_shell(text, -1, p[1], 0);
		nst = 1;
	}
	free_node(n);
	in_free(&in);
	close(p[1]);
	char buf[512];
	ssize_t got;
	while ((got = read(p[0], buf, sizeof buf)) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		str_add(&out, buf, got);
	}
	close(p[0]);
	sh.subst_status = wait_pipeline(pids, nst);
	while (out.len && out.s[out.len - 1] == '\n')
		out.len--;
	str_addc(&out, 0);
	return str_take(&out);
}

/* ---- compound commands ---- */

static int stop_flow(void)
{
	return sh.breaking || sh.continuing || sh.returning || sh.got_sigint;
}

/* After a loop body: 1 if the loop must end. */
static int loop_control(void)
{
	if (sh.breaking) {
		sh.breaking--;
		return 1;
	}
	if (sh.continuing) {
		return --sh.continuing > 0;
	}
	return sh.returning || sh.got_sigint;
}

static int run_inner(struct node *n)
{
	int st = 0;
	switch (n->type) {
	case N_CMD:
		st = run_cmd(n, -1, -1, 0, 0);
		if (st && sh.errexit && !sh.cond_depth)
			sh_exit(st);
		break;
	case N_PIPE:
		st = run_pipe(n);
		if (st && sh.errexit && !sh.cond_depth)
			sh_exit(st);
		break;
	case N_NOT:
		sh.cond_depth++;
		st = !run_node(n->kids[0]);
		sh.cond_depth--;
		break;
	case N_AND:
	case N_OR:
		sh.cond_depth++;
		st = run_node(n->kids[0]);
		sh.cond_depth--;
		if (!stop_flow() && (st == 0) == (n->type == N_AND))
			st = run_node(n->kids[1]);
		break;
	case N_LIST:
		for (int i = 0; i < n->nkids; i++) {
			if (n->bg[i]) {
				run_background(n->kids[i]);
				st = 0;
			} else {
				st = run_node(n->kids[i]);
			}
			sh.status = st;
			if (stop_flow())
				break;
		}
		break;
	case N_IF:
		sh.cond_depth++;
		st = run_node(n->kids[0]);
		sh.cond_depth--;
		if (stop_flow())
			break;
		if (st == 0)
			st = run_node(n->kids[1]);
		else if (n->nkids > 2)
			st = run_node(n->kids[2]);
		else
			st = 0;
		break;
	case N_WHILE:
	case N_UNTIL:
		sh.loop_depth++;
		for (;;) {
			sh.cond_depth++;
			int c = run_node(n->kids[0]);
			sh.cond_depth--;
			if (stop_flow() && loop_control())
				break;
			if ((c == 0) != (n->type == N_WHILE))
				break;
			st = run_node(n->kids[1]);
			if (stop_flow() && loop_control())
				break;
		}
		sh.loop_depth--;
		break;
	case N_FOR: {
		char **items = NULL;
		int nitems = 0;
		if (n->has_in) {
			for (int i = 0; i < n->nwords; i++)
				expand_fields(n->words[i], &items, &nitems);
		} else {
			for (int i = 0; i < sh.nparams; i++) {
				items = xrealloc(items, (nitems + 2) * sizeof *items);
				items[nitems++] = xstrdup(sh.params[i]);
			}
		}
		sh.loop_depth++;
		for (int i = 0; i < nitems; i++) {
			var_set(n->name, items[i], 0);
			st = run_node(n->kids[0]);
			if (stop_flow() && loop_control())
				break;
		}
		sh.loop_depth--;
		for (int i = 0; i < nitems; i++)
			free(items[i]);
		free(items);
		break;
	}
	case N_CASE: {
		char *subject = expand_string(n->name);
		for (int i = 0; i < n->nkids; i++) {
			struct node *item = n->kids[i];
			int match = 0;
			for (int k = 0; k < item->nwords && !match; k++) {
				char *pat = expand_pattern(item->words[k]);
				match = fnmatch(pat, subject, 0) == 0;
				free(pat);
			}
			if (match) {
				st = item->kids[0] ? run_node(item->kids[0]) : 0;
				break;
			}
		}
		free(subject);
		break;
	}
	case N_GROUP:
		st = run_node(n->kids[0]);
		break;
	case N_SUBSHELL:
		sh_error("subshells need fork(), which this no-MMU machine does not have");
		st = 2;
		break;
	case N_FUNC:
		func_define(n->name, n);
		break;
	}
	return st;
}

int run_node(struct node *n)
{
	int *saved = NULL, nsaved = 0, st;
	if (!n)
		return 0;
	if (n->redirs && n->type != N_CMD && n->type != N_FUNC && n->type != N_SUBSHELL) {
		if (apply_redirs_saved(n->redirs, &saved, &nsaved) < 0) {
			restore_redirs(saved, nsaved);
			return sh.status = 1;
		}
		st = run_inner(n);
		restore_redirs(saved, nsaved);
	} else {
		st = run_inner(n);
	}
	return sh.status = st;
}

/* Parses and runs commands from in until its end. */
void run_input(struct input *in)
{
	for (;;) {
		reap_jobs(sh.interactive);
		if (sh.interactive)
			set_prompt_signals(1);
		int st;
		struct node *n = parse_command(in, &st);
		if (sh.interactive)
			set_prompt_signals(0);
		if (st == 1)
			break;
		if (st == 3) {
			sh.status = 130;
			write(2, "\n", 1);
			continue;
		}
		if (st == 2) {
			sh.status = 2;
			if (!sh.interactive)
				sh_exit(2);
			continue;
		}
		sh.got_sigint = 0;
		if (n && !sh.noexec)
			run_node(n);
		free_node(n);
	}
}

/* eval and "." : runs text in this shell; returns the last status. */
int run_text(const char *text, const char *what)
{
	struct input in;
	int st, status = 0;
	in_init_string(&in, text);
	for (;;) {
		struct node *n = parse_command(&in, &st);
		if (st == 1)
			break;
		if (st >= 2) {
			status = 2;
			break;
		}
		if (n)
			status = run_node(n);
		free_node(n);
		if (stop_flow())
			break;
	}
	in_free(&in);
	(void)what;
	return status;
}

void sh_exit(int status)
{
	fflush(stdout);
	exit(status);
}
