/*
 * util.c - logging to syslog or stderr, error strings, whole-file reads,
 * time as ISO 8601 text.
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static bool log_to_stderr = true;
static bool log_verbose;
static const char *log_ident = "ticketd";

void log_open(const char *ident, bool to_stderr, bool verbose)
{
	log_ident = ident;
	log_to_stderr = to_stderr;
	log_verbose = verbose;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_close(void)
{
	if (!log_to_stderr)
		closelog();
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };
	static const char *const name[] = { "debug", "info", "warning", "error" };

	if (level == LOG_LEVEL_DEBUG && !log_verbose)
		return;
	if (log_to_stderr) {
		char *text = g_strdup_vprintf(fmt, ap);
		fprintf(stderr, "%s: %s: %s\n", log_ident, name[level], text);
		g_free(text);
	} else {
		vsyslog(prio[level], fmt, ap);
	}
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void log_fatal(int exit_code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	exit(exit_code);
}

void log_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	abort();
}

char *log_sanitize(const char *s, size_t max_len)
{
	GString *out;
	const char *p, *end;

	if (s == NULL)
		return g_strdup("(none)");
	if (max_len == 0)
		max_len = 200;
	out = g_string_sized_new(64);
	p = s;
	end = s + strlen(s);
	while (p < end && out->len < max_len) {
		gunichar c = g_utf8_get_char_validated(p, end - p);
		if (c == (gunichar)-1 || c == (gunichar)-2) {
			g_string_append_c(out, '?');
			p++;
			continue;
		}
		if (c < 0x20 || c == 0x7f)
			g_string_append_c(out, '?');
		else
			g_string_append_unichar(out, c);
		p = g_utf8_next_char(p);
	}
	if (p < end)
		g_string_append(out, "...");
	return g_string_free(out, FALSE);
}

void error_set(char **error_r, const char *fmt, ...)
{
	va_list ap;

	if (error_r == NULL)
		return;
	va_start(ap, fmt);
	g_free(*error_r);
	*error_r = g_strdup_vprintf(fmt, ap);
	va_end(ap);
}

int file_read_all(const char *path, size_t max_size, char **data_r, size_t *len_r, char **error_r)
{
	GString *buf;
	char chunk[65536];
	ssize_t n;
	int fd, ret = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		error_set(error_r, "open(%s): %s", path, strerror(errno));
		return -1;
	}
	buf = g_string_sized_new(sizeof(chunk));
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			error_set(error_r, "read(%s): %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (max_size != 0 && buf->len + (size_t)n > max_size) {
			error_set(error_r, "%s: larger than %zu bytes", path, max_size);
			goto out;
		}
		g_string_append_len(buf, chunk, n);
	}
	*len_r = buf->len;
	*data_r = g_string_free(buf, FALSE);
	buf = NULL;
	ret = 0;
out:
	if (buf != NULL)
		g_string_free(buf, TRUE);
	close(fd);
	return ret;
}

int time_parse_iso(const char *text, time_t *t_r)
{
	GTimeZone *utc = g_time_zone_new_utc();
	GDateTime *dt = g_date_time_new_from_iso8601(text, utc);

	g_time_zone_unref(utc);
	if (dt == NULL)
		return -1;
	*t_r = (time_t)g_date_time_to_unix(dt);
	g_date_time_unref(dt);
	return 0;
}

const char *time_iso(time_t t, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}
