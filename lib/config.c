/*
 * config.c - load and check the ticketd configuration file (libconfig).
 *
 * The tables below are the whole interface: for every key they give the
 * type, the field it fills, the default, the bounds and whether it is
 * required.  One generic walker applies them to the libconfig tree, so every
 * key is parsed, defaulted and range-checked the same way; the few settings
 * that are not plain values (lists of queues and staff, templates, "after",
 * "autoclose") have small parser functions of their own.
 *
 * Nothing stops at the first problem: every error is collected with the file
 * and line of the setting concerned and returned together, sorted by line,
 * so one run of "ticketd -t" shows everything to fix.  Relative paths are
 * taken relative to the directory of the config file, which is also where
 * @include looks.
 *
 * (The file is longer than most modules because the tables and the checks of
 * one file format belong together.)
 */
#include "config.h"

#include "address.h"

#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define CONFIG_SECRET_MAX (64 * 1024)

enum config_type {
	CT_STRING,   /* char * */
	CT_PATH,     /* char *, made absolute against the config file's directory */
	CT_SECRET,   /* a CT_PATH naming a private, non-empty regular file */
	CT_CHOICE,   /* char *, one of .choices ("a|b|c") */
	CT_INT,      /* int */
	CT_LONG,     /* long */
	CT_BOOL,     /* bool */
	CT_DURATION, /* long, seconds: "90s" "30m" "1h" "7d" "2w" or an integer */
	CT_SIZE,     /* size_t, bytes: "512" "64k" "10M" "1G" or an integer */
	CT_STRLIST,  /* char **, NULL-terminated; an array or list of strings */
	CT_GROUP,    /* a group whose .children fill the same struct */
	CT_CUSTOM,   /* parsed by .fn, which also gets s == NULL when absent */
};

#define CF_REQUIRED 0x01 /* must be present (inside a group that is present) */
#define CF_LOWER    0x02 /* lower-cased */
#define CF_ADDRESS  0x04 /* must pass the address rule (address.h) */
#define CF_EMPTY_OK 0x08 /* "" is a valid string */
#define CF_KEEP     0x10 /* CT_SECRET: read the contents into cfg->secret */

struct config_ctx;
struct config_def;

/* For CT_CUSTOM: parses s (NULL: absent, apply the default).  For other
 * types: an extra check run after the value was stored. */
typedef void config_fn(struct config_ctx *ctx, const struct config_def *d,
		       const config_setting_t *s, const char *key, void *base);

struct config_def {
	const char *name;
	enum config_type type;
	size_t offset; /* of the field in the struct being filled */
	unsigned flags;
	const char *def;     /* default, written as in the file; NULL: none */
	long min, max;       /* bounds of numbers when min < max */
	const char *choices; /* CT_CHOICE: "a|b"; CT_STRING: allowed chars ("a-z0-9_-") */
	const struct config_def *children;
	config_fn *fn;
	/* CT_SECRET: when set, the file's first line (without its line break)
	 * goes into the char * field at this offset too (a passphrase) */
	size_t keep_line;
};

struct config_error {
	char *file;
	unsigned line;
	unsigned seq;
	char *text;
};

struct config_ctx {
	const char *path; /* as given to config_load() */
	char *dir;        /* absolute directory of the config file */
	struct ticketd_config *cfg;
	GPtrArray *errors; /* struct config_error * */
};

static char *config_abs_path(struct config_ctx *ctx, const char *path)
{
	if (g_path_is_absolute(path))
		return g_strdup(path);
	return g_build_filename(ctx->dir, path, NULL);
}

static void config_error_free(void *p)
{
	struct config_error *e = p;

	g_free(e->file);
	g_free(e->text);
	g_free(e);
}

static void config_error(struct config_ctx *ctx, const config_setting_t *s, const char *key,
			 const char *fmt, ...) G_GNUC_PRINTF(4, 5);

/* Records "FILE:LINE: KEY: message" for setting s (NULL: the file itself). */
static void config_error(struct config_ctx *ctx, const config_setting_t *s, const char *key,
			 const char *fmt, ...)
{
	struct config_error *e = g_new0(struct config_error, 1);
	const char *file = s != NULL ? config_setting_source_file(s) : NULL;
	char *msg;
	va_list ap;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	/* libconfig names an @include file as written; it was found in ctx->dir. */
	if (file == NULL || strcmp(file, ctx->path) == 0)
		e->file = g_strdup(ctx->path);
	else
		e->file = config_abs_path(ctx, file);
	e->line = s != NULL ? config_setting_source_line(s) : 0;
	e->seq = ctx->errors->len;
	if (e->line > 0)
		e->text = g_strdup_printf("%s:%u: %s: %s", e->file, e->line, key, msg);
	else
		e->text = g_strdup_printf("%s: %s: %s", e->file, key, msg);
	g_free(msg);
	g_ptr_array_add(ctx->errors, e);
}

static gint config_error_cmp(gconstpointer a, gconstpointer b, gpointer data)
{
	const struct config_error *x = *(struct config_error *const *)a;
	const struct config_error *y = *(struct config_error *const *)b;
	const char *main_file = data;
	int c = strcmp(x->file, y->file);

	if (c != 0) {
		if (strcmp(x->file, main_file) == 0)
			return -1;
		if (strcmp(y->file, main_file) == 0)
			return 1;
		return c;
	}
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static char *config_key(const char *path, const char *name)
{
	return *path == '\0' ? g_strdup(name) : g_strdup_printf("%s.%s", path, name);
}

static const char *config_type_text(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP:
		return "a group { ... }";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a floating-point number";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean (true or false)";
	case CONFIG_TYPE_ARRAY:
		return "an array [ ... ]";
	case CONFIG_TYPE_LIST:
		return "a list ( ... )";
	}
	return "nothing";
}

/* Checks the type of s; reports "expected X, got Y" otherwise. */
static bool config_is(struct config_ctx *ctx, const config_setting_t *s, const char *key, int type)
{
	int got = config_setting_type(s);

	if (got == type || (type == CONFIG_TYPE_INT && got == CONFIG_TYPE_INT64))
		return true;
	config_error(ctx, s, key, "expected %s, got %s", config_type_text(type),
		     config_type_text(got));
	return false;
}

/* Whether every byte of s (non-empty) is in class, e.g. "a-z0-9._-". */
static bool config_chars_ok(const char *s, const char *class)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		bool hit = false;
		for (const char *c = class; *c != '\0' && !hit; c++) {
			if (c[1] == '-' && c[2] != '\0') {
				hit = *s >= c[0] && *s <= c[2];
				c += 2;
			} else {
				hit = *s == *c;
			}
		}
		if (!hit)
			return false;
	}
	return true;
}

/* Unit tables shared by parsing and by the bounds in error messages. */
struct config_unit {
	char unit;
	long mult;
};
static const struct config_unit config_duration_units[] = {
	{ 'w', 604800 }, { 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 }, { 0, 0 },
};
static const struct config_unit config_size_units[] = {
	{ 'G', 1L << 30 }, { 'M', 1L << 20 }, { 'K', 1L << 10 }, { 'k', 1L << 10 }, { 0, 0 },
};

/* Digits with one optional unit letter; unsigned, no junk, no overflow. */
static int config_parse_units(const char *text, const struct config_unit *units,
			      unsigned long long max, unsigned long long *value_r)
{
	unsigned long long n = 0, mult = 1;
	const char *p = text;

	if (text == NULL || !g_ascii_isdigit(*p))
		return -1;
	for (; g_ascii_isdigit(*p); p++) {
		unsigned digit = (unsigned)(*p - '0');
		if (n > (max - digit) / 10)
			return -1;
		n = n * 10 + digit;
	}
	if (*p != '\0') {
		const struct config_unit *u = units;
		while (u->unit != 0 && u->unit != *p)
			u++;
		if (u->unit == 0 || p[1] != '\0')
			return -1;
		mult = (unsigned long long)u->mult;
	}
	if (n > max / mult)
		return -1;
	*value_r = n * mult;
	return 0;
}

int config_parse_duration(const char *text, long *seconds_r)
{
	unsigned long long v;

	if (config_parse_units(text, config_duration_units, LONG_MAX, &v) < 0)
		return -1;
	*seconds_r = (long)v;
	return 0;
}

int config_parse_size(const char *text, size_t *bytes_r)
{
	unsigned long long v;

	if (config_parse_units(text, config_size_units, SIZE_MAX, &v) < 0)
		return -1;
	*bytes_r = (size_t)v;
	return 0;
}

/* "3600" → "1h": the largest unit that divides n. */
static char *config_units_text(long n, const struct config_unit *units)
{
	for (const struct config_unit *u = units; n != 0 && u->unit != 0; u++)
		if (n % u->mult == 0)
			return g_strdup_printf("%ld%c", n / u->mult, u->unit);
	return g_strdup_printf("%ld", n);
}

/* OpenSMTPD's check_file_secrecy, for us: a secret must be a non-empty
 * regular file that neither group nor others may access.  With data_r, the
 * contents are returned, without one trailing newline. */
static int config_secret_file(const char *path, char **data_r, size_t *len_r, char **error_r)
{
	struct stat st;
	GString *buf = NULL;
	char chunk[4096];
	ssize_t n;
	int fd, ret = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		error_set(error_r, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		error_set(error_r, "cannot stat %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		error_set(error_r, "%s is not a regular file", path);
		goto out;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		error_set(error_r,
			  "%s is accessible by group or others (mode %04o); a secret must be "
			  "private: chmod 600 %s",
			  path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if (st.st_size == 0 || st.st_size > CONFIG_SECRET_MAX) {
		error_set(error_r, st.st_size == 0 ? "%s is empty" : "%s is too large", path);
		goto out;
	}
	if (data_r == NULL) {
		ret = 0;
		goto out;
	}
	buf = g_string_sized_new((gsize)st.st_size + 1);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || buf->len + (size_t)n > CONFIG_SECRET_MAX) {
			error_set(error_r, "cannot read %s: %s", path,
				  n < 0 ? strerror(errno) : "too large");
			goto out;
		}
		g_string_append_len(buf, chunk, n);
	}
	if (buf->len > 0 && buf->str[buf->len - 1] == '\n')
		g_string_truncate(buf, buf->len - 1);
	if (buf->len > 0 && buf->str[buf->len - 1] == '\r')
		g_string_truncate(buf, buf->len - 1);
	if (buf->len == 0) {
		error_set(error_r, "%s is empty", path);
		goto out;
	}
	*len_r = buf->len;
	*data_r = g_string_free(buf, FALSE);
	buf = NULL;
	ret = 0;
out:
	if (buf != NULL) {
		explicit_bzero(buf->str, buf->len);
		g_string_free(buf, TRUE);
	}
	explicit_bzero(chunk, sizeof(chunk));
	close(fd);
	return ret;
}

static void config_parse_group(struct config_ctx *ctx, const config_setting_t *group,
			       const char *path, const struct config_def *defs, void *base);

/* A string value: checks and stores it as the type and flags of d say. */
static bool config_store_string(struct config_ctx *ctx, const struct config_def *d,
				const config_setting_t *s, const char *key, char **field,
				void *base)
{
	const char *str = config_setting_get_string(s);
	char *value, *error = NULL;

	if (*str == '\0' && !(d->flags & CF_EMPTY_OK)) {
		config_error(ctx, s, key, "must not be empty");
		return false;
	}
	if (d->type == CT_STRING && d->choices != NULL && !config_chars_ok(str, d->choices)) {
		config_error(ctx, s, key, "'%s' is not valid: use only the characters [%s]", str,
			     d->choices);
		return false;
	}
	if (d->flags & CF_ADDRESS) {
		char *why = NULL;

		if (address_check(str, &why) < 0) {
			config_error(ctx, s, key, "'%s' is not an email address: %s", str, why);
			g_free(why);
			return false;
		}
	}
	if (d->type == CT_CHOICE) {
		char **choices = g_strsplit(d->choices, "|", -1);
		bool found = g_strv_contains((const char *const *)choices, str);
		char *list = g_strjoinv(", ", choices);

		if (!found)
			config_error(ctx, s, key, "'%s' is not one of: %s", str, list);
		g_strfreev(choices);
		g_free(list);
		if (!found)
			return false;
	}
	if (d->type == CT_PATH || d->type == CT_SECRET)
		value = config_abs_path(ctx, str);
	else if ((d->flags & CF_LOWER) && (d->flags & CF_ADDRESS))
		/* our own addresses, compared with everything that comes in:
		 * the matching form (lower-cased, UTF-8 too; needless quotes gone) */
		value = address_key(str);
	else if (d->flags & CF_LOWER)
		value = g_ascii_strdown(str, -1);
	else
		value = g_strdup(str);
	if (d->type == CT_SECRET) {
		struct ticketd_config *cfg = ctx->cfg;
		bool keep = (d->flags & CF_KEEP) != 0;

		char *contents = NULL;
		size_t clen = 0;

		if (config_secret_file(value, keep ? &cfg->secret : &contents,
				       keep ? &cfg->secret_len : &clen, &error) < 0) {
			config_error(ctx, s, key, "%s", error);
			g_free(error);
			g_free(value);
			return false;
		}
		if (d->keep_line != 0 && contents != NULL) {
			char **line = (char **)((char *)base + d->keep_line);
			size_t n = strcspn(contents, "\r\n");

			if (memchr(contents, '\0', clen) != NULL || n == 0) {
				config_error(ctx, s, key,
					     "%s: must hold the passphrase on its first line",
					     value);
				explicit_bzero(contents, clen);
				g_free(contents);
				g_free(value);
				return false;
			}
			g_free(*line);
			*line = g_strndup(contents, n);
		}
		if (contents != NULL)
			explicit_bzero(contents, clen);
		g_free(contents);
	}
	g_free(*field);
	*field = value;
	return true;
}

/* An integer setting (INT or INT64) into *n_r. */
static bool config_get_integer(struct config_ctx *ctx, const config_setting_t *s, const char *key,
			       long long *n_r)
{
	if (!config_is(ctx, s, key, CONFIG_TYPE_INT))
		return false;
	*n_r = config_setting_type(s) == CONFIG_TYPE_INT64 ? config_setting_get_int64(s)
							   : config_setting_get_int(s);
	return true;
}

/* A duration or size: an integer (seconds, bytes) or a string with a unit. */
static bool config_get_amount(struct config_ctx *ctx, const struct config_def *d,
			      const config_setting_t *s, const char *key, long long *n_r)
{
	bool duration = d->type == CT_DURATION;
	const char *str;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		long secs;
		size_t bytes;

		str = config_setting_get_string(s);
		if (duration ? config_parse_duration(str, &secs) == 0
			     : config_parse_size(str, &bytes) == 0) {
			*n_r = duration ? secs : (long long)MIN(bytes, (size_t)LLONG_MAX);
			return true;
		}
		config_error(ctx, s, key,
			     duration ? "'%s' is not a duration (write 90s, 30m, 1h, 7d or 2w)"
				      : "'%s' is not a size (write 512, 64k, 10M or 1G)",
			     str);
		return false;
	}
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64) {
		config_error(ctx, s, key, "expected %s, got %s",
			     duration ? "a duration such as \"90s\", \"30m\", \"1h\", \"7d\""
				      : "a size such as \"512\", \"64k\", \"10M\", \"1G\"",
			     config_type_text(config_setting_type(s)));
		return false;
	}
	if (!config_get_integer(ctx, s, key, n_r))
		return false;
	if (*n_r < 0) {
		config_error(ctx, s, key, "must not be negative");
		return false;
	}
	return true;
}

/* An array or list of strings. */
static bool config_get_strlist(struct config_ctx *ctx, const config_setting_t *s, const char *key,
			       char ***field)
{
	GPtrArray *v;
	bool good = true;
	int type = config_setting_type(s);

	if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST) {
		config_error(ctx, s, key, "expected an array of strings [ \"...\", ... ], got %s",
			     config_type_text(type));
		return false;
	}
	v = g_ptr_array_new();
	for (int i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			config_error(ctx, e, key, "element %d: expected a string, got %s", i + 1,
				     config_type_text(config_setting_type(e)));
			good = false;
			continue;
		}
		g_ptr_array_add(v, g_strdup(config_setting_get_string(e)));
	}
	g_ptr_array_add(v, NULL);
	g_strfreev(*field);
	*field = (char **)g_ptr_array_free(v, FALSE);
	return good;
}

/* A present setting s of definition d. */
static void config_value(struct config_ctx *ctx, const struct config_def *d,
			 const config_setting_t *s, const char *key, void *base)
{
	void *field = (char *)base + d->offset;
	long long n;

	switch (d->type) {
	case CT_GROUP:
		if (config_is(ctx, s, key, CONFIG_TYPE_GROUP))
			config_parse_group(ctx, s, key, d->children, base);
		return;
	case CT_CUSTOM:
		d->fn(ctx, d, s, key, base);
		return;
	case CT_STRLIST:
		if (!config_get_strlist(ctx, s, key, field))
			return;
		break;
	case CT_BOOL:
		if (!config_is(ctx, s, key, CONFIG_TYPE_BOOL))
			return;
		*(bool *)field = config_setting_get_bool(s) != 0;
		break;
	case CT_INT:
	case CT_LONG:
	case CT_DURATION:
	case CT_SIZE:
		if (d->type == CT_INT || d->type == CT_LONG
			    ? !config_get_integer(ctx, s, key, &n)
			    : !config_get_amount(ctx, d, s, key, &n))
			return;
		if (d->min < d->max && (n < d->min || n > d->max)) {
			const struct config_unit *u = d->type == CT_DURATION ? config_duration_units
						      : d->type == CT_SIZE   ? config_size_units
									     : NULL;
			char *lo = u != NULL ? config_units_text(d->min, u)
					     : g_strdup_printf("%ld", d->min);
			char *hi = u != NULL ? config_units_text(d->max, u)
					     : g_strdup_printf("%ld", d->max);

			config_error(ctx, s, key, "%lld is out of range: must be between %s and %s",
				     n, lo, hi);
			g_free(lo);
			g_free(hi);
			return;
		}
		if (d->type == CT_INT)
			*(int *)field = (int)n;
		else if (d->type == CT_SIZE)
			*(size_t *)field = (size_t)n;
		else
			*(long *)field = (long)n;
		break;
	default:
		if (!config_is(ctx, s, key, CONFIG_TYPE_STRING) ||
		    !config_store_string(ctx, d, s, key, field, base))
			return;
	}
	if (d->fn != NULL)
		d->fn(ctx, d, s, key, base);
}

/* An absent setting of definition d: its default. */
static void config_default(struct config_ctx *ctx, const struct config_def *d, const char *key,
			   void *base)
{
	void *field = (char *)base + d->offset;

	if (d->type == CT_GROUP) {
		config_parse_group(ctx, NULL, key, d->children, base);
		return;
	}
	if (d->type == CT_CUSTOM) {
		d->fn(ctx, d, NULL, key, base);
		return;
	}
	if (d->def == NULL)
		return;
	switch (d->type) {
	case CT_BOOL:
		*(bool *)field = strcmp(d->def, "true") == 0;
		break;
	case CT_INT:
		*(int *)field = atoi(d->def);
		break;
	case CT_LONG:
		*(long *)field = atol(d->def);
		break;
	case CT_DURATION:
		config_parse_duration(d->def, field);
		break;
	case CT_SIZE:
		config_parse_size(d->def, field);
		break;
	case CT_STRLIST:
		*(char ***)field = g_strsplit(d->def, ",", -1);
		break;
	default:
		*(char **)field = g_strdup(d->def);
	}
}

/* Applies defs to group (NULL: the group is absent, defaults only). */
static void config_parse_group(struct config_ctx *ctx, const config_setting_t *group,
			       const char *path, const struct config_def *defs, void *base)
{
	for (int i = 0; group != NULL && i < config_setting_length(group); i++) {
		const config_setting_t *m = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(m);
		const struct config_def *d = defs;

		while (d->name != NULL && strcmp(d->name, name) != 0)
			d++;
		if (d->name == NULL) {
			char *key = config_key(path, name);
			config_error(ctx, m, key, "unknown key '%s' in %s", name,
				     *path != '\0' ? path : "the top level");
			g_free(key);
		}
	}
	for (const struct config_def *d = defs; d->name != NULL; d++) {
		const config_setting_t *s =
			group != NULL ? config_setting_get_member(group, d->name) : NULL;
		char *key = config_key(path, d->name);

		if (s != NULL)
			config_value(ctx, d, s, key, base);
		else if (group != NULL && (d->flags & CF_REQUIRED))
			config_error(ctx, group, key, "required setting is missing");
		else
			config_default(ctx, d, key, base);
		g_free(key);
	}
}

/* "queues.support" when the element has a usable name, else "queues.[0]". */
static char *config_elem_key(const char *path, const config_setting_t *e, int i,
			     const char *name_key)
{
	const config_setting_t *n =
		config_setting_is_group(e) ? config_setting_get_member(e, name_key) : NULL;
	const char *name = n != NULL ? config_setting_get_string(n) : NULL;

	if (name != NULL && config_chars_ok(name, "A-Za-z0-9._-"))
		return g_strdup_printf("%s.%s", path, name);
	return g_strdup_printf("%s.[%d]", path, i);
}

/* The line of member name of group e, for errors about its value. */
static const config_setting_t *config_member_or(const config_setting_t *e, const char *name)
{
	const config_setting_t *m = config_setting_get_member(e, name);

	return m != NULL ? m : e;
}

static bool config_url_has_scheme(const char *url, const char *scheme)
{
	return g_ascii_strncasecmp(url, scheme, strlen(scheme)) == 0;
}

/* Checks *url against network schemes ("imap://", needing a host) and local
 * ones ("maildir:", needing a path, made absolute and stored back). */
static void config_check_url(struct config_ctx *ctx, const config_setting_t *s, const char *key,
			     char **url, const char *const *net, const char *const *local,
			     const char *expected)
{
	for (size_t i = 0; net[i] != NULL; i++) {
		if (config_url_has_scheme(*url, net[i])) {
			const char *host = *url + strlen(net[i]);
			char *lower;

			if (*host == '\0' || *host == '/' || *host == ':') {
				config_error(ctx, s, key, "'%s' names no host", *url);
				return;
			}
			/* The scheme in lower case, so users may compare it. */
			lower = g_strconcat(net[i], host, NULL);
			g_free(*url);
			*url = lower;
			return;
		}
	}
	for (size_t i = 0; local[i] != NULL; i++) {
		if (config_url_has_scheme(*url, local[i])) {
			const char *path = *url + strlen(local[i]);
			char *abs;

			if (*path == '\0' || strncmp(path, "//", 2) == 0) {
				config_error(ctx, s, key, "'%s': write %s/path/to/it", *url,
					     local[i]);
				return;
			}
			abs = config_abs_path(ctx, path);
			g_free(*url);
			*url = g_strconcat(local[i], abs, NULL);
			g_free(abs);
			return;
		}
	}
	config_error(ctx, s, key, "'%s' is not supported: use %s", *url, expected);
}

static void config_check_transport_url(struct config_ctx *ctx, const struct config_def *d,
				       const config_setting_t *s, const char *key, void *base)
{
	static const char *const net[] = { "smtp://", "smtps://", NULL };
	static const char *const local[] = { "sendmail:", "maildir:", NULL };

	config_check_url(
		ctx, s, key, (char **)((char *)base + d->offset), net, local,
		"smtp://host[:port], smtps://host[:port], sendmail:/path or maildir:/path");
}

static void config_check_mailbox_url(struct config_ctx *ctx, const struct config_def *d,
				     const config_setting_t *s, const char *key, void *base)
{
	static const char *const net[] = { "imap://", "imaps://", "pop3://", "pop3s://", NULL };
	static const char *const local[] = { "maildir:", "mbox:", NULL };

	config_check_url(ctx, s, key, (char **)((char *)base + d->offset), net, local,
			 "maildir:/path, mbox:/path, imap://, imaps://, pop3:// or pop3s://");
}

static void config_check_readable(struct config_ctx *ctx, const struct config_def *d,
				  const config_setting_t *s, const char *key, void *base)
{
	const char *path = *(char **)((char *)base + d->offset);

	if (access(path, R_OK) < 0)
		config_error(ctx, s, key, "cannot read %s: %s", path, strerror(errno));
}

/* Our own key pairs are named by their whole fingerprint (40 or 64 hex
 * digits; blanks and a leading 0x do not matter): a short key id could
 * name somebody else's key imported into the same home. */
static void config_check_fingerprint(struct config_ctx *ctx, const struct config_def *d,
				     const config_setting_t *s, const char *key, void *base)
{
	const char *v = *(char **)((char *)base + d->offset);
	size_t digits = 0;
	bool bad = false;

	if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X'))
		v += 2;
	for (; *v != '\0'; v++) {
		if (g_ascii_isxdigit(*v))
			digits++;
		else if (*v != ' ' && *v != '\t')
			bad = true;
	}
	if (bad || (digits != 40 && digits != 64))
		config_error(ctx, s, key,
			     "must be a key's whole fingerprint (40 or 64 hex digits)");
}

static void config_check_staff_auth(struct config_ctx *ctx, const struct config_def *d,
				    const config_setting_t *s, const char *key, void *base)
{
	char **v = *(char ***)((char *)base + d->offset);
	size_t n = g_strv_length(v);

	if (n == 0)
		config_error(ctx, s, key,
			     "must name at least one of \"pgp\", \"authres\", \"none\"");
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		if (strcmp(v[i], "pgp") != 0 && strcmp(v[i], "authres") != 0 &&
		    strcmp(v[i], "none") != 0)
			config_error(ctx, e, key, "'%s' is not one of: pgp, authres, none", v[i]);
		else if (strcmp(v[i], "none") == 0 && n > 1)
			config_error(ctx, e, key, "\"none\" cannot be combined with other methods");
	}
}

/* A staff member's own auth list: the daemon's rules, and each method must
 * be able to hold for this member. */
static void config_check_member_auth(struct config_ctx *ctx, const struct config_def *d,
				     const config_setting_t *s, const char *key, void *base)
{
	const struct config_staff *st = base;

	config_check_staff_auth(ctx, d, s, key, base);
	for (size_t i = 0; st->auth[i] != NULL; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		if (strcmp(st->auth[i], "pgp") == 0 && st->pgp_key == NULL)
			config_error(ctx, e, key, "\"pgp\" needs this member's pgp_key");
		else if (strcmp(st->auth[i], "authres") == 0 && ctx->cfg->authserv_id == NULL)
			config_error(ctx, e, key, "\"authres\" needs daemon.authserv_id");
	}
}

static void config_check_notify(struct config_ctx *ctx, const struct config_def *d,
				const config_setting_t *s, const char *key, void *base)
{
	const char *v = *(char **)((char *)base + d->offset);

	if (strcmp(v, "admins") != 0 && strcmp(v, "all") != 0 && strcmp(v, "queue") != 0 &&
	    strcmp(v, "none") != 0 && !address_valid(v))
		config_error(ctx, s, key,
			     "'%s' is not one of: admins, queue (or all), none, or an address", v);
}

/* Every name in a staff member's queues must be a queue defined above. */
static void config_check_staff_queues(struct config_ctx *ctx, const struct config_def *d,
				      const config_setting_t *s, const char *key, void *base)
{
	char **v = *(char ***)((char *)base + d->offset);

	for (size_t i = 0; v[i] != NULL; i++)
		if (config_queue_by_name(ctx->cfg, v[i]) == NULL)
			config_error(ctx, config_setting_get_elem(s, (unsigned)i), key,
				     "unknown queue '%s'", v[i]);
}

static void config_parse_role(struct config_ctx *ctx, const struct config_def *d,
			      const config_setting_t *s, const char *key, void *base)
{
	enum staff_role *role = (enum staff_role *)((char *)base + d->offset);
	const char *v;

	if (!config_is(ctx, s, key, CONFIG_TYPE_STRING))
		return;
	v = config_setting_get_string(s);
	if (strcmp(v, "admin") == 0)
		*role = STAFF_ROLE_ADMIN;
	else if (strcmp(v, "support") == 0)
		*role = STAFF_ROLE_SUPPORT;
	else
		config_error(ctx, s, key, "'%s' is not one of: admin, support", v);
}

/* "seen" | "delete" | "move:FOLDER" */
static void config_parse_after(struct config_ctx *ctx, const struct config_def *d,
			       const config_setting_t *s, const char *key, void *base)
{
	struct config_mailbox *mb = (struct config_mailbox *)((char *)base + d->offset);
	const char *v;

	mb->after = MAILBOX_AFTER_SEEN;
	if (s == NULL || !config_is(ctx, s, key, CONFIG_TYPE_STRING))
		return;
	v = config_setting_get_string(s);
	if (strcmp(v, "delete") == 0) {
		mb->after = MAILBOX_AFTER_DELETE;
	} else if (strncmp(v, "move:", 5) == 0 && v[5] != '\0') {
		mb->after = MAILBOX_AFTER_MOVE;
		mb->after_folder = g_strdup(v + 5);
	} else if (strcmp(v, "seen") != 0) {
		config_error(ctx, s, key, "'%s' is not one of: seen, delete, move:FOLDER", v);
	}
}

/* 0 (close when answered), -1 (never) or a duration after the answer. */
static void config_parse_autoclose(struct config_ctx *ctx, const struct config_def *d,
				   const config_setting_t *s, const char *key, void *base)
{
	long *autoclose = (long *)((char *)base + d->offset);
	int type = s != NULL ? config_setting_type(s) : CONFIG_TYPE_NONE;

	*autoclose = 0;
	if (type == CONFIG_TYPE_STRING) {
		if (config_parse_duration(config_setting_get_string(s), autoclose) < 0)
			config_error(ctx, s, key, "'%s' is not a duration (write 12h, 7d or 2w)",
				     config_setting_get_string(s));
	} else if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64) {
		long long n = type == CONFIG_TYPE_INT ? config_setting_get_int(s)
						      : config_setting_get_int64(s);
		if (n == 0 || n == -1)
			*autoclose = (long)n;
		else
			config_error(ctx, s, key,
				     "%lld is ambiguous: write 0 (close when answered), -1 (never) "
				     "or a duration such as \"7d\"",
				     n);
	} else if (s != NULL) {
		config_error(ctx, s, key, "expected 0, -1 or a duration such as \"7d\", got %s",
			     config_type_text(type));
	}
}

/* templates = { new_ticket = "file"; ... }: each file is loaded and checked;
 * kinds not named get the built-in template. */
static void config_parse_templates(struct config_ctx *ctx, const struct config_def *d,
				   const config_setting_t *s, const char *key, void *base)
{
	struct config_queue *q = base;

	if (s != NULL && !config_is(ctx, s, key, CONFIG_TYPE_GROUP))
		s = NULL;
	for (int i = 0; s != NULL && i < config_setting_length(s); i++) {
		const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(m);
		char *mkey = config_key(key, name), *path = NULL, *error = NULL;
		int k = 0;

		while (k < TEMPLATE_KIND_COUNT && strcmp(template_kind_names[k], name) != 0)
			k++;
		if (k == TEMPLATE_KIND_COUNT) {
			config_error(ctx, m, mkey,
				     "unknown key '%s' in %s (templates are new_ticket, closed, "
				     "answer, notification, refusal, escalation)",
				     name, key);
		} else if (config_is(ctx, m, mkey, CONFIG_TYPE_STRING)) {
			path = config_abs_path(ctx, config_setting_get_string(m));
			if (*config_setting_get_string(m) == '\0') {
				config_error(ctx, m, mkey, "must not be empty");
			} else if (template_load_file(path, &q->templates[k], &error) < 0) {
				char **lines = g_strsplit(error, "\n", -1);
				for (size_t j = 0; lines[j] != NULL; j++)
					config_error(ctx, m, mkey, "%s", lines[j]);
				g_strfreev(lines);
			} else {
				q->template_paths[k] = path;
				path = NULL;
			}
		}
		g_free(path);
		g_free(error);
		g_free(mkey);
	}
	for (int k = 0; k < TEMPLATE_KIND_COUNT; k++)
		if (q->templates[k] == NULL)
			q->templates[k] = template_builtin(k);
}

#define DEF(n, t, off) .name = (n), .type = (t), .offset = (off)
#define CFG(f)         offsetof(struct ticketd_config, f)
#define QUEUE(f)       offsetof(struct config_queue, f)
#define STAFF(f)       offsetof(struct config_staff, f)

static const struct config_def config_database_defs[] = {
	{ DEF("conninfo", CT_STRING, CFG(conninfo)), .flags = CF_REQUIRED },
	{ 0 },
};

static const struct config_def config_autoresponse_defs[] = {
	{ DEF("count", CT_LONG, CFG(autoresponse_count)), .def = "5", .min = 0, .max = 10000 },
	{ DEF("per", CT_DURATION, CFG(autoresponse_per)), .def = "1h", .min = 60, .max = 604800 },
	{ 0 },
};

static const struct config_def config_daemon_defs[] = {
	{ DEF("poll_interval", CT_DURATION, CFG(poll_interval)), .def = "60s", .min = 1,
	  .max = 86400 },
	{ DEF("user", CT_STRING, CFG(user)) },
	{ DEF("tag", CT_STRING, CFG(tag)), .def = "Ticket", .choices = "A-Za-z0-9_-" },
	{ DEF("secret_file", CT_SECRET, CFG(secret_file)), .flags = CF_REQUIRED | CF_KEEP },
	{ DEF("autoresponse_limit", CT_GROUP, 0), .children = config_autoresponse_defs },
	{ DEF("max_message_size", CT_SIZE, CFG(max_message_size)), .def = "100M", .min = 1024,
	  .max = 1L << 30 },
	{ DEF("batch_size", CT_LONG, CFG(batch_size)), .def = "200", .min = 1, .max = 10000 },
	{ DEF("pid_file", CT_PATH, CFG(pid_file)) },
	{ DEF("staff_auth", CT_STRLIST, CFG(staff_auth)), .def = "pgp,authres",
	  .fn = config_check_staff_auth },
	{ DEF("authserv_id", CT_STRING, CFG(authserv_id)) },
	{ 0 },
};

static const struct config_def config_transport_defs[] = {
	{ DEF("url", CT_STRING, CFG(transport.url)), .flags = CF_REQUIRED,
	  .fn = config_check_transport_url },
	{ DEF("starttls", CT_CHOICE, CFG(transport.starttls)), .def = "required",
	  .choices = "required|optional|off" },
	{ DEF("user", CT_STRING, CFG(transport.user)) },
	{ DEF("password_file", CT_SECRET, CFG(transport.password_file)) },
	{ DEF("ca_file", CT_PATH, CFG(transport.ca_file)), .fn = config_check_readable },
	{ DEF("tls_verify", CT_BOOL, CFG(transport.tls_verify)), .def = "true" },
	{ DEF("timeout", CT_DURATION, CFG(transport.timeout)), .def = "60s", .min = 1,
	  .max = 3600 },
	{ DEF("sessions", CT_INT, CFG(transport.sessions)), .def = "1", .min = 1, .max = 16 },
	{ 0 },
};

static const struct config_def config_pgp_defs[] = {
	{ DEF("gnupg_home", CT_PATH, CFG(gnupg_home)) },
	{ DEF("key", CT_STRING, CFG(pgp_key)), .fn = config_check_fingerprint },
	{ DEF("passphrase_file", CT_SECRET, CFG(passphrase_file)),
	  .keep_line = CFG(pgp_passphrase) },
	{ 0 },
};

static const struct config_def config_queue_pgp_defs[] = {
	{ DEF("key", CT_STRING, QUEUE(pgp_key)), .flags = CF_REQUIRED,
	  .fn = config_check_fingerprint },
	{ DEF("passphrase_file", CT_SECRET, QUEUE(pgp_passphrase_file)),
	  .keep_line = QUEUE(pgp_passphrase) },
	{ 0 },
};

static const struct config_def config_mailbox_defs[] = {
	{ DEF("url", CT_STRING, QUEUE(mailbox.url)), .flags = CF_REQUIRED,
	  .fn = config_check_mailbox_url },
	{ DEF("user", CT_STRING, QUEUE(mailbox.user)) },
	{ DEF("password_file", CT_SECRET, QUEUE(mailbox.password_file)) },
	{ DEF("ca_file", CT_PATH, QUEUE(mailbox.ca_file)), .fn = config_check_readable },
	{ DEF("tls_verify", CT_BOOL, QUEUE(mailbox.tls_verify)), .def = "true" },
	{ DEF("after", CT_CUSTOM, QUEUE(mailbox)), .fn = config_parse_after },
	{ DEF("tls", CT_CHOICE, QUEUE(mailbox.tls)), .def = "optional",
	  .choices = "required|optional|off" },
	{ DEF("timeout", CT_DURATION, QUEUE(mailbox.timeout)), .def = "60s", .min = 1,
	  .max = 3600 },
	{ 0 },
};

static const struct config_def config_escalation_defs[] = {
	{ DEF("every", CT_DURATION, QUEUE(escalation_every)), .flags = CF_REQUIRED, .min = 60,
	  .max = 30 * 86400 },
	{ DEF("step", CT_INT, QUEUE(escalation_step)), .def = "5", .min = 1, .max = 98 },
	{ DEF("max", CT_INT, QUEUE(escalation_max)), .def = "99", .min = 1, .max = 99 },
	{ DEF("notify_at", CT_INT, QUEUE(escalation_notify_at)), .def = "0", .min = 0, .max = 99 },
	{ 0 },
};

static const struct config_def config_queue_defs[] = {
	{ DEF("name", CT_STRING, QUEUE(name)), .flags = CF_REQUIRED, .choices = "a-z0-9_-" },
	{ DEF("address", CT_STRING, QUEUE(address)), .flags = CF_REQUIRED | CF_LOWER | CF_ADDRESS },
	{ DEF("default", CT_BOOL, QUEUE(is_default)), .def = "false" },
	{ DEF("comment_address", CT_STRING, QUEUE(comment_address)),
	  .flags = CF_LOWER | CF_ADDRESS },
	{ DEF("from_name", CT_STRING, QUEUE(from_name)), .flags = CF_EMPTY_OK },
	{ DEF("envelope_from", CT_STRING, QUEUE(envelope_from)), .flags = CF_ADDRESS },
	{ DEF("mailbox", CT_GROUP, 0), .children = config_mailbox_defs },
	{ DEF("priority", CT_INT, QUEUE(priority)), .def = "50", .min = 1, .max = 99 },
	{ DEF("autoresponse", CT_BOOL, QUEUE(autoresponse)), .def = "true" },
	{ DEF("autoclose", CT_CUSTOM, QUEUE(autoclose)), .fn = config_parse_autoclose },
	{ DEF("closed_response", CT_BOOL, QUEUE(closed_response)), .def = "true" },
	{ DEF("escalation", CT_GROUP, 0), .children = config_escalation_defs },
	{ DEF("pgp", CT_GROUP, 0), .children = config_queue_pgp_defs },
	{ DEF("sticky", CT_BOOL, QUEUE(sticky)), .def = "false" },
	{ DEF("assign", CT_CHOICE, QUEUE(assign)), .def = "none", .choices = "none|least-loaded" },
	{ DEF("notify", CT_STRING, QUEUE(notify)), .def = "admins", .fn = config_check_notify },
	{ DEF("templates", CT_CUSTOM, 0), .fn = config_parse_templates },
	{ 0 },
};

static const struct config_def config_staff_defs[] = {
	{ DEF("login", CT_STRING, STAFF(login)), .flags = CF_REQUIRED, .choices = "a-z0-9._-" },
	{ DEF("name", CT_STRING, STAFF(name)), .flags = CF_REQUIRED },
	{ DEF("description", CT_STRING, STAFF(description)), .flags = CF_EMPTY_OK, .def = "" },
	{ DEF("email", CT_STRING, STAFF(email)), .flags = CF_REQUIRED | CF_LOWER | CF_ADDRESS },
	{ DEF("role", CT_CUSTOM, STAFF(role)), .flags = CF_REQUIRED, .fn = config_parse_role },
	{ DEF("queues", CT_STRLIST, STAFF(queues)), .def = "", .fn = config_check_staff_queues },
	{ DEF("signature", CT_STRING, STAFF(signature)), .flags = CF_EMPTY_OK, .def = "" },
	{ DEF("pgp_key", CT_STRING, STAFF(pgp_key)) },
	/* after pgp_key, which its check reads */
	{ DEF("auth", CT_STRLIST, STAFF(auth)), .fn = config_check_member_auth },
	{ DEF("available", CT_BOOL, STAFF(available)), .def = "true" },
	{ 0 },
};

/* Checks one queue against those before it: names, addresses, default. */
static void config_check_queue(struct config_ctx *ctx, size_t i, const config_setting_t *e,
			       const char *key)
{
	struct config_queue *q = &ctx->cfg->queues[i];

	if (q->from_name == NULL && q->name != NULL)
		q->from_name = g_strdup(q->name);
	if (q->envelope_from == NULL && q->address != NULL)
		q->envelope_from = g_strdup(q->address);
	if (q->mailbox.url != NULL && q->mailbox.after == MAILBOX_AFTER_MOVE &&
	    (g_str_has_prefix(q->mailbox.url, "pop3") ||
	     g_str_has_prefix(q->mailbox.url, "mbox:"))) {
		const config_setting_t *mbs = config_member_or(e, "mailbox");
		config_error(ctx, config_member_or(mbs, "after"), key,
			     "mailbox.after: a %s mailbox has no folders to move to",
			     g_str_has_prefix(q->mailbox.url, "pop3") ? "POP3" : "mbox");
	}
	if (q->address != NULL && q->comment_address != NULL &&
	    address_equal(q->address, q->comment_address))
		config_error(ctx, config_member_or(e, "comment_address"), key,
			     "comment_address is the queue's address");
	for (size_t j = 0; j < i; j++) {
		const struct config_queue *p = &ctx->cfg->queues[j];
		const char *mine[] = { q->address, q->comment_address };
		const char *fields[] = { "address", "comment_address" };

		if (q->name != NULL && p->name != NULL && strcmp(q->name, p->name) == 0)
			config_error(ctx, config_member_or(e, "name"), key,
				     "duplicate queue name '%s'", q->name);
		for (size_t k = 0; k < G_N_ELEMENTS(mine); k++)
			if (mine[k] != NULL &&
			    ((p->address != NULL && address_equal(mine[k], p->address)) ||
			     (p->comment_address != NULL &&
			      address_equal(mine[k], p->comment_address))))
				config_error(ctx, config_member_or(e, fields[k]), key,
					     "address '%s' is already used by queue '%s'", mine[k],
					     p->name != NULL ? p->name : "?");
		if (q->is_default && p->is_default)
			config_error(ctx, config_member_or(e, "default"), key,
				     "queue '%s' is already the default; only one queue may be",
				     p->name != NULL ? p->name : "?");
	}
}

static void config_parse_queues(struct config_ctx *ctx, const struct config_def *d,
				const config_setting_t *s, const char *key, void *base)
{
	struct ticketd_config *cfg = base;

	if (!config_is(ctx, s, key, CONFIG_TYPE_LIST))
		return;
	if (config_setting_length(s) == 0) {
		config_error(ctx, s, key, "at least one queue is required");
		return;
	}
	cfg->queue_count = (size_t)config_setting_length(s);
	cfg->queues = g_new0(struct config_queue, cfg->queue_count);
	for (size_t i = 0; i < cfg->queue_count; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		char *ekey = config_elem_key(key, e, (int)i, "name");

		if (config_is(ctx, e, ekey, CONFIG_TYPE_GROUP)) {
			config_parse_group(ctx, e, ekey, config_queue_defs, &cfg->queues[i]);
			config_check_queue(ctx, i, e, ekey);
		}
		g_free(ekey);
	}
	cfg->default_queue = &cfg->queues[0];
	for (size_t i = 0; i < cfg->queue_count; i++) {
		if (cfg->queues[i].is_default) {
			cfg->default_queue = &cfg->queues[i];
			break;
		}
	}
	cfg->default_queue->is_default = true;
}

static void config_parse_staff(struct config_ctx *ctx, const struct config_def *d,
			       const config_setting_t *s, const char *key, void *base)
{
	struct ticketd_config *cfg = base;
	size_t admins = 0;

	if (s == NULL) {
		config_error(ctx, NULL, key,
			     "missing: a config needs at least one staff member "
			     "with role \"admin\"");
		return;
	}
	if (!config_is(ctx, s, key, CONFIG_TYPE_LIST))
		return;
	cfg->staff_count = (size_t)config_setting_length(s);
	cfg->staff = g_new0(struct config_staff, cfg->staff_count);
	for (size_t i = 0; i < cfg->staff_count; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct config_staff *st = &cfg->staff[i];
		char *ekey = config_elem_key(key, e, (int)i, "login");

		/* Only a role written "admin" counts: the enum's 0 is admin. */
		st->role = STAFF_ROLE_SUPPORT;
		if (config_is(ctx, e, ekey, CONFIG_TYPE_GROUP)) {
			config_parse_group(ctx, e, ekey, config_staff_defs, st);
			if (st->role == STAFF_ROLE_ADMIN)
				admins++;
		}
		for (size_t j = 0; j < i; j++) {
			const struct config_staff *p = &cfg->staff[j];
			if (st->login != NULL && p->login != NULL &&
			    strcmp(st->login, p->login) == 0)
				config_error(ctx, config_member_or(e, "login"), ekey,
					     "duplicate login '%s'", st->login);
			if (st->email != NULL && p->email != NULL &&
			    address_equal(st->email, p->email))
				config_error(ctx, config_member_or(e, "email"), ekey,
					     "email '%s' is already used by '%s'", st->email,
					     p->login != NULL ? p->login : "?");
		}
		g_free(ekey);
	}
	if (admins == 0)
		config_error(ctx, s, key,
			     "no staff member has role \"admin\"; a config needs at "
			     "least one");
}

static const struct config_def config_root_defs[] = {
	{ DEF("database", CT_GROUP, 0), .flags = CF_REQUIRED, .children = config_database_defs },
	{ DEF("daemon", CT_GROUP, 0), .flags = CF_REQUIRED, .children = config_daemon_defs },
	{ DEF("transport", CT_GROUP, 0), .flags = CF_REQUIRED, .children = config_transport_defs },
	{ DEF("pgp", CT_GROUP, 0), .children = config_pgp_defs },
	/* queues before staff: staff entries name queues */
	{ DEF("queues", CT_CUSTOM, 0), .flags = CF_REQUIRED, .fn = config_parse_queues },
	{ DEF("staff", CT_CUSTOM, 0), .fn = config_parse_staff },
	{ 0 },
};

int config_load(const char *path, struct ticketd_config **cfg_r, char **error_r)
{
	struct config_ctx ctx = { .path = path };
	struct ticketd_config *cfg = g_new0(struct ticketd_config, 1);
	config_t lc;
	FILE *fp;
	int ret = -1;

	config_init(&lc);
	ctx.cfg = cfg;
	ctx.errors = g_ptr_array_new_with_free_func(config_error_free);
	cfg->path = g_canonicalize_filename(path, NULL);
	ctx.dir = g_path_get_dirname(cfg->path);

	/* libconfig says only "file I/O error"; find the reason first. */
	if ((fp = fopen(path, "r")) == NULL) {
		error_set(error_r, "%s: cannot read: %s", path, strerror(errno));
		goto out;
	}
	fclose(fp);
	if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
		error_set(error_r, "%s: cannot read: is a directory", path);
		goto out;
	}
	config_set_include_dir(&lc, ctx.dir);
	if (config_read_file(&lc, path) != CONFIG_TRUE) {
		const char *file = config_error_file(&lc);

		if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
			error_set(error_r, "%s: cannot read: %s", file != NULL ? file : path,
				  config_error_text(&lc));
		else
			error_set(error_r, "%s:%d: syntax error: %s", file != NULL ? file : path,
				  config_error_line(&lc), config_error_text(&lc));
		goto out;
	}
	config_parse_group(&ctx, config_root_setting(&lc), "", config_root_defs, cfg);
	if (ctx.errors->len > 0) {
		GString *text = g_string_new(NULL);

		g_ptr_array_sort_with_data(ctx.errors, config_error_cmp, (gpointer)path);
		for (size_t i = 0; i < ctx.errors->len; i++) {
			const struct config_error *e = g_ptr_array_index(ctx.errors, i);
			g_string_append_printf(text, "%s%s", i > 0 ? "\n" : "", e->text);
		}
		if (error_r != NULL) {
			g_free(*error_r);
			*error_r = g_string_free(text, FALSE);
		} else {
			g_string_free(text, TRUE);
		}
		goto out;
	}
	*cfg_r = cfg;
	cfg = NULL;
	ret = 0;
out:
	config_destroy(&lc);
	g_ptr_array_free(ctx.errors, TRUE);
	g_free(ctx.dir);
	config_free(&cfg);
	return ret;
}

void config_free(struct ticketd_config **cfgp)
{
	struct ticketd_config *cfg = *cfgp;

	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->staff_count; i++) {
		struct config_staff *st = &cfg->staff[i];
		g_free(st->login);
		g_free(st->name);
		g_free(st->description);
		g_free(st->email);
		g_free(st->signature);
		g_strfreev(st->queues);
		g_free(st->pgp_key);
		g_strfreev(st->auth);
	}
	g_free(cfg->staff);
	for (size_t i = 0; i < cfg->queue_count; i++) {
		struct config_queue *q = &cfg->queues[i];
		g_free(q->name);
		g_free(q->address);
		g_free(q->comment_address);
		g_free(q->from_name);
		g_free(q->envelope_from);
		g_free(q->mailbox.url);
		g_free(q->mailbox.user);
		g_free(q->mailbox.password_file);
		g_free(q->mailbox.ca_file);
		g_free(q->mailbox.tls);
		g_free(q->mailbox.after_folder);
		g_free(q->assign);
		g_free(q->notify);
		g_free(q->pgp_key);
		g_free(q->pgp_passphrase_file);
		if (q->pgp_passphrase != NULL)
			explicit_bzero(q->pgp_passphrase, strlen(q->pgp_passphrase));
		g_free(q->pgp_passphrase);
		for (int k = 0; k < TEMPLATE_KIND_COUNT; k++) {
			template_free(&q->templates[k]);
			g_free(q->template_paths[k]);
		}
	}
	g_free(cfg->queues);
	if (cfg->secret != NULL)
		explicit_bzero(cfg->secret, cfg->secret_len);
	g_free(cfg->secret);
	g_free(cfg->path);
	g_free(cfg->conninfo);
	g_free(cfg->user);
	g_free(cfg->tag);
	g_free(cfg->secret_file);
	g_free(cfg->pid_file);
	g_strfreev(cfg->staff_auth);
	g_free(cfg->authserv_id);
	g_free(cfg->transport.url);
	g_free(cfg->transport.starttls);
	g_free(cfg->transport.user);
	g_free(cfg->transport.password_file);
	g_free(cfg->transport.ca_file);
	g_free(cfg->gnupg_home);
	g_free(cfg->passphrase_file);
	g_free(cfg->pgp_key);
	if (cfg->pgp_passphrase != NULL)
		explicit_bzero(cfg->pgp_passphrase, strlen(cfg->pgp_passphrase));
	g_free(cfg->pgp_passphrase);
	g_free(cfg);
	*cfgp = NULL;
}

const struct config_queue *config_queue_by_name(const struct ticketd_config *cfg, const char *name)
{
	for (size_t i = 0; name != NULL && i < cfg->queue_count; i++)
		if (cfg->queues[i].name != NULL && strcmp(cfg->queues[i].name, name) == 0)
			return &cfg->queues[i];
	return NULL;
}

const struct config_queue *config_queue_by_address(const struct ticketd_config *cfg,
						   const char *addr)
{
	for (size_t i = 0; addr != NULL && i < cfg->queue_count; i++) {
		const struct config_queue *q = &cfg->queues[i];
		if ((q->address != NULL && address_equal(q->address, addr)) ||
		    (q->comment_address != NULL && address_equal(q->comment_address, addr)))
			return q;
	}
	return NULL;
}

const struct config_staff *config_staff_by_login(const struct ticketd_config *cfg,
						 const char *login, int *index_r)
{
	for (size_t i = 0; login != NULL && i < cfg->staff_count; i++)
		if (cfg->staff[i].login != NULL && strcmp(cfg->staff[i].login, login) == 0) {
			if (index_r != NULL)
				*index_r = (int)i;
			return &cfg->staff[i];
		}
	return NULL;
}

const struct config_staff *config_staff_by_email(const struct ticketd_config *cfg, const char *addr)
{
	for (size_t i = 0; addr != NULL && i < cfg->staff_count; i++)
		if (cfg->staff[i].email != NULL && address_equal(cfg->staff[i].email, addr))
			return &cfg->staff[i];
	return NULL;
}
