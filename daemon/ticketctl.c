/*
 * ticketctl - the administration panel on the command line (DESIGN §5).
 *
 *   ticketctl [-c FILE] [--as LOGIN] [--now=TIME] [--format=table|json|csv] COMMAND
 *             [OPTIONS] [ARGS]
 *
 * The commands are the table below: their words, their arguments, the
 * options they take and a handler over lib/ticket-query.c (reads) and
 * lib/format.c (printing); adding one is a row and a handler.  Global
 * options (-c, --as, --now, --format, --help) go before or after the
 * command; a command's own options after it.  --now is the time a change
 * is recorded at (time is an input, as for ticketd).
 *
 * --as LOGIN shows what that staff member may see (DESIGN §1: an admin its
 * queues, the default queue and its own tickets; support its own tickets);
 * without it everything is shown: the program is the administrator's.
 *
 * The plaintext of encrypted mail (secure parts, DESIGN §1) is shown only
 * by show --decrypt, which records who read it (a decrypt-viewed event, by
 * the --as login, else the Unix user) before it prints anything.
 *
 * Exit codes follow sysexits(3): 64 usage, 65 no such ticket (or one the
 * --as member may not see), 67 --as names no staff member, 69 database
 * unreachable, 70 a query failed, 77 not permitted to the --as member, 78
 * bad config (also: no pgp.gnupg_home for decrypt-retry and pgp-key, or a
 * key that cannot be exported).
 */
#include "config.h"
#include "db.h"
#include "format.h"
#include "message.h"
#include "pgp.h"
#include "secure.h"
#include "staff.h"
#include "ticket-message.h"
#include "ticket-query.h"
#include "ticket.h"
#include "util.h"

#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG SYSCONFDIR "/ticketd/ticketd.conf"

/* What a handler gets: the connection and every option parsed. */
struct ctl {
	const struct ticketd_config *cfg;
	struct db *db; /* NULL for a command that needs none */
	enum format_kind format;
	struct ticket_filter filter; /* filter.viewer: --as, or NULL */
	char **args;                 /* the command's arguments after its words and options */
	time_t now;                  /* --now, or the clock: the time of a change */
	bool decrypt;                /* show --decrypt */
};

/* Options a command may take, besides the global ones. */
enum {
	OPT_FORMAT = 1 << 0, /* the command prints a listing */
	OPT_QUEUE = 1 << 1,
	OPT_ALL = 1 << 2,
	OPT_LIMIT = 1 << 3,
	OPT_DECRYPT = 1 << 4,
};

/* What a command needs besides its arguments. */
enum need {
	NEED_CONFIG, /* the config only */
	NEED_DB,     /* the config and the database */
};

struct command {
	const char *words[2]; /* "failed", "list"; the second NULL for one word */
	const char *usage;    /* what follows the words */
	int nargs;            /* arguments after the words */
	unsigned options;     /* OPT_* */
	enum need needs;
	int (*run)(struct ctl *ctl);
};

static int cmd_migrate(struct ctl *ctl);
static int cmd_list(struct ctl *ctl);
static int cmd_show(struct ctl *ctl);
static int cmd_failed_list(struct ctl *ctl);
static int cmd_priority(struct ctl *ctl);
static int cmd_decrypt_retry(struct ctl *ctl);
static int cmd_pgp_key(struct ctl *ctl);

static const struct command commands[] = {
	{ { "db", "migrate" }, "", 0, 0, NEED_DB, cmd_migrate },
	{ { "list", NULL },
	  "[--queue NAME] [--all] [--limit N] [--format=table|json|csv]",
	  0,
	  OPT_FORMAT | OPT_QUEUE | OPT_ALL | OPT_LIMIT,
	  NEED_DB,
	  cmd_list },
	{ { "show", NULL },
	  "N [--decrypt] [--format=table|json|csv]",
	  1,
	  OPT_FORMAT | OPT_DECRYPT,
	  NEED_DB,
	  cmd_show },
	{ { "failed", "list" },
	  "[--format=table|json|csv]",
	  0,
	  OPT_FORMAT,
	  NEED_DB,
	  cmd_failed_list },
	{ { "priority", NULL }, "N PRIORITY", 2, 0, NEED_DB, cmd_priority },
	{ { "decrypt-retry", NULL }, "N", 1, 0, NEED_DB, cmd_decrypt_retry },
	{ { "pgp-key", NULL }, "[--queue NAME]", 0, OPT_QUEUE, NEED_CONFIG, cmd_pgp_key },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* One table for both parses, so an option in the wrong place is named as
 * such instead of "unrecognized". */
static const struct option longopts[] = {
	{ "config", required_argument, NULL, 'c' }, { "format", required_argument, NULL, 'F' },
	{ "as", required_argument, NULL, 'A' },     { "help", no_argument, NULL, 'h' },
	{ "queue", required_argument, NULL, 'q' },  { "all", no_argument, NULL, 'a' },
	{ "limit", required_argument, NULL, 'l' },  { "now", required_argument, NULL, 'n' },
	{ "decrypt", no_argument, NULL, 'd' },      { NULL, 0, NULL, 0 },
};

/* "failed list": the words of a command (static storage, one at a time). */
static const char *command_name(const struct command *cmd)
{
	static char name[64];

	snprintf(name, sizeof(name), "%s%s%s", cmd->words[0], cmd->words[1] != NULL ? " " : "",
		 cmd->words[1] != NULL ? cmd->words[1] : "");
	return name;
}

static void print_command(FILE *out, const char *lead, const struct command *cmd)
{
	fprintf(out, "%s ticketctl [-c FILE] [--as LOGIN] %s%s%s\n", lead, command_name(cmd),
		cmd->usage[0] != '\0' ? " " : "", cmd->usage);
}

static void usage(FILE *out)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		print_command(out, i == 0 ? "usage:" : "      ", &commands[i]);
}

static int query_failed(enum db_status st, char *error)
{
	fprintf(stderr, "ticketctl: %s\n", error);
	g_free(error);
	return st == DB_ERR_CONNECTION ? EX_UNAVAILABLE : EX_SOFTWARE;
}

static int cmd_migrate(struct ctl *ctl)
{
	char *error = NULL;
	int applied = 0, version = 0;
	enum db_status st;

	if ((st = db_migrate(ctl->db, &applied, &error)) != DB_OK ||
	    (st = db_schema_version(ctl->db, &version, &error)) != DB_OK)
		return query_failed(st, error);
	printf("schema at version %d (%d migration%s applied)\n", version, applied,
	       applied == 1 ? "" : "s");
	return EX_OK;
}

static int cmd_list(struct ctl *ctl)
{
	struct format_table *table = NULL;
	char *error = NULL;
	enum db_status st = ticket_query_list(ctl->db, &ctl->filter, &table, &error);

	if (st != DB_OK)
		return query_failed(st, error);
	format_print_table(stdout, table, ctl->format);
	format_table_free(&table);
	return EX_OK;
}

/* A number of at most 18 digits (they always fit a bigint). */
static bool is_number(const char *text)
{
	return text[0] != '\0' && strspn(text, "0123456789") == strlen(text) && strlen(text) <= 18;
}

/* Ticket id as the --as member may see it (NULL viewer: everything):
 * EX_OK with *rec_r, or the exit code after saying why. */
static int visible_ticket(struct ctl *ctl, const char *verb, const char *id,
			  struct format_record **rec_r)
{
	char *error = NULL;
	enum db_status st;

	*rec_r = NULL;
	if (!is_number(id)) {
		fprintf(stderr, "ticketctl: %s: not a ticket number: %s\n", verb, id);
		return EX_USAGE;
	}
	st = ticket_query_show(ctl->db, strtoll(id, NULL, 10), ctl->filter.viewer, 0, rec_r,
			       &error);
	if (st != DB_OK)
		return query_failed(st, error);
	if (*rec_r == NULL) {
		fprintf(stderr, "ticketctl: no ticket %s\n", id);
		return EX_DATAERR;
	}
	return EX_OK;
}

/* Who a reading or a change is by: the --as login, else the Unix user
 * (static storage). */
static const char *reader_name(const struct ctl *ctl)
{
	static char name[64];
	const struct passwd *pw;

	if (ctl->filter.viewer != NULL)
		return ctl->filter.viewer->login;
	if ((pw = getpwuid(getuid())) != NULL && pw->pw_name[0] != '\0')
		g_strlcpy(name, pw->pw_name, sizeof(name));
	else
		snprintf(name, sizeof(name), "uid %ld", (long)getuid());
	return name;
}

/* show --decrypt: the plaintext is read and the decrypt-viewed event
 * written in one transaction, and printed only once that committed, so no
 * one reads it unrecorded.  A ticket without secure parts gets no event:
 * nothing was decrypted. */
static int show_decrypted(struct ctl *ctl)
{
	const char *id = ctl->args[0];
	struct format_record *rec = NULL;
	char *error = NULL, *sections = NULL, now[32];
	enum db_status st;

	if (!is_number(id)) {
		fprintf(stderr, "ticketctl: show: not a ticket number: %s\n", id);
		return EX_USAGE;
	}
	time_iso(ctl->now, now, sizeof(now));
	if ((st = ticket_prepare(ctl->db, &error)) != DB_OK ||
	    (st = db_begin(ctl->db, &error)) != DB_OK ||
	    (st = ticket_query_show(ctl->db, strtoll(id, NULL, 10), ctl->filter.viewer,
				    TICKET_SHOW_DECRYPT, &rec, &error)) != DB_OK)
		goto out;
	if (rec == NULL) {
		db_rollback(ctl->db);
		fprintf(stderr, "ticketctl: no ticket %s\n", id);
		return EX_DATAERR;
	}
	sections = ticket_query_sections_text(rec);
	if (sections != NULL &&
	    (st = ticket_event(ctl->db, strtoll(id, NULL, 10), now, reader_name(ctl),
			       "decrypt-viewed", NULL, sections, &error)) != DB_OK)
		goto out;
	st = db_commit(ctl->db, &error);
out:
	g_free(sections);
	if (st != DB_OK) {
		format_record_free(&rec);
		db_rollback(ctl->db);
		return query_failed(st, error);
	}
	format_print_record(stdout, rec, ctl->format);
	format_record_free(&rec);
	return EX_OK;
}

static int cmd_show(struct ctl *ctl)
{
	struct format_record *rec = NULL;
	int code;

	if (ctl->decrypt) {
		/* CSV prints no messages: it would record a reading of nothing */
		if (ctl->format == FORMAT_CSV) {
			fprintf(stderr, "ticketctl: show --decrypt prints messages: "
					"--format=table or json, not csv\n");
			return EX_USAGE;
		}
		return show_decrypted(ctl);
	}
	if ((code = visible_ticket(ctl, "show", ctl->args[0], &rec)) != EX_OK)
		return code;
	format_print_record(stdout, rec, ctl->format);
	format_record_free(&rec);
	return EX_OK;
}

static int cmd_failed_list(struct ctl *ctl)
{
	struct format_table *table = NULL;
	char *error = NULL;
	enum db_status st;

	/* Failed messages belong to no ticket, so no queue or assignee says
	 * who may read them: admins only. */
	if (ctl->filter.viewer != NULL && !ctl->filter.viewer->admin) {
		fprintf(stderr,
			"ticketctl: failed list: %s is support staff; only admins see "
			"failed messages\n",
			ctl->filter.viewer->login);
		return EX_NOPERM;
	}
	st = ticket_query_failed(ctl->db, &table, &error);
	if (st != DB_OK)
		return query_failed(st, error);
	format_print_table(stdout, table, ctl->format);
	format_table_free(&table);
	return EX_OK;
}

/* A new priority, by ticket.c like every change, with its event: the new
 * base its escalation grows from (timers.h).  --as: only on a ticket that
 * member may see. */
static int cmd_priority(struct ctl *ctl)
{
	const char *id = ctl->args[0], *value = ctl->args[1];
	const char *actor = ctl->filter.viewer != NULL ? ctl->filter.viewer->login : "ticketctl";
	struct format_record *rec = NULL;
	struct ticket_info t = { 0 };
	struct ticket_state s;
	char *error = NULL, now[32];
	int handle, priority, code;
	enum db_status st;

	priority = is_number(value) && strlen(value) <= 2 ? atoi(value) : 0;
	if (!is_number(id)) {
		fprintf(stderr, "ticketctl: priority: not a ticket number: %s\n", id);
		return EX_USAGE;
	}
	if (priority < 1 || priority > 99) {
		fprintf(stderr, "ticketctl: priority: 1 to 99, not %s\n", value);
		return EX_USAGE;
	}
	if ((code = visible_ticket(ctl, "priority", id, &rec)) != EX_OK)
		return code;
	format_record_free(&rec);
	time_iso(ctl->now, now, sizeof(now));
	if ((st = ticket_prepare(ctl->db, &error)) != DB_OK ||
	    (st = db_begin(ctl->db, &error)) != DB_OK ||
	    (st = ticket_ask_get(ctl->db, strtoll(id, NULL, 10), &handle, &error)) != DB_OK ||
	    (st = db_sync(ctl->db, &error)) != DB_OK)
		goto out;
	if (!ticket_get_result(ctl->db, handle, &t)) {
		error = g_strdup_printf("ticket %s is gone", id);
		st = DB_ERR_FAILED;
		goto out;
	}
	ticket_state_of(&t, &s);
	s.priority = priority;
	if ((st = ticket_change(ctl->db, &t, &s, TICKET_TOUCH_STAFF, actor, now, &error)) == DB_OK)
		st = db_commit(ctl->db, &error);
out:
	ticket_info_clear(&t);
	if (st != DB_OK) {
		db_rollback(ctl->db);
		return query_failed(st, error);
	}
	printf("ticket %s: priority %d\n", id, priority);
	return EX_OK;
}

/* The secure parts of section in sm (struct secure_part *), in order. */
static GPtrArray *section_parts(const struct secure_message *sm, unsigned section)
{
	GPtrArray *parts = g_ptr_array_new();

	for (guint i = 0; i < sm->parts->len; i++) {
		struct secure_part *p = g_ptr_array_index(sm->parts, i);
		if (p->section == section)
			g_ptr_array_add(parts, p);
	}
	return parts;
}

/* One incoming message of decrypt-retry: its sections that have no secure
 * parts yet are decrypted again from the raw copy; what decrypts is added
 * (the message itself is never edited), with a "decrypted" event per
 * section, and what fails again gets a "decrypt-failed" event.  *line
 * gets the summary; nothing when the message has no encrypted section. */
static enum db_status retry_message(struct ctl *ctl, long long ticket,
				    const struct ticket_incoming *in,
				    const struct secure_keys *keys, const char *now, GString *line,
				    char **error_r)
{
	struct message_limits limits = { .max_size = ctl->cfg->max_message_size };
	struct secure_message sm = { 0 };
	struct parsed_message *msg = NULL;
	GBytes *raw = NULL;
	const char *data;
	char *error = NULL, *value = NULL;
	const char *type;
	enum db_status st;
	gsize len;

	if ((st = ticket_query_raw(ctl->db, in->raw_id, &raw, error_r)) != DB_OK)
		return st;
	if (raw == NULL) {
		g_string_append_printf(line, "message %lld: its raw copy is gone", in->message_id);
		return DB_OK;
	}
	data = g_bytes_get_data(raw, &len);
	if (message_parse(data, len, &limits, &msg, &error) < 0) {
		char *reason = log_sanitize(error, 200);
		g_string_append_printf(line, "message %lld: %s", in->message_id, reason);
		g_free(reason);
		g_free(error);
		g_bytes_unref(raw);
		return DB_OK;
	}
	secure_open(msg, data, len, keys, &limits, &sm);
	for (unsigned section = 1; st == DB_OK && section <= sm.sections; section++) {
		GPtrArray *parts;

		if (section == 1)
			g_string_append_printf(line, "message %lld: ", in->message_id);
		else
			g_string_append(line, "; ");
		if (ticket_incoming_has(in, section)) {
			g_string_append_printf(line, "section %u already decrypted", section);
			continue;
		}
		parts = section_parts(&sm, section);
		for (guint i = 0; st == DB_OK && i < parts->len; i++)
			st = ticket_message_add_secure(ctl->db, in->message_id,
						       g_ptr_array_index(parts, i), now, error_r);
		/* as intake writes it (apply.c) */
		value = secure_section_event(&sm, section, msg->message_id, &type);
		if (parts->len > 0) {
			g_string_append_printf(line, "section %u decrypted", section);
		} else {
			/* the value's reason, after "section N of <id>: " */
			const char *why = strstr(value, ": ");
			char *reason = log_sanitize(why != NULL ? why + 2 : value, 300);
			g_string_append_printf(line, "section %u: %s", section, reason);
			g_free(reason);
		}
		if (st == DB_OK)
			st = ticket_event(ctl->db, ticket, now, reader_name(ctl), type, NULL, value,
					  error_r);
		g_free(value);
		value = NULL;
		g_ptr_array_free(parts, TRUE);
	}
	secure_message_clear(&sm);
	message_free(&msg);
	g_bytes_unref(raw);
	return st;
}

/* Decrypts again what could not be decrypted when ticket N's mail came in
 * (a key imported since, a passphrase corrected): one transaction, whose
 * lock on the messages keeps a second retry from adding the same section. */
static int cmd_decrypt_retry(struct ctl *ctl)
{
	const char *id = ctl->args[0];
	struct format_record *rec = NULL;
	struct secure_keys *keys = NULL;
	GArray *incoming = NULL;
	GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
	char *error = NULL, now[32];
	long long ticket;
	enum db_status st;
	int code;

	if ((code = visible_ticket(ctl, "decrypt-retry", id, &rec)) != EX_OK)
		goto done;
	format_record_free(&rec);
	if (ctl->cfg->gnupg_home == NULL) {
		fprintf(stderr,
			"ticketctl: decrypt-retry: %s sets no pgp.gnupg_home: there is no key "
			"to decrypt with\n",
			ctl->cfg->path != NULL ? ctl->cfg->path : "the config");
		code = EX_CONFIG;
		goto done;
	}
	ticket = strtoll(id, NULL, 10);
	time_iso(ctl->now, now, sizeof(now));
	message_init();
	pgp_init();
	keys = secure_keys_new(ctl->cfg);
	if ((st = ticket_prepare(ctl->db, &error)) != DB_OK ||
	    (st = ticket_message_prepare(ctl->db, &error)) != DB_OK ||
	    (st = db_begin(ctl->db, &error)) != DB_OK ||
	    (st = ticket_query_incoming(ctl->db, ticket, true, &incoming, &error)) != DB_OK)
		goto out;
	for (guint i = 0; st == DB_OK && i < incoming->len; i++) {
		GString *line = g_string_new(NULL);

		st = retry_message(ctl, ticket, &g_array_index(incoming, struct ticket_incoming, i),
				   keys, now, line, &error);
		if (line->len > 0)
			g_ptr_array_add(lines, g_string_free(line, FALSE));
		else
			g_string_free(line, TRUE);
	}
	if (st == DB_OK)
		st = db_commit(ctl->db, &error);
out:
	if (incoming != NULL)
		g_array_unref(incoming);
	secure_keys_free(&keys);
	if (st != DB_OK) {
		db_rollback(ctl->db);
		code = query_failed(st, error);
		goto done;
	}
	if (lines->len == 0)
		printf("ticket %s: no encrypted section in its incoming mail\n", id);
	for (guint i = 0; i < lines->len; i++)
		printf("%s\n", (const char *)g_ptr_array_index(lines, i));
	code = EX_OK;
done:
	g_ptr_array_free(lines, TRUE);
	return code;
}

/* The armored public key customers encrypt to: the --queue's own key, else
 * pgp.key, else every key with a secret part in pgp.gnupg_home. */
static int cmd_pgp_key(struct ctl *ctl)
{
	const struct ticketd_config *cfg = ctl->cfg;
	const char *fpr = cfg->pgp_key;
	char *armored = NULL, *error = NULL;

	if (ctl->filter.queue != NULL) {
		const struct config_queue *q = config_queue_by_name(cfg, ctl->filter.queue);
		if (q == NULL) {
			fprintf(stderr, "ticketctl: pgp-key: no queue %s in the config\n",
				ctl->filter.queue);
			return EX_USAGE;
		}
		if (q->pgp_key != NULL)
			fpr = q->pgp_key;
	}
	if (cfg->gnupg_home == NULL) {
		fprintf(stderr,
			"ticketctl: pgp-key: %s sets no pgp.gnupg_home: ticketd has no key "
			"customers could encrypt to\n",
			cfg->path != NULL ? cfg->path : "the config");
		return EX_CONFIG;
	}
	pgp_init();
	if (pgp_export_public(cfg->gnupg_home, fpr, &armored, &error) < 0) {
		fprintf(stderr, "ticketctl: pgp-key: %s\n", error);
		g_free(error);
		return EX_CONFIG;
	}
	fputs(armored, stdout);
	g_free(armored);
	return EX_OK;
}

/* The command whose words start argv, or NULL. */
static const struct command *find_command(int argc, char **argv, int *nwords_r)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct command *cmd = &commands[i];
		int n = cmd->words[1] != NULL ? 2 : 1;

		if (argc < n || strcmp(argv[0], cmd->words[0]) != 0 ||
		    (n == 2 && strcmp(argv[1], cmd->words[1]) != 0))
			continue;
		*nwords_r = n;
		return cmd;
	}
	return NULL;
}

static const char *option_name(int c)
{
	for (const struct option *o = longopts; o->name != NULL; o++)
		if (o->val == c)
			return o->name;
	return "?";
}

struct parsed {
	const char *config;
	const char *as; /* --as LOGIN, NULL when not given */
	bool format_given;
};

/* One option of either parse; cmd is NULL before the command.  Returns
 * -1 (after saying why) for a usage error, 1 for --help. */
static int take_option(int c, const struct command *cmd, struct parsed *p, struct ctl *ctl)
{
	unsigned bit = 0;

	switch (c) {
	case 'c':
		p->config = optarg;
		return 0;
	case 'F':
		if (format_parse_kind(optarg, &ctl->format) < 0) {
			fprintf(stderr, "ticketctl: --format: table, json or csv, not %s\n",
				optarg);
			return -1;
		}
		p->format_given = true;
		return 0;
	case 'A':
		p->as = optarg;
		return 0;
	case 'n':
		if (time_parse_iso(optarg, &ctl->now) < 0) {
			fprintf(stderr, "ticketctl: --now: not an ISO 8601 time: %s\n", optarg);
			return -1;
		}
		return 0;
	case 'h':
		return 1;
	case 'q':
		ctl->filter.queue = optarg;
		bit = OPT_QUEUE;
		break;
	case 'a':
		ctl->filter.all = true;
		bit = OPT_ALL;
		break;
	case 'd':
		ctl->decrypt = true;
		bit = OPT_DECRYPT;
		break;
	case 'l':
		if (optarg[0] == '\0' || strspn(optarg, "0123456789") != strlen(optarg) ||
		    strlen(optarg) > 18) {
			fprintf(stderr, "ticketctl: --limit: not a number: %s\n", optarg);
			return -1;
		}
		ctl->filter.limit = strtoll(optarg, NULL, 10);
		bit = OPT_LIMIT;
		break;
	default:
		return -1; /* getopt has said what */
	}
	if (cmd == NULL) {
		fprintf(stderr,
			"ticketctl: --%s is an option of a command: put it after the command\n",
			option_name(c));
		return -1;
	}
	if ((cmd->options & bit) == 0) {
		fprintf(stderr, "ticketctl: %s has no --%s option\n", command_name(cmd),
			option_name(c));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ctl ctl = { .format = FORMAT_TABLE, .filter = { .limit = -1 } };
	struct parsed p = { .config = DEFAULT_CONFIG };
	const struct command *cmd = NULL;
	struct ticketd_config *cfg = NULL;
	struct staff_viewer viewer = { 0 };
	char *error = NULL, prog[80];
	int c, r, nwords = 0, code;

	/* Global options up to the command ('+': stop at the first word). */
	while ((c = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
		if ((r = take_option(c, NULL, &p, &ctl)) != 0) {
			usage(r > 0 ? stdout : stderr);
			return r > 0 ? EX_OK : EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage(stderr);
		return EX_USAGE;
	}
	cmd = find_command(argc, argv, &nwords);
	if (cmd == NULL) {
		fprintf(stderr, "ticketctl: unknown command: %s%s%s\n", argv[0],
			argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
		usage(stderr);
		return EX_USAGE;
	}
	/* The command's options, and global ones again, anywhere after its
	 * words (the last word stands in for argv[0]).  optind = 0 makes
	 * glibc start afresh, in its permuting mode. */
	argc -= nwords - 1;
	argv += nwords - 1;
	snprintf(prog, sizeof(prog), "ticketctl %s", command_name(cmd));
	argv[0] = prog; /* getopt's own messages name it */
	optind = 0;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if ((r = take_option(c, cmd, &p, &ctl)) != 0) {
			if (r > 0) {
				print_command(stdout, "usage:", cmd);
				return EX_OK;
			}
			print_command(stderr, "usage:", cmd);
			return EX_USAGE;
		}
	}
	/* Here, after both parses, so that a --format given before a command
	 * that prints no listing is caught as well as one after it. */
	if (p.format_given && !(cmd->options & OPT_FORMAT)) {
		fprintf(stderr, "ticketctl: %s prints no listing: --format makes no sense\n",
			command_name(cmd));
		print_command(stderr, "usage:", cmd);
		return EX_USAGE;
	}
	if (argc - optind != cmd->nargs) {
		print_command(stderr, "usage:", cmd);
		return EX_USAGE;
	}
	ctl.args = argv + optind;
	if (ctl.now == 0)
		ctl.now = time(NULL);

	if (config_load(p.config, &cfg, &error) < 0) {
		fprintf(stderr, "%s\n", error);
		g_free(error);
		return EX_CONFIG;
	}
	ctl.cfg = cfg;
	if (cmd->needs == NEED_DB && db_connect(cfg->conninfo, &ctl.db, &error) != DB_OK) {
		fprintf(stderr, "ticketctl: %s\n", error);
		g_free(error);
		config_free(&cfg);
		return EX_UNAVAILABLE;
	}
	/* Role and queues come from the config, as they do for mail. */
	if (p.as != NULL) {
		if (staff_viewer_for(cfg, p.as, &viewer, &error) < 0) {
			fprintf(stderr, "ticketctl: --as: %s\n", error);
			g_free(error);
			db_close(&ctl.db);
			config_free(&cfg);
			return EX_NOUSER;
		}
		ctl.filter.viewer = &viewer;
	}
	code = cmd->run(&ctl);
	staff_viewer_clear(&viewer);
	db_close(&ctl.db);
	config_free(&cfg);
	return code;
}
