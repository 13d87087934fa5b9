/*
 * util.h - allocation, logging and small string helpers shared by every module.
 *
 * Allocation: GLib's g_malloc family aborts on out-of-memory, so every module
 * allocates with g_malloc/g_strdup/g_new and frees with g_free.  Destructors
 * in this project take T ** and set the pointer to NULL.
 *
 * Logging: log_open() chooses syslog (mail facility) or stderr.  Messages are
 * printf-style; text that came from outside (addresses, subjects, Message-IDs)
 * must pass through log_sanitize() first so a hostile header cannot forge log
 * lines.  log_fatal() exits with the given sysexits code; log_panic() aborts.
 */
#ifndef TICKETD_UTIL_H
#define TICKETD_UTIL_H

#include <glib.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_ERROR
};

void log_open(const char *ident, bool to_stderr, bool verbose);
void log_close(void);
void log_msg(enum log_level level, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
#define log_debug(...)   log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_error(...)   log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
/* Logs at error level and exits with a sysexits(3) code. */
void log_fatal(int exit_code, const char *fmt, ...) G_GNUC_PRINTF(2, 3) G_GNUC_NORETURN;
/* A bug: logs and aborts. */
void log_panic(const char *fmt, ...) G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN;

/* Returns a newly allocated copy of s (NULL → "(none)") with control and
 * non-UTF-8 bytes replaced, cut to at most max_len bytes (0: 200). */
char *log_sanitize(const char *s, size_t max_len);

/* Sets *error_r (if error_r is not NULL) to a newly allocated message. */
void error_set(char **error_r, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Reads a whole file into a newly allocated, NUL-terminated buffer.
 * max_size 0 means no limit.  Returns 0, or -1 with *error_r set. */
int file_read_all(const char *path, size_t max_size, char **data_r, size_t *len_r, char **error_r);

/* An ISO 8601 time ("2026-01-01T10:00:00Z"; UTC unless it names its
 * zone): 0, or -1 when text is none. */
int time_parse_iso(const char *text, time_t *t_r);
/* ISO 8601 UTC text of t ("2026-11-23T10:00:00Z") into buf (at least 21
 * bytes; 32 is the habit); returns buf. */
const char *time_iso(time_t t, char *buf, size_t size);

#endif
