/*
 * config.h - the ticketd configuration file (libconfig syntax, DESIGN §5).
 *
 * One table of settings drives parsing and validation.  config_load() reads
 * the whole file and reports every problem in one run, one per line, each as
 * "FILE:LINE: KEY: what is wrong" in *error_r; it returns 0 or -1.  Templates
 * named in the config are loaded and checked too (their errors name the
 * template file and line).  Durations are written "90s", "30m", "1h", "7d"
 * (or a plain integer of seconds); sizes "512", "64k", "10M", "1G".
 *
 * Memory: the config is owned by the caller and freed with config_free().
 * A reload builds a new config and swaps it in only when config_load()
 * succeeded.
 */
#ifndef TICKETD_CONFIG_H
#define TICKETD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "template.h"

enum staff_role {
	STAFF_ROLE_ADMIN,
	STAFF_ROLE_SUPPORT
};
enum mailbox_after {
	MAILBOX_AFTER_SEEN,
	MAILBOX_AFTER_DELETE,
	MAILBOX_AFTER_MOVE
};

struct config_staff {
	char *login;
	char *name;
	char *description; /* "" when unset */
	char *email;       /* lower-cased */
	char *signature;   /* "" when unset */
	enum staff_role role;
	char **queues;  /* NULL-terminated queue names */
	bool available; /* default true */
	char *pgp_key;  /* NULL when unset */
	char **auth;    /* NULL-terminated methods; NULL when unset: daemon.staff_auth */
};

struct config_mailbox {
	char *url; /* maildir:/path, mbox:/path, imap://..., NULL: no polling */
	char *user;
	char *password_file;
	char *ca_file;
	bool tls_verify;          /* default true */
	enum mailbox_after after; /* default MAILBOX_AFTER_SEEN ("seen") */
	char *after_folder;       /* for MAILBOX_AFTER_MOVE ("move:Archive") */
	char *tls;                /* imap://, pop3://: "optional" (STARTTLS when offered,
				default), "required", "off" */
	long timeout;             /* seconds for every network operation, default 60 */
};

struct config_queue {
	char *name;
	char *address;         /* lower-cased */
	char *comment_address; /* lower-cased, NULL when unset */
	char *from_name;       /* display name of mail we send, default: queue name */
	char *envelope_from;   /* default: address */
	bool is_default;
	struct config_mailbox mailbox;
	int priority;          /* 1..99, default 50 */
	bool autoresponse;     /* send the new-ticket auto-response, default true */
	long autoclose;        /* seconds; 0 at once (default), -1 never */
	bool closed_response;  /* auto-close sends the closed-ticket auto-response, default true */
	long escalation_every; /* seconds, 0: no escalation */
	int escalation_step, escalation_max;
	int escalation_notify_at; /* the escalation notice's threshold, 0: none */
	bool sticky;
	char *assign; /* "none" | "least-loaded" */
	char *notify; /* "admins" | "none" | ... */
	/* pgp = { key; passphrase_file; }: this queue's own key pair, NULL:
	 * the global pgp.key (and its passphrase_file) */
	char *pgp_key;
	char *pgp_passphrase_file;
	char *pgp_passphrase; /* its first line, read at load time */
	/* Every kind is set: the queue's file, or the built-in default. */
	struct template *templates[TEMPLATE_KIND_COUNT];
	char *template_paths[TEMPLATE_KIND_COUNT]; /* NULL: built-in */
};

struct config_transport {
	char *url;      /* smtp://, smtps://, sendmail:/path, maildir:/path */
	char *starttls; /* "required" | "optional" | "off" */
	char *user;
	char *password_file;
	char *ca_file;
	bool tls_verify; /* default true */
	long timeout;    /* seconds for every network operation, default 60 */
	int sessions;    /* senders in parallel, each its own connection, default 1 */
};

struct ticketd_config {
	char *path;
	/* database */
	char *conninfo;
	/* daemon */
	long poll_interval; /* seconds, default 60 */
	char *user;         /* NULL: do not change user */
	char *tag;          /* default "Ticket" */
	char *secret_file;
	char *secret; /* contents of secret_file */
	size_t secret_len;
	long autoresponse_count; /* default 5 */
	long autoresponse_per;   /* seconds, default 3600 */
	size_t max_message_size; /* default 100M */
	long batch_size;         /* messages per transaction, default 200 */
	char *pid_file;          /* NULL when unset */
	char **staff_auth;       /* NULL-terminated, default { "pgp", "authres" } */
	char *authserv_id;       /* NULL when unset: then "authres" proves nothing */
	struct config_transport transport;
	/* pgp: GnuPG's home (ticketd's own), the key pair customers encrypt
	 * to (fingerprint), the file holding its passphrase (lib/secure.h) */
	char *gnupg_home;      /* NULL when unset */
	char *pgp_key;         /* NULL when unset: every secret key in the home */
	char *passphrase_file; /* NULL when unset */
	char *pgp_passphrase;  /* its first line, read at load time; NULL when unset */
	struct config_staff *staff;
	size_t staff_count;
	struct config_queue *queues;
	size_t queue_count;
	struct config_queue *default_queue; /* points into queues */
};

int config_load(const char *path, struct ticketd_config **cfg_r, char **error_r);
void config_free(struct ticketd_config **cfg);

/* "90s" → 90 ... ; returns 0 or -1. */
int config_parse_duration(const char *text, long *seconds_r);
/* "10M" → 10485760 ...; returns 0 or -1. */
int config_parse_size(const char *text, size_t *bytes_r);

const struct config_queue *config_queue_by_name(const struct ticketd_config *cfg, const char *name);
/* By address or comment_address (case-insensitive). */
const struct config_queue *config_queue_by_address(const struct ticketd_config *cfg,
						   const char *addr);
/* By login; *index_r (or NULL): its index in cfg->staff. */
const struct config_staff *config_staff_by_login(const struct ticketd_config *cfg,
						 const char *login, int *index_r);
const struct config_staff *config_staff_by_email(const struct ticketd_config *cfg,
						 const char *addr);

#endif
