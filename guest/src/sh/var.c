/*
 * var.c - shell variables, functions, and the text that recreates them in a
 * re-executed copy of the shell.
 *
 * Variables live in a simple list (a shell has tens of them). The
 * environment of a command is built fresh from the exported ones for each
 * execve, so the shell never calls setenv.
 */
#include "sh.h"

struct var {
	struct var *next;
	char *name;
	char *value;
	int exported;
};

static struct var *vars;
static struct func *funcs;

int valid_name(const char *s, size_t n)
{
	if (n == 0 || !(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

static struct var *find(const char *name)
{
	for (struct var *v = vars; v; v = v->next)
		if (strcmp(v->name, name) == 0)
			return v;
	return NULL;
}

const char *var_get(const char *name)
{
	struct var *v = find(name);
	return v ? v->value : NULL;
}

/* export: 1 to export, 0 to leave the flag as it is. */
void var_set(const char *name, const char *value, int export)
{
	struct var *v = find(name);
	if (!v) {
		v = calloc(1, sizeof *v);
		v->name = xstrdup(name);
		v->next = vars;
		vars = v;
	}
	char *copy = xstrdup(value);
	free(v->value);
	v->value = copy;
	if (export)
		v->exported = 1;
}

void var_unset(const char *name)
{
	for (struct var **p = &vars; *p; p = &(*p)->next) {
		if (strcmp((*p)->name, name) == 0) {
			struct var *v = *p;
			*p = v->next;
			free(v->name);
			free(v->value);
			free(v);
			return;
		}
	}
}

int var_is_exported(const char *name)
{
	struct var *v = find(name);
	return v && v->exported;
}

/* Marks name exported; an unset variable is created empty. */
void var_export(const char *name)
{
	struct var *v = find(name);
	if (!v)
		var_set(name, "", 1);
	else
		v->exported = 1;
}

void var_import(char **env)
{
	for (; env && *env; env++) {
		char *eq = strchr(*env, '=');
		if (!eq || !valid_name(*env, eq - *env))
			continue;
		char *name = xstrndup(*env, eq - *env);
		var_set(name, eq + 1, 1);
		free(name);
	}
}

/* The environment for execve: exported variables, overridden by extra
 * ("NAME=value" strings for this command only). Freed with free() on the
 * array only: the strings of exported variables are built here too. */
char **var_environ(char **extra, int nextra)
{
	int n = nextra;
	for (struct var *v = vars; v; v = v->next)
		n += v->exported;
	char **env = xmalloc((n + 1) * sizeof *env);
	int k = 0;
	for (int i = 0; i < nextra; i++)
		env[k++] = extra[i];
	for (struct var *v = vars; v; v = v->next) {
		if (!v->exported)
			continue;
		size_t len = strlen(v->name);
		int overridden = 0;
		for (int i = 0; i < nextra; i++)
			if (strncmp(extra[i], v->name, len) == 0 && extra[i][len] == '=')
				overridden = 1;
		if (overridden)
			continue;
		char *s = xmalloc(len + strlen(v->value) + 2);
		sprintf(s, "%s=%s", v->name, v->value);
		env[k++] = s;
	}
	env[k] = NULL;
	return env;
}

/* 'text' with embedded single quotes written as '\'' . */
char *shell_quote(const char *s)
{
	struct str b = {0};
	str_addc(&b, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			str_adds(&b, "'\\''");
		else
			str_addc(&b, *s);
	}
	str_addc(&b, '\'');
	return str_take(&b);
}

static int compare_vars(const void *a, const void *b)
{
	return strcmp((*(struct var *const *)a)->name, (*(struct var *const *)b)->name);
}

/* `set` (all variables) or `export -p` (exported ones), sorted by name. */
void var_print(int exported_only)
{
	int n = 0, k = 0;
	for (struct var *v = vars; v; v = v->next)
		n++;
	struct var **all = xmalloc((n + 1) * sizeof *all);
	for (struct var *v = vars; v; v = v->next)
		if (!exported_only || v->exported)
			all[k++] = v;
	qsort(all, k, sizeof *all, compare_vars);
	for (int i = 0; i < k; i++) {
		char *q = shell_quote(all[i]->value);
		printf("%s%s=%s\n", exported_only ? "export " : "", all[i]->name, q);
		free(q);
	}
	free(all);
}

/* Shell text that recreates what a copy of this shell would not inherit
 * through execve: unexported variables, functions and options. */
char *var_prelude(void)
{
	struct str b = {0};
	for (struct var *v = vars; v; v = v->next) {
		if (v->exported || !strcmp(v->name, "PS1") || !strcmp(v->name, "PS2") || !strcmp(v->name, "PPID"))
			continue;
		char *q = shell_quote(v->value);
		str_adds(&b, v->name);
		str_addc(&b, '=');
		str_adds(&b, q);
		str_addc(&b, '\n');
		free(q);
	}
	for (struct func *f = funcs; f; f = f->next) {
		str_adds(&b, f->body->src);
		str_addc(&b, '\n');
	}
	if (sh.errexit)
		str_adds(&b, "set -e\n");
	if (sh.noglob)
		str_adds(&b, "set -f\n");
	if (sh.xtrace)
		str_adds(&b, "set -x\n");
	str_addc(&b, 0);
	return str_take(&b);
}

struct func *func_find(const char *name)
{
	for (struct func *f = funcs; f; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

/* body is the N_FUNC node; it is kept for good (never freed). */
void func_define(const char *name, struct node *body)
{
	struct func *f = func_find(name);
	body->kept = 1;
	if (!f) {
		f = calloc(1, sizeof *f);
		f->name = xstrdup(name);
		f->next = funcs;
		funcs = f;
	}
	f->body = body;
}

int func_unset(const char *name)
{
	for (struct func **p = &funcs; *p; p = &(*p)->next) {
		if (strcmp((*p)->name, name) == 0) {
			struct func *f = *p;
			*p = f->next;
			free(f->name);
			free(f);
			return 0;
		}
	}
	return 1;
}
