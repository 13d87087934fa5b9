/*
 * thread.c - the threading decision and the subject tag.
 */
#include "thread.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

enum thread_rule thread_decide(const struct thread_facts *facts, long long *ticket_r)
{
	if (facts->ref_ticket > 0) {
		*ticket_r = facts->ref_ticket;
		return THREAD_BY_REFERENCE;
	}
	if (facts->tag_ticket > 0 && facts->sender_is_participant) {
		*ticket_r = facts->tag_ticket;
		return THREAD_BY_TAG;
	}
	*ticket_r = 0;
	return THREAD_NEW;
}

const char *thread_rule_name(enum thread_rule rule)
{
	switch (rule) {
	case THREAD_BY_REFERENCE:
		return "reference";
	case THREAD_BY_TAG:
		return "tag";
	case THREAD_NEW:
		break;
	}
	return "new";
}

/* Parses "[TAG#N]" at p; returns N and sets *end_r past ']', or 0. */
static long long parse_tag_at(const char *p, const char *tag, const char **end_r)
{
	size_t taglen = strlen(tag);
	long long id = 0;
	int digits = 0;

	if (*p != '[')
		return 0;
	p++;
	while (*p == ' ')
		p++;
	if (g_ascii_strncasecmp(p, tag, taglen) != 0)
		return 0;
	p += taglen;
	while (*p == ' ')
		p++;
	if (*p != '#')
		return 0;
	p++;
	while (*p == ' ')
		p++;
	while (*p >= '0' && *p <= '9') {
		if (++digits > 15)
			return 0;
		id = id * 10 + (*p - '0');
		p++;
	}
	while (*p == ' ')
		p++;
	if (digits == 0 || *p != ']')
		return 0;
	*end_r = p + 1;
	return id;
}

long long thread_subject_tag(const char *subject, const char *tag)
{
	const char *end;

	if (subject == NULL)
		return 0;
	for (const char *p = strchr(subject, '['); p != NULL; p = strchr(p + 1, '[')) {
		long long id = parse_tag_at(p, tag, &end);
		if (id > 0)
			return id;
	}
	return 0;
}

char *thread_subject_add_tag(const char *subject, const char *tag, long long ticket_id)
{
	if (subject == NULL || subject[0] == '\0')
		subject = "(no subject)";
	if (thread_subject_tag(subject, tag) == ticket_id)
		return g_strdup(subject);
	return g_strdup_printf("[%s#%lld] %s", tag, ticket_id, subject);
}
