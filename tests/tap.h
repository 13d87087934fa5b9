/*
 * tap.h - a minimal Test Anything Protocol emitter for the C unit tests,
 * run by prove(1).  Each test program calls the checks and ends with
 * return tap_done();
 */
#ifndef TICKETD_TAP_H
#define TICKETD_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_count, tap_failed;

static inline int tap_ok(int cond, const char *file, int line, const char *name)
{
	tap_count++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tap_count, name);
	if (!cond)
		printf("#   failed at %s:%d\n", file, line);
	fflush(stdout);
	return cond;
}

#define ok(cond, name) tap_ok(!!(cond), __FILE__, __LINE__, (name))
#define is_int(got, want, name)                                                                    \
	do {                                                                                       \
		long long g_ = (long long)(got), w_ = (long long)(want);                           \
		if (!ok(g_ == w_, name))                                                           \
			printf("#   got %lld, want %lld\n", g_, w_);                               \
	} while (0)
#define is_str(got, want, name)                                                                    \
	do {                                                                                       \
		const char *g_ = (got), *w_ = (want);                                              \
		int same_ = (g_ == NULL && w_ == NULL) ||                                          \
			    (g_ != NULL && w_ != NULL && strcmp(g_, w_) == 0);                     \
		if (!ok(same_, name))                                                              \
			printf("#   got  '%s'\n#   want '%s'\n", g_ ? g_ : "(null)",               \
			       w_ ? w_ : "(null)");                                                \
	} while (0)
#define like(got, needle, name)                                                                    \
	do {                                                                                       \
		const char *g_ = (got), *n_ = (needle);                                            \
		if (!ok(g_ != NULL && strstr(g_, n_) != NULL, name))                               \
			printf("#   '%s'\n#   does not contain '%s'\n", g_ ? g_ : "(null)", n_);   \
	} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed == 0 ? 0 : 1;
}

#endif
