/*
 * notify.c - the staff to tell, and their notifications.
 */
#include "notify.h"
#include "address.h"
#include "commands.h"
#include "secure.h"

#include <string.h>

const char notify_separator[] = COMMANDS_SEPARATOR "\n\n";

static bool entitled(const struct config_staff *s, const struct config_queue *q)
{
	for (char **n = s->queues; n != NULL && *n != NULL; n++)
		if (strcmp(*n, q->name) == 0)
			return true;
	return false;
}

static size_t add(struct notify_target *out, size_t n, const struct config_staff *s,
		  const struct config_staff *actor)
{
	if (n >= NOTIFY_MAX || s == actor)
		return n;
	for (size_t i = 0; i < n; i++)
		if (out[i].staff == s)
			return n;
	out[n] = (struct notify_target){ .addr = s->email, .name = s->name, .staff = s };
	return n + 1;
}

/* The people a notify setting ("admins", "all", "none", an address)
 * names for queue q. */
static size_t by_setting(const struct ticketd_config *cfg, const struct config_queue *q,
			 const char *how, const struct config_staff *actor,
			 struct notify_target *out)
{
	/* "queue" (the word) and "all": every member entitled to it */
	bool all = strcmp(how, "all") == 0 || strcmp(how, "queue") == 0;
	size_t n = 0;

	if (strcmp(how, "none") == 0)
		return 0;
	if (!all && strcmp(how, "admins") != 0) { /* an address */
		out[0] = (struct notify_target){ .addr = how };
		return 1;
	}
	for (size_t i = 0; i < cfg->staff_count; i++) {
		const struct config_staff *s = &cfg->staff[i];
		bool admin = s->role == STAFF_ROLE_ADMIN;
		if ((all && entitled(s, q)) ||
		    (admin && (entitled(s, q) || q == cfg->default_queue)))
			n = add(out, n, s, actor);
	}
	return n;
}

size_t notify_targets(const struct ticketd_config *cfg, const struct config_queue *queue,
		      enum notify_event event, const char *assignee,
		      const struct config_staff *actor, struct notify_target *out)
{
	if (event != NOTIFY_NEW_TICKET && assignee != NULL) {
		for (size_t i = 0; i < cfg->staff_count; i++)
			if (strcmp(cfg->staff[i].login, assignee) == 0)
				return add(out, 0, &cfg->staff[i], actor);
		/* an assignee no longer in the config: as if nobody */
	}
	if (event == NOTIFY_ESCALATION)
		return by_setting(cfg, queue, "admins", actor, out);
	return by_setting(cfg, queue, queue->notify != NULL ? queue->notify : "admins", actor, out);
}

const char *notify_encrypt_to(const struct mailout *base, const struct notify_target *target)
{
	if (target->staff == NULL || target->staff->pgp_key == NULL ||
	    target->staff->pgp_key[0] == '\0' || base->secure == NULL ||
	    base->secure->parts == NULL || base->secure->parts->len == 0)
		return NULL;
	return target->staff->pgp_key;
}

enum db_status notify_write(struct db *db, const struct mailout *base, enum notify_event event,
			    const struct notify_target *targets, size_t n, unsigned *count_r,
			    char **error_r)
{
	enum db_status st = DB_OK;

	*count_r = 0;
	for (size_t i = 0; i < n && st == DB_OK; i++) {
		struct mailout m = *base;
		bool written = false;

		m.template =
			event == NOTIFY_ESCALATION ? TEMPLATE_ESCALATION : TEMPLATE_NOTIFICATION;
		m.kind = MESSAGE_NOTIFICATION;
		m.automatic = true;
		m.auto_submitted = "auto-generated";
		m.to_addr = targets[i].addr;
		m.to_name = targets[i].name;
		m.cc = NULL;
		m.prefix = notify_separator;
		m.reply_to_queue = true;
		m.encrypt_to = notify_encrypt_to(base, &targets[i]);
		if (m.staff == NULL)
			m.staff = targets[i].staff;
		st = mailout_write(db, &m, &written, error_r);
		if (written)
			(*count_r)++;
	}
	return st;
}
