/*
 * classify.c - the signs of automatic mail, after RFC 3834 §2 and the
 * conventions mail software has grown around it.
 */
#include "classify.h"

#include <string.h>

/* The first token of a header value, lower-cased, without parameters or
 * comments: "Auto-Replied; foo" → "auto-replied". */
static char *first_token(const char *value)
{
	const char *p = value, *end;

	while (*p == ' ' || *p == '\t')
		p++;
	end = p;
	while (*end != '\0' && *end != ';' && *end != ' ' && *end != '\t' && *end != '(')
		end++;
	return g_ascii_strdown(p, end - p);
}

static bool header_token_is(const struct parsed_message *msg, const char *name,
			    const char *const *tokens)
{
	const char *value = message_header(msg, name);
	bool found = false;
	char *tok;

	if (value == NULL)
		return false;
	tok = first_token(value);
	for (size_t i = 0; tokens[i] != NULL && !found; i++)
		found = strcmp(tok, tokens[i]) == 0;
	g_free(tok);
	return found;
}

static bool is_daemon_address(const char *addr)
{
	static const char *const locals[] = { "mailer-daemon", "postmaster", "noreply", "no-reply",
					      "do-not-reply",  "donotreply", NULL };
	const char *at = strchr(addr, '@');
	size_t len = at != NULL ? (size_t)(at - addr) : strlen(addr);

	for (size_t i = 0; locals[i] != NULL; i++)
		if (strlen(locals[i]) == len && g_ascii_strncasecmp(addr, locals[i], len) == 0)
			return true;
	return false;
}

void classify_message(const struct parsed_message *msg, const struct ticketd_config *cfg,
		      struct classification *result)
{
	static const char *const precedence[] = { "bulk", "junk", "list", "auto_reply", NULL };
	static const char *const yes[] = { "yes", "true", "1", NULL };
	const char *auto_submitted = message_header(msg, "Auto-Submitted");
	char *tok;

	result->automatic = true;
	if (auto_submitted != NULL) {
		tok = first_token(auto_submitted);
		bool is_no = strcmp(tok, "no") == 0 || tok[0] == '\0';
		g_free(tok);
		if (!is_no) {
			result->reason = "Auto-Submitted";
			return;
		}
	}
	if (header_token_is(msg, "Precedence", precedence)) {
		result->reason = "Precedence";
		return;
	}
	if (message_header(msg, "List-Id") != NULL) {
		result->reason = "List-Id";
		return;
	}
	if (header_token_is(msg, "X-Autoreply", yes) ||
	    header_token_is(msg, "X-Autorespond", yes) ||
	    message_header(msg, "X-Autorespond") != NULL) {
		result->reason = "X-Autoreply";
		return;
	}
	if (msg->return_path != NULL && msg->return_path[0] == '\0') {
		result->reason = "empty Return-Path";
		return;
	}
	if (msg->content_type != NULL && strcmp(msg->content_type, "multipart/report") == 0) {
		result->reason = "delivery report";
		return;
	}
	if (msg->from != NULL && is_daemon_address(msg->from->addr)) {
		result->reason = "sent by a mailer daemon";
		return;
	}
	if (msg->from != NULL && cfg != NULL &&
	    config_queue_by_address(cfg, msg->from->addr) != NULL) {
		result->reason = "sent from one of our own addresses";
		return;
	}
	result->automatic = false;
	result->reason = NULL;
}
