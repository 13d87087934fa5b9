/*
 * test-config.c - unit tests for lib/config.c: durations and sizes, a full
 * config parsed into the right values, the shipped example, and every class
 * of error reported with its file and line, several at once.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"
#include "template.h"
#include "util.h"

static char tmpdir[] = "/tmp/test-config-XXXXXX";
static char *conf_path; /* tmpdir/t.conf */

static char *tmp_file(const char *name, const char *content, mode_t mode)
{
	char *path = g_build_filename(tmpdir, name, NULL);
	char *dir = g_path_get_dirname(path);

	g_mkdir_with_parents(dir, 0700);
	g_file_set_contents(path, content, -1, NULL);
	chmod(path, mode);
	g_free(dir);
	return path;
}

static void rm_tree(const char *path)
{
	GDir *dir = g_dir_open(path, 0, NULL);
	const char *name;

	if (dir == NULL) {
		unlink(path);
		return;
	}
	while ((name = g_dir_read_name(dir)) != NULL) {
		char *p = g_build_filename(path, name, NULL);
		rm_tree(p);
		g_free(p);
	}
	g_dir_close(dir);
	rmdir(path);
}

/* 1-based line of the first line of text containing needle. */
static int line_of(const char *text, const char *needle)
{
	const char *hit = strstr(text, needle);
	int line = 1;

	if (hit == NULL)
		return -1;
	for (const char *p = text; p < hit; p++)
		if (*p == '\n')
			line++;
	return line;
}

#define QUEUE_SUPPORT "  { name = \"support\"; address = \"support@example.com\"; }\n"
#define STAFF_ALICE                                                                                \
	"  { login = \"alice\"; name = \"Alice\"; email = \"alice@example.com\"; "                 \
	"role = \"admin\"; }\n"

/* A small valid config; the parts given replace the defaults. */
static char *make_conf(const char *daemon_extra, const char *queues, const char *staff)
{
	return g_strdup_printf("database = { conninfo = \"dbname=t\"; };\n"
			       "daemon = {\n"
			       "  secret_file = \"secret\";\n"
			       "  authserv_id = \"mx.test\";\n"
			       "%s"
			       "};\n"
			       "transport = { url = \"maildir:out\"; };\n"
			       "queues = (\n%s);\n"
			       "staff = (\n%s);\n",
			       daemon_extra != NULL ? daemon_extra : "",
			       queues != NULL ? queues : QUEUE_SUPPORT,
			       staff != NULL ? staff : STAFF_ALICE);
}

static int load_text(const char *text, struct ticketd_config **cfg, char **error)
{
	g_file_set_contents(conf_path, text, -1, NULL);
	g_free(*error);
	*error = NULL;
	return config_load(conf_path, cfg, error);
}

/* Loads text, expects failure, and checks that the errors contain the line
 * "t.conf:LINE: rest" where LINE is the line of needle in text. */
static void expect_error(const char *text, const char *needle, const char *rest, const char *name)
{
	struct ticketd_config *cfg = NULL;
	char *error = NULL, *want;

	want = g_strdup_printf("%s:%d: %s", conf_path, line_of(text, needle), rest);
	is_int(load_text(text, &cfg, &error), -1, name);
	ok(cfg == NULL, "no config returned on error");
	like(error, want, name);
	g_free(want);
	g_free(error);
	config_free(&cfg);
}

static void test_durations(void)
{
	static const struct {
		const char *text;
		long want;
	} good[] = {
		{ "90s", 90 },     { "30m", 1800 },
		{ "1h", 3600 },    { "7d", 604800 },
		{ "2w", 1209600 }, { "45", 45 },
		{ "0", 0 },        { "0s", 0 },
		{ "007m", 420 },   { "9223372036854775807", 9223372036854775807L },
	};
	static const char *const bad[] = {
		"",
		"-5",
		"+5",
		"5x",
		"1h30m",
		" 5",
		"5 ",
		"h",
		"1H",
		"1.5h",
		"5ss",
		"99999999999999999999",
		"9223372036854775807s0",
		"15250284452472w",
	};
	static const struct {
		const char *text;
		size_t want;
	} good_sizes[] = {
		{ "512", 512 },      { "64k", 65536 },     { "64K", 65536 },
		{ "10M", 10485760 }, { "1G", 1073741824 }, { "0", 0 },
	};
	static const char *const bad_sizes[] = {
		"",
		"-1",
		"1T",
		"10MB",
		"1.5M",
		"10m",
		"M",
		" 1",
		"18446744073709551616",
		"17179869184G",
	};
	long secs;
	size_t bytes;

	for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
		secs = -42;
		is_int(config_parse_duration(good[i].text, &secs), 0, good[i].text);
		is_int(secs, good[i].want, good[i].text);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		char *name = g_strdup_printf("duration '%s' refused", bad[i]);
		is_int(config_parse_duration(bad[i], &secs), -1, name);
		g_free(name);
	}
	is_int(config_parse_duration(NULL, &secs), -1, "NULL duration refused");
	for (size_t i = 0; i < G_N_ELEMENTS(good_sizes); i++) {
		bytes = 42;
		is_int(config_parse_size(good_sizes[i].text, &bytes), 0, good_sizes[i].text);
		is_int(bytes, good_sizes[i].want, good_sizes[i].text);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(bad_sizes); i++) {
		char *name = g_strdup_printf("size '%s' refused", bad_sizes[i]);
		is_int(config_parse_size(bad_sizes[i], &bytes), -1, name);
		g_free(name);
	}
}

static const char full_conf[] =
	"# a full config\n"
	"database = { conninfo = \"host=/run/postgresql dbname=tickets\"; };\n"
	"daemon = {\n"
	"  poll_interval = \"5m\";\n"
	"  user = \"ticketd\";\n"
	"  tag = \"Help-Desk_2\";\n"
	"  secret_file = \"secret\";\n"
	"  autoresponse_limit = { count = 3; per = \"2h\"; };\n"
	"  max_message_size = \"20M\";\n"
	"  batch_size = 50;\n"
	"  pid_file = \"run/ticketd.pid\";\n"
	"  staff_auth = [ \"pgp\" ];\n"
	"};\n"
	"transport = { url = \"smtps://smtp.example.com:465\"; starttls = \"off\";\n"
	"  user = \"tick\"; password_file = \"/SMTPPASS\"; };\n"
	"pgp = { gnupg_home = \"gnupg\"; passphrase_file = \"pgp.pass\"; };\n"
	"staff = (\n"
	"  { login = \"alice\"; name = \"Alice Woods\"; description = \"senior engineer\";\n"
	"    email = \"Alice@Example.COM\"; role = \"admin\"; queues = [ \"support\", \"billing\" ];\n"
	"    signature = \"Alice\\nExample\"; pgp_key = \"0xABCD\"; },\n"
	"  { login = \"bob\"; name = \"Bob Stone\"; email = \"bob@example.com\"; role = \"support\";\n"
	"    queues = [ \"support\" ]; available = false; }\n"
	");\n"
	"queues = (\n"
	"  { name = \"support\"; address = \"Support@Example.com\";\n"
	"    comment_address = \"support-comment@example.com\";\n"
	"    mailbox = { url = \"imaps://mail.example.com/INBOX\"; user = \"support\";\n"
	"                password_file = \"support.pass\"; after = \"move:Archive\";\n"
	"                tls_verify = false; };\n"
	"    priority = 60; autoresponse = false;\n"
	"    escalation = { every = \"1h\"; step = 10; };\n"
	"    autoclose = \"7d\"; sticky = true; assign = \"least-loaded\"; notify = \"all\";\n"
	"    templates = { new_ticket = \"tpl/new.txt\"; }; },\n"
	"  { name = \"billing\"; address = \"billing@example.com\"; default = true;\n"
	"    from_name = \"Billing Team\"; envelope_from = \"bounces@example.com\";\n"
	"    mailbox = { url = \"maildir:mail/billing\"; after = \"delete\"; };\n"
	"    autoclose = -1; },\n"
	"  { name = \"sales\"; address = \"sales@example.com\"; autoclose = 0;\n"
	"    mailbox = { url = \"mbox:/var/mail/sales\"; }; },\n"
	"  { name = \"pop\"; address = \"pop@example.com\";\n"
	"    mailbox = { url = \"POP3S://pop.example.com:995\"; }; }\n"
	");\n";

static const char *lookup_none(void *ctx, const char *name)
{
	return NULL;
}

static void test_full(void)
{
	struct ticketd_config *cfg = NULL;
	const struct config_queue *q;
	const struct config_staff *st;
	struct template_output *out = NULL;
	char *error = NULL, *text, *pass, *want, **parts;

	pass = tmp_file("smtp.pass", "hunter2\n", 0600);
	parts = g_strsplit(full_conf, "/SMTPPASS", -1);
	text = g_strjoinv(pass, parts);
	g_strfreev(parts);
	g_free(pass);
	is_int(load_text(text, &cfg, &error), 0, "full config loads");
	is_str(error, NULL, "no error");
	if (cfg == NULL) {
		g_free(text);
		g_free(error);
		return;
	}
	is_str(cfg->path, conf_path, "path is absolute");
	is_str(cfg->conninfo, "host=/run/postgresql dbname=tickets", "conninfo");
	is_int(cfg->poll_interval, 300, "poll_interval 5m");
	is_str(cfg->user, "ticketd", "user");
	is_str(cfg->tag, "Help-Desk_2", "tag");
	want = g_build_filename(tmpdir, "secret", NULL);
	is_str(cfg->secret_file, want, "secret_file made absolute");
	g_free(want);
	is_int(cfg->secret_len, 16, "secret read, trailing newline trimmed");
	ok(cfg->secret != NULL && memcmp(cfg->secret, "0123456789abcdef", 16) == 0, "secret bytes");
	is_int(cfg->autoresponse_count, 3, "autoresponse_limit.count");
	is_int(cfg->autoresponse_per, 7200, "autoresponse_limit.per");
	is_int(cfg->max_message_size, 20 * 1024 * 1024, "max_message_size 20M");
	is_int(cfg->batch_size, 50, "batch_size");
	want = g_build_filename(tmpdir, "run/ticketd.pid", NULL);
	is_str(cfg->pid_file, want, "pid_file relative to the config");
	g_free(want);
	ok(cfg->staff_auth != NULL && g_strv_length(cfg->staff_auth) == 1 &&
		   strcmp(cfg->staff_auth[0], "pgp") == 0,
	   "staff_auth [pgp]");
	is_str(cfg->authserv_id, NULL, "authserv_id unset");
	is_str(cfg->transport.url, "smtps://smtp.example.com:465", "transport.url");
	is_str(cfg->transport.starttls, "off", "transport.starttls");
	is_str(cfg->transport.user, "tick", "transport.user");
	ok(g_str_has_suffix(cfg->transport.password_file, "/smtp.pass"), "transport.password_file");
	is_str(cfg->transport.ca_file, NULL, "transport.ca_file unset");
	ok(g_str_has_prefix(cfg->gnupg_home, tmpdir) && g_str_has_suffix(cfg->gnupg_home, "/gnupg"),
	   "pgp.gnupg_home absolute");
	ok(g_str_has_suffix(cfg->passphrase_file, "/pgp.pass"), "pgp.passphrase_file");

	is_int(cfg->queue_count, 4, "four queues");
	q = &cfg->queues[0];
	is_str(q->name, "support", "queue name");
	is_str(q->address, "support@example.com", "address lower-cased");
	is_str(q->comment_address, "support-comment@example.com", "comment_address");
	is_str(q->from_name, "support", "from_name defaults to the name");
	is_str(q->envelope_from, "support@example.com", "envelope_from defaults to the address");
	ok(!q->is_default, "support is not the default");
	is_str(q->mailbox.url, "imaps://mail.example.com/INBOX", "imaps url kept");
	is_str(q->mailbox.user, "support", "mailbox.user");
	ok(g_str_has_suffix(q->mailbox.password_file, "/support.pass"), "mailbox.password_file");
	ok(!q->mailbox.tls_verify, "tls_verify false");
	is_int(q->mailbox.after, MAILBOX_AFTER_MOVE, "after move:");
	is_str(q->mailbox.after_folder, "Archive", "after folder Archive");
	is_int(q->priority, 60, "priority");
	ok(!q->autoresponse, "autoresponse false");
	is_int(q->autoclose, 604800, "autoclose \"7d\"");
	is_int(q->escalation_every, 3600, "escalation.every");
	is_int(q->escalation_step, 10, "escalation.step");
	is_int(q->escalation_max, 99, "escalation.max default");
	ok(q->sticky, "sticky");
	is_str(q->assign, "least-loaded", "assign");
	is_str(q->notify, "all", "notify");
	ok(q->template_paths[TEMPLATE_NEW_TICKET] != NULL &&
		   g_str_has_suffix(q->template_paths[TEMPLATE_NEW_TICKET], "/tpl/new.txt"),
	   "new_ticket template path");
	is_str(q->template_paths[TEMPLATE_CLOSED], NULL, "closed is built-in");
	for (int k = 0; k < TEMPLATE_KIND_COUNT; k++)
		ok(q->templates[k] != NULL, "every template kind is set");
	is_int(template_render(q->templates[TEMPLATE_NEW_TICKET], lookup_none, NULL, &out, &error),
	       0, "the queue's template renders");
	is_str(out != NULL ? out->body : NULL, "Custom new ticket text.\n", "from the file");
	template_output_free(&out);

	q = &cfg->queues[1];
	is_str(q->name, "billing", "second queue");
	ok(q->is_default, "billing is the default");
	ok(cfg->default_queue == q, "default_queue points to it");
	is_str(q->from_name, "Billing Team", "from_name");
	is_str(q->envelope_from, "bounces@example.com", "envelope_from");
	want = g_strdup_printf("maildir:%s/mail/billing", tmpdir);
	is_str(q->mailbox.url, want, "relative maildir made absolute, scheme kept");
	g_free(want);
	is_int(q->mailbox.after, MAILBOX_AFTER_DELETE, "after delete");
	ok(q->mailbox.tls_verify, "tls_verify default true");
	is_int(q->autoclose, -1, "autoclose -1");
	is_int(q->priority, 50, "priority default 50");
	ok(q->autoresponse, "autoresponse default true");
	is_int(q->escalation_every, 0, "no escalation");
	is_str(q->assign, "none", "assign default");
	is_str(q->notify, "admins", "notify default");

	q = &cfg->queues[2];
	is_int(q->autoclose, 0, "autoclose 0");
	is_str(q->mailbox.url, "mbox:/var/mail/sales", "mbox url");
	is_int(q->mailbox.after, MAILBOX_AFTER_SEEN, "after default seen");
	is_str(cfg->queues[3].mailbox.url, "pop3s://pop.example.com:995", "scheme lower-cased");

	is_int(cfg->staff_count, 2, "two staff");
	st = &cfg->staff[0];
	is_str(st->login, "alice", "login");
	is_str(st->name, "Alice Woods", "name");
	is_str(st->description, "senior engineer", "description");
	is_str(st->email, "alice@example.com", "email lower-cased");
	is_int(st->role, STAFF_ROLE_ADMIN, "alice is admin");
	ok(st->queues != NULL && g_strv_length(st->queues) == 2 &&
		   strcmp(st->queues[1], "billing") == 0,
	   "alice's queues");
	is_str(st->signature, "Alice\nExample", "signature");
	is_str(st->pgp_key, "0xABCD", "pgp_key");
	ok(st->available, "available default true");
	st = &cfg->staff[1];
	is_int(st->role, STAFF_ROLE_SUPPORT, "bob is support");
	ok(!st->available, "bob not available");
	is_str(st->description, "", "description default \"\"");
	is_str(st->signature, "", "signature default \"\"");
	is_str(st->pgp_key, NULL, "pgp_key unset");

	q = config_queue_by_address(cfg, "SUPPORT@example.com");
	ok(q != NULL && strcmp(q->name, "support") == 0, "queue by address, any case");
	q = config_queue_by_address(cfg, "Support-Comment@Example.com");
	ok(q != NULL && strcmp(q->name, "support") == 0, "queue by comment_address");
	ok(config_queue_by_address(cfg, "nobody@example.com") == NULL, "unknown address");
	ok(config_queue_by_address(cfg, NULL) == NULL, "NULL address");
	q = config_queue_by_name(cfg, "billing");
	ok(q == &cfg->queues[1], "queue by name");
	ok(config_queue_by_name(cfg, "Billing") == NULL, "names are exact");
	st = config_staff_by_email(cfg, "ALICE@example.com");
	ok(st != NULL && strcmp(st->login, "alice") == 0, "staff by email, any case");
	ok(config_staff_by_email(cfg, "carol@example.com") == NULL, "unknown staff");

	config_free(&cfg);
	ok(cfg == NULL, "config_free sets NULL");
	g_free(text);
	g_free(error);
}

static void test_defaults(void)
{
	struct ticketd_config *cfg = NULL;
	char *error = NULL, *text = make_conf(NULL, NULL, NULL), *want;

	is_int(load_text(text, &cfg, &error), 0, "minimal config loads");
	is_str(error, NULL, "no error");
	if (cfg != NULL) {
		is_int(cfg->poll_interval, 60, "poll_interval default 60s");
		is_str(cfg->tag, "Ticket", "tag default");
		is_int(cfg->autoresponse_count, 5, "autoresponse count default");
		is_int(cfg->autoresponse_per, 3600, "autoresponse per default 1h");
		is_int(cfg->max_message_size, 100 * 1024 * 1024, "max_message_size default 100M");
		is_int(cfg->batch_size, 200, "batch_size default");
		ok(cfg->staff_auth != NULL && g_strv_length(cfg->staff_auth) == 2 &&
			   strcmp(cfg->staff_auth[0], "pgp") == 0 &&
			   strcmp(cfg->staff_auth[1], "authres") == 0,
		   "staff_auth default [pgp, authres]");
		is_str(cfg->user, NULL, "user unset");
		is_str(cfg->pid_file, NULL, "pid_file unset");
		is_str(cfg->transport.starttls, "required", "starttls default");
		want = g_strdup_printf("maildir:%s/out", tmpdir);
		is_str(cfg->transport.url, want, "transport maildir relative");
		g_free(want);
		is_str(cfg->gnupg_home, NULL, "no pgp group");
		ok(cfg->default_queue == &cfg->queues[0], "first queue is the default");
		ok(cfg->queues[0].is_default, "and marked so");
		is_str(cfg->queues[0].mailbox.url, NULL, "no mailbox");
		is_int(cfg->queues[0].autoclose, 0, "autoclose default 0");
		is_int(cfg->queues[0].escalation_step, 5, "escalation.step default");
		for (int k = 0; k < TEMPLATE_KIND_COUNT; k++) {
			ok(cfg->queues[0].templates[k] != NULL, "built-in template set");
			is_str(cfg->queues[0].template_paths[k], NULL, "no template path");
		}
		ok(cfg->staff[0].queues != NULL && cfg->staff[0].queues[0] == NULL,
		   "staff queues default: empty list");
	}
	config_free(&cfg);
	g_free(text);
	g_free(error);
}

static char *find_top(void)
{
	const char *env = getenv("TICKETD_TOP");
	const char *const tries[] = { env != NULL ? env : ".", ".", "..", NULL };

	for (size_t i = 0; tries[i] != NULL; i++) {
		char *p = g_build_filename(tries[i], "etc/ticketd.conf.example", NULL);
		bool found = g_file_test(p, G_FILE_TEST_EXISTS);
		g_free(p);
		if (found)
			return g_strdup(tries[i]);
	}
	return NULL;
}

/* Every key config.c accepts: the example and the man page must name each. */
static const char *const all_keys[] = {
	"database",
	"conninfo",
	"daemon",
	"poll_interval",
	"user",
	"tag",
	"secret_file",
	"autoresponse_limit",
	"count",
	"per",
	"max_message_size",
	"batch_size",
	"pid_file",
	"staff_auth",
	"authserv_id",
	"transport",
	"url",
	"starttls",
	"password_file",
	"ca_file",
	"pgp",
	"gnupg_home",
	"passphrase_file",
	"staff",
	"login",
	"name",
	"description",
	"email",
	"role",
	"queues",
	"signature",
	"pgp_key",
	"auth",
	"available",
	"address",
	"default",
	"comment_address",
	"from_name",
	"envelope_from",
	"mailbox",
	"tls_verify",
	"after",
	"priority",
	"autoresponse",
	"autoclose",
	"closed_response",
	"escalation",
	"every",
	"step",
	"max",
	"notify_at",
	"sticky",
	"assign",
	"notify",
	"templates",
	"new_ticket",
	"closed",
	"answer",
	"notification",
	"refusal",
	NULL,
};

static void test_example(void)
{
	struct ticketd_config *cfg = NULL;
	char *top = find_top(), *example = NULL, *man = NULL, *text, *prefix, *path, *error = NULL;
	char **parts;
	size_t len;

	ok(top != NULL, "found etc/ticketd.conf.example");
	if (top == NULL)
		return;
	path = g_build_filename(top, "etc/ticketd.conf.example", NULL);
	ok(g_file_get_contents(path, &example, &len, NULL), "read the example");
	g_free(path);
	path = g_build_filename(top, "man/ticketd.conf.5", NULL);
	ok(g_file_get_contents(path, &man, &len, NULL), "read the man page");
	g_free(path);

	/* The example's secrets and templates, under tmpdir/etc-ticketd/. */
	prefix = g_strdup_printf("%s/etc-ticketd/", tmpdir);
	parts = g_strsplit(example, "/etc/ticketd/", -1);
	text = g_strjoinv(prefix, parts);
	g_strfreev(parts);
	g_free(tmp_file("etc-ticketd/secret", "s3cret", 0600));
	g_free(tmp_file("etc-ticketd/smtp.pass", "pw", 0600));
	g_free(tmp_file("etc-ticketd/pgp.pass", "pw", 0600));
	g_free(tmp_file("etc-ticketd/support.pass", "pw", 0600));
	for (int k = 0; k < TEMPLATE_KIND_COUNT; k++) {
		char *src = g_strdup_printf("%s/etc/templates/%s.txt", top, template_kind_names[k]);
		char *dst = g_strdup_printf("etc-ticketd/templates/%s.txt", template_kind_names[k]);
		char *data = NULL;

		ok(g_file_get_contents(src, &data, &len, NULL), src);
		g_free(tmp_file(dst, data != NULL ? data : "", 0644));
		g_free(data);
		g_free(src);
		g_free(dst);
	}
	is_int(load_text(text, &cfg, &error), 0, "the example config loads");
	is_str(error, NULL, "without errors");
	if (cfg != NULL) {
		is_int(cfg->queue_count, 2, "example: two queues");
		is_int(cfg->staff_count, 2, "example: two staff");
		is_str(cfg->default_queue->name, "support", "example: support is the default");
		is_int(cfg->queues[1].autoclose, 604800, "example: billing autoclose 7d");
		is_str(cfg->queues[1].mailbox.url, "maildir:/var/mail/billing", "example: maildir");
		is_str(cfg->authserv_id, "mx.example.com", "example: authserv_id");
		ok(cfg->queues[0].template_paths[TEMPLATE_ESCALATION] != NULL,
		   "example: escalation template from file");
	}
	config_free(&cfg);
	for (size_t i = 0; all_keys[i] != NULL; i++) {
		char *pat = g_strdup_printf("%s (", all_keys[i]);
		char *pat2 = g_strdup_printf("%s =", all_keys[i]);
		char *name = g_strdup_printf("example documents '%s'", all_keys[i]);
		char *mpat = g_strdup_printf(".B %s\n", all_keys[i]);

		ok(example != NULL &&
			   (strstr(example, pat) != NULL || strstr(example, pat2) != NULL),
		   name);
		g_free(name);
		name = g_strdup_printf("man page documents '%s'", all_keys[i]);
		ok(man != NULL && strstr(man, mpat) != NULL, name);
		g_free(name);
		g_free(pat);
		g_free(pat2);
		g_free(mpat);
	}
	g_free(text);
	g_free(prefix);
	g_free(example);
	g_free(man);
	g_free(error);
	g_free(top);
}

static void test_errors(void)
{
	struct ticketd_config *cfg = NULL;
	char *text, *error = NULL, *want, *path;

	/* unknown keys, at every level */
	text = make_conf("  colour = \"blue\";\n", NULL, NULL);
	expect_error(text, "colour", "daemon.colour: unknown key 'colour' in daemon",
		     "unknown key");
	g_free(text);
	text = make_conf(NULL,
			 QUEUE_SUPPORT "  ,{ name = \"billing\"; address = \"b@example.com\";\n"
				       "    foo = 1; }\n",
			 NULL);
	expect_error(text, "foo = 1", "queues.billing.foo: unknown key 'foo' in queues.billing",
		     "unknown key in a queue, with the queue's name");
	g_free(text);
	text = make_conf(NULL,
			 "  { name = \"s\"; address = \"s@example.com\";\n"
			 "    mailbox = { url = \"maildir:/m\"; afterwards = \"delete\"; }; }\n",
			 NULL);
	expect_error(text, "afterwards", "queues.s.mailbox.afterwards: unknown key", "nested");
	g_free(text);
	text = make_conf(NULL,
			 "  { name = \"s\"; address = \"s@example.com\";\n"
			 "    mailbox = { url = \"pop3s://pop.example.com\";\n"
			 "                after = \"move:Archive\"; }; }\n",
			 NULL);
	expect_error(text, "move:Archive", "queues.s: mailbox.after: a POP3 mailbox has no folders",
		     "POP3 cannot move to a folder");
	g_free(text);
	want = make_conf(NULL, NULL, NULL);
	text = g_strdup_printf("%s\nlogging = true;\n", want);
	g_free(want);
	expect_error(text, "logging", "logging: unknown key 'logging' in the top level",
		     "top level");
	g_free(text);

	/* wrong types */
	text = make_conf(NULL,
			 "  { name = \"s\"; address = \"s@example.com\"; priority = \"50\"; }\n",
			 NULL);
	expect_error(text, "priority", "queues.s.priority: expected an integer, got a string",
		     "wrong type: string for integer");
	g_free(text);
	text = make_conf("  batch_size = 2.5;\n", NULL, NULL);
	expect_error(text, "batch_size", "daemon.batch_size: expected an integer, got a floating",
		     "wrong type: float");
	g_free(text);
	text = make_conf(NULL,
			 "  { name = \"s\"; address = \"s@example.com\"; sticky = \"yes\"; }\n",
			 NULL);
	expect_error(text, "sticky", "queues.s.sticky: expected a boolean", "wrong type: bool");
	g_free(text);
	text = make_conf(
		NULL, NULL,
		"  { login = \"a\"; name = \"A\"; email = \"a@example.com\"; role = \"admin\";\n"
		"    queues = \"support\"; }\n");
	expect_error(text, "queues = \"support\"", "staff.a.queues: expected an array of strings",
		     "wrong type: string for a list");
	g_free(text);
	text = make_conf("  poll_interval = true;\n", NULL, NULL);
	expect_error(text, "poll_interval", "daemon.poll_interval: expected a duration",
		     "wrong type: duration");
	g_free(text);

	/* missing required settings */
	text = make_conf(NULL, "  { name = \"s\";\n    priority = 3; }\n", NULL);
	expect_error(text, "name = \"s\"", "queues.s.address: required setting is missing",
		     "missing address: at the queue's line");
	g_free(text);
	text = make_conf(NULL, NULL,
			 "  { login = \"a\"; name = \"A\"; email = \"a@example.com\"; }\n");
	expect_error(text, "login = \"a\"", "staff.a.role: required setting is missing",
		     "missing role");
	g_free(text);
	text = g_strdup("daemon = { secret_file = \"secret\"; authserv_id = \"mx\"; };\n"
			"transport = { url = \"maildir:/x\"; };\n"
			"queues = ( { name = \"s\"; address = \"s@example.com\"; } );\n"
			"staff = ( { login = \"a\"; name = \"A\"; email = \"a@example.com\"; role "
			"= \"admin\"; } );\n");
	is_int(load_text(text, &cfg, &error), -1, "missing database group");
	want = g_strdup_printf("%s: database: required setting is missing", conf_path);
	is_str(error, want, "reported without a line");
	g_free(want);
	g_free(text);

	/* queues: duplicates, defaults */
	text = make_conf(NULL,
			 QUEUE_SUPPORT
			 "  ,{ name = \"support\"; address = \"other@example.com\"; }\n",
			 NULL);
	expect_error(text, "other@", "queues.support: duplicate queue name 'support'",
		     "duplicate queue name");
	g_free(text);
	text = make_conf(NULL,
			 QUEUE_SUPPORT
			 "  ,{ name = \"b\";\n    address = \"SUPPORT@example.com\"; }\n",
			 NULL);
	expect_error(text, "SUPPORT@",
		     "queues.b: address 'support@example.com' is already used by queue 'support'",
		     "duplicate address, any case");
	g_free(text);
	text = make_conf(NULL,
			 "  { name = \"a\"; address = \"a@example.com\"; default = true; },\n"
			 "  { name = \"b\"; address = \"b@example.com\";\n"
			 "    default = true; }\n",
			 NULL);
	expect_error(text, "    default = true", "queues.b: queue 'a' is already the default",
		     "two default queues: at the second");
	g_free(text);
	text = make_conf(NULL, "", NULL);
	expect_error(text, "queues = (", "queues: at least one queue is required", "no queue");
	g_free(text);
	text = make_conf(NULL, "  { name = \"Support Desk\"; address = \"s@example.com\"; }\n",
			 NULL);
	expect_error(text, "Support Desk", "queues.[0].name: 'Support Desk' is not valid",
		     "bad queue name; element named by index");
	g_free(text);

	/* staff */
	text = make_conf(
		NULL, NULL,
		"  { login = \"a\"; name = \"A\"; email = \"a@example.com\"; role = \"support\"; }\n");
	expect_error(text, "staff = (", "staff: no staff member has role \"admin\"", "no admin");
	g_free(text);
	text = make_conf(NULL, NULL, "");
	expect_error(text, "staff = (", "staff: no staff member has role \"admin\"",
		     "empty staff list");
	g_free(text);
	text = make_conf(NULL, NULL,
			 STAFF_ALICE
			 "  ,{ login = \"b\"; name = \"B\"; email = \"b@example.com\";\n"
			 "    role = \"support\"; queues = [ \"support\",\n"
			 "      \"sales\" ]; }\n");
	expect_error(text, "\"sales\"", "staff.b.queues: unknown queue 'sales'",
		     "staff naming an unknown queue: at the element's line");
	g_free(text);
	text = make_conf(NULL, NULL,
			 STAFF_ALICE
			 "  ,{ login = \"alice\"; name = \"B\"; email = \"ALICE@example.com\";\n"
			 "    role = \"guru\"; }\n");
	expect_error(text, "\"guru\"", "staff.alice.role: 'guru' is not one of: admin, support",
		     "bad role");
	expect_error(text, "login = \"alice\"; name = \"B\"",
		     "staff.alice: duplicate login 'alice'", "duplicate login");
	expect_error(text, "ALICE@", "staff.alice: email 'alice@example.com' is already used",
		     "duplicate email");
	g_free(text);
	text = make_conf(
		NULL, NULL,
		"  { login = \"a\"; name = \"A\"; email = \"a.example.com\"; role = \"admin\"; }\n");
	expect_error(text, "a.example.com",
		     "staff.a.email: 'a.example.com' is not an email address", "email without @");
	g_free(text);
	text = make_conf(
		NULL, NULL,
		"  { login = \"a\"; name = \"A\"; email = \"a..b@example.com\"; role = \"admin\"; }\n");
	expect_error(text, "a..b@example.com",
		     "staff.a.email: 'a..b@example.com' is not an email address: two dots",
		     "email with two dots: the address rule's reason");
	g_free(text);
	text = make_conf(NULL,
			 "  { name = \"s\"; address = \"s@example.com\";\n"
			 "    comment_address = \"a b@example.com\"; }\n",
			 NULL);
	expect_error(text, "a b@example.com",
		     "queues.s.comment_address: 'a b@example.com' is not an email address: ' '",
		     "comment_address with a blank");
	g_free(text);
	{
		text = make_conf(NULL,
				 "  { name = \"s\"; address = \"\\\"Help Desk\\\"@Example.com\";\n"
				 "    comment_address = \"s-comment@Bücher.Example\"; }\n",
				 "  { login = \"o\"; name = \"O\"; email = \"o'brien@example.ie\"; "
				 "role = \"admin\"; }\n");
		is_int(load_text(text, &cfg, &error), 0, "quoted local part and IDN domain load");
		if (error != NULL)
			printf("#   %s\n", error);
		is_str(cfg != NULL ? cfg->queues[0].address : NULL, "\"help desk\"@example.com",
		       "quoted queue address kept quoted, lower-cased");
		is_str(cfg != NULL ? cfg->queues[0].comment_address : NULL,
		       "s-comment@bücher.example", "IDN domain lower-cased, kept a U-label");
		ok(cfg != NULL &&
			   config_queue_by_address(cfg, "s-comment@xn--bcher-kva.example") != NULL,
		   "queue found by the A-label spelling");
		ok(cfg != NULL && config_staff_by_email(cfg, "O'Brien@Example.IE") != NULL,
		   "staff found by email, any case");
		config_free(&cfg);
		g_free(error);
		error = NULL;
		g_free(text);
	}

	/* values */
	text = make_conf("  poll_interval = \"5 minutes\";\n", NULL, NULL);
	expect_error(text, "5 minutes", "daemon.poll_interval: '5 minutes' is not a duration",
		     "bad duration");
	g_free(text);
	text = make_conf("  poll_interval = \"2d\";\n", NULL, NULL);
	expect_error(text, "2d",
		     "daemon.poll_interval: 172800 is out of range: must be between 1s and 1d",
		     "duration out of range");
	g_free(text);
	text = make_conf("  max_message_size = \"100G\";\n", NULL, NULL);
	expect_error(text, "100G",
		     "daemon.max_message_size: 107374182400 is out of range: must be "
		     "between 1K and 1G",
		     "size out of range");
	g_free(text);
	text = make_conf("  tag = \"Tick et\";\n", NULL, NULL);
	expect_error(text, "Tick et",
		     "daemon.tag: 'Tick et' is not valid: use only the characters "
		     "[A-Za-z0-9_-]",
		     "bad tag");
	g_free(text);
	text = make_conf(NULL, "  { name = \"s\"; address = \"s@example.com\"; priority = 100; }\n",
			 NULL);
	expect_error(text, "priority",
		     "queues.s.priority: 100 is out of range: must be between 1 and 99",
		     "priority out of range");
	g_free(text);
	text = make_conf(NULL, "  { name = \"s\"; address = \"s@example.com\"; autoclose = 7; }\n",
			 NULL);
	expect_error(text, "autoclose", "queues.s.autoclose: 7 is ambiguous",
		     "autoclose 7 refused");
	g_free(text);
	text = make_conf(
		NULL, "  { name = \"s\"; address = \"s@example.com\"; autoclose = \"7days\"; }\n",
		NULL);
	expect_error(text, "autoclose", "queues.s.autoclose: '7days' is not a duration",
		     "bad autoclose duration");
	g_free(text);
	text = make_conf(NULL,
			 "  { name = \"s\"; address = \"s@example.com\";\n"
			 "    mailbox = { url = \"ftp://x\"; after = \"move:\"; }; }\n",
			 NULL);
	expect_error(text, "ftp://", "queues.s.mailbox.url: 'ftp://x' is not supported",
		     "bad mailbox scheme");
	expect_error(text, "ftp://",
		     "queues.s.mailbox.after: 'move:' is not one of: seen, delete, move:FOLDER",
		     "move: without a folder");
	g_free(text);
	text = make_conf(NULL,
			 "  { name = \"s\"; address = \"s@example.com\";\n"
			 "    mailbox = { url = \"imaps:///INBOX\"; }; }\n",
			 NULL);
	expect_error(text, "imaps:", "queues.s.mailbox.url: 'imaps:///INBOX' names no host",
		     "imaps without host");
	g_free(text);
	text = g_strdup("database = { conninfo = \"x\"; };\n"
			"daemon = { secret_file = \"secret\"; authserv_id = \"mx\"; };\n"
			"transport = { url = \"http://relay\";\n"
			"  starttls = \"maybe\"; };\n"
			"queues = ( { name = \"s\"; address = \"s@example.com\"; } );\n"
			"staff = ( " STAFF_ALICE " );\n");
	expect_error(text, "http://", "transport.url: 'http://relay' is not supported",
		     "bad transport");
	expect_error(text, "maybe",
		     "transport.starttls: 'maybe' is not one of: required, optional, off",
		     "bad starttls");
	g_free(text);
	text = make_conf("  staff_auth = [ \"pgp\", \"none\", \"magic\" ];\n", NULL, NULL);
	expect_error(text, "magic", "daemon.staff_auth: \"none\" cannot be combined",
		     "none with others");
	expect_error(text, "magic", "daemon.staff_auth: 'magic' is not one of: pgp, authres, none",
		     "unknown staff_auth");
	g_free(text);
	/* a staff member's own auth list */
	text = make_conf(NULL, NULL,
			 "  { login = \"alice\"; name = \"Alice\"; email = \"alice@example.com\";\n"
			 "    role = \"admin\"; pgp_key = \"0x0123456789ABCDEF\";\n"
			 "    auth = [ \"pgp\", \"authres\" ]; },\n"
			 "  { login = \"bob\"; name = \"Bob\"; email = \"bob@example.com\";\n"
			 "    role = \"support\"; }\n");
	is_int(load_text(text, &cfg, &error), 0, "per-staff auth loads");
	is_str(error, NULL, "per-staff auth: no error");
	ok(cfg != NULL && cfg->staff[0].auth != NULL && g_strv_length(cfg->staff[0].auth) == 2 &&
		   strcmp(cfg->staff[0].auth[0], "pgp") == 0 &&
		   strcmp(cfg->staff[0].auth[1], "authres") == 0,
	   "alice's auth [pgp, authres]");
	ok(cfg != NULL && cfg->staff[1].auth == NULL, "bob's auth unset: the global one applies");
	config_free(&cfg);
	g_free(text);
	text = make_conf(NULL, NULL,
			 "  { login = \"alice\"; name = \"Alice\"; email = \"alice@example.com\";\n"
			 "    role = \"admin\"; auth = [ \"authres\",\n"
			 "    \"pgp\" ]; },\n"
			 "  { login = \"bob\"; name = \"Bob\"; email = \"bob@example.com\";\n"
			 "    role = \"support\"; auth = [ \"none\", \"magic\" ]; },\n"
			 "  { login = \"carol\"; name = \"Carol\"; email = \"carol@example.com\";\n"
			 "    role = \"support\"; auth = [ ]; }\n");
	expect_error(text, "\"pgp\" ]", "staff.alice.auth: \"pgp\" needs this member's pgp_key\n",
		     "per-staff pgp without pgp_key");
	expect_error(text, "\"none\", \"magic\"",
		     "staff.bob.auth: \"none\" cannot be combined with other methods\n",
		     "per-staff none with others");
	expect_error(text, "\"none\", \"magic\"",
		     "staff.bob.auth: 'magic' is not one of: pgp, authres, none\n",
		     "per-staff unknown method");
	expect_error(text, "auth = [ ]",
		     "staff.carol.auth: must name at least one of \"pgp\", \"authres\", \"none\"",
		     "per-staff empty list");
	g_free(text);
	text = g_strdup("database = { conninfo = \"x\"; };\n"
			"daemon = { secret_file = \"secret\"; };\n"
			"transport = { url = \"maildir:/x\"; };\n"
			"queues = ( { name = \"s\"; address = \"s@example.com\"; } );\n"
			"staff = ( { login = \"alice\"; name = \"Alice\";\n"
			"  email = \"alice@example.com\"; role = \"admin\";\n"
			"  auth = [ \"authres\" ]; } );\n");
	expect_error(text, "auth = [", "staff.alice.auth: \"authres\" needs daemon.authserv_id",
		     "per-staff authres without authserv_id");
	g_free(text);
	text = g_strdup("database = { conninfo = \"x\"; };\n"
			"daemon = { secret_file = \"secret\";\n"
			"  staff_auth = [ \"authres\" ]; };\n"
			"transport = { url = \"maildir:/x\"; };\n"
			"queues = ( { name = \"s\"; address = \"s@example.com\"; } );\n"
			"staff = ( " STAFF_ALICE " );\n");
	is_int(load_text(text, &cfg, &error), 0,
	       "authres without authserv_id loads (it then proves nothing)");
	is_str(cfg != NULL ? cfg->authserv_id : "", NULL, "authserv_id NULL");
	config_free(&cfg);
	g_free(text);

	/* secrets */
	path = tmp_file("open.secret", "abc\n", 0644);
	text = make_conf("  user = \"x\";\n", NULL, NULL);
	{
		char **parts = g_strsplit(text, "\"secret\"", -1);
		g_free(text);
		text = g_strjoinv("\"open.secret\"", parts);
		g_strfreev(parts);
	}
	want = g_strdup_printf(
		"daemon.secret_file: %s is accessible by group or others (mode 0644)", path);
	expect_error(text, "open.secret", want, "world-readable secret refused, file named");
	g_free(want);
	chmod(path, 0640);
	want = g_strdup_printf(
		"daemon.secret_file: %s is accessible by group or others (mode 0640)", path);
	expect_error(text, "open.secret", want, "group-readable secret refused");
	g_free(want);
	g_file_set_contents(path, "\n", -1, NULL);
	chmod(path, 0600);
	want = g_strdup_printf("daemon.secret_file: %s is empty", path);
	expect_error(text, "open.secret", want, "empty secret (after the newline) refused");
	g_free(want);
	unlink(path);
	want = g_strdup_printf("daemon.secret_file: cannot open %s: No such file", path);
	expect_error(text, "open.secret", want, "missing secret refused");
	g_free(want);
	g_free(path);
	g_free(text);
	path = tmp_file("mb.pass", "pw", 0604);
	text = make_conf(NULL,
			 "  { name = \"s\"; address = \"s@example.com\";\n"
			 "    mailbox = { url = \"imap://h\"; password_file = \"mb.pass\"; }; }\n",
			 NULL);
	want = g_strdup_printf("queues.s.mailbox.password_file: %s is accessible by group or "
			       "others (mode 0604)",
			       path);
	expect_error(text, "mb.pass", want, "mailbox password file checked too");
	g_free(want);
	unlink(path);
	g_free(path);
	g_free(text);

	/* templates */
	path = tmp_file("tpl/bad.txt", "Subject: {{ticket.tag}}\n\nHello\n{{customer.name}}\n",
			0644);
	text = make_conf(NULL,
			 "  { name = \"s\"; address = \"s@example.com\";\n"
			 "    templates = { closed = \"tpl/bad.txt\"; reopened = \"x\"; }; }\n",
			 NULL);
	want = g_strdup_printf(
		"queues.s.templates.closed: %s:4: unknown variable {{customer.name}}", path);
	expect_error(text, "tpl/bad.txt", want, "template error: template path and line");
	g_free(want);
	expect_error(text, "reopened", "queues.s.templates.reopened: unknown key 'reopened'",
		     "unknown template kind");
	g_free(text);
	g_free(path);
	text = make_conf(NULL,
			 "  { name = \"s\"; address = \"s@example.com\";\n"
			 "    templates = { answer = \"tpl/missing.txt\"; }; }\n",
			 NULL);
	expect_error(text, "missing.txt", "queues.s.templates.answer: open(", "missing template");
	g_free(text);

	/* syntax errors and unreadable files */
	text = make_conf("  user = \"x\";\n  tag = ;\n", NULL, NULL);
	is_int(load_text(text, &cfg, &error), -1, "syntax error");
	want = g_strdup_printf("%s:%d: syntax error", conf_path, line_of(text, "tag = "));
	ok(error != NULL && g_str_has_prefix(error, want), "syntax error with file and line");
	if (error == NULL || !g_str_has_prefix(error, want))
		printf("#   got '%s'\n#   want '%s...'\n", error, want);
	g_free(want);
	g_free(text);
	path = g_build_filename(tmpdir, "nonexistent.conf", NULL);
	g_free(error);
	error = NULL;
	is_int(config_load(path, &cfg, &error), -1, "missing file");
	want = g_strdup_printf("%s: cannot read: No such file or directory", path);
	is_str(error, want, "missing file reported");
	g_free(want);
	g_free(path);
	g_free(error);
	error = NULL;
	is_int(config_load(tmpdir, &cfg, &error), -1, "a directory");
	like(error, "is a directory", "directory reported");
	g_free(error);
}

/* @include is resolved next to the config; errors there name that file. */
static void test_include(void)
{
	struct ticketd_config *cfg = NULL;
	char *error = NULL, *text, *inc, *want;

	inc = tmp_file("conf.d/queues.conf",
		       "queues = (\n"
		       "  { name = \"support\"; address = \"support@example.com\";\n"
		       "    colour = \"red\"; }\n"
		       ");\n",
		       0644);
	text = g_strdup("database = { conninfo = \"x\"; };\n"
			"daemon = { secret_file = \"secret\"; };\n"
			"transport = { url = \"maildir:/x\"; };\n"
			"@include \"conf.d/queues.conf\"\n"
			"staff = ( " STAFF_ALICE " );\n"
			"bogus = 1;\n");
	is_int(load_text(text, &cfg, &error), -1, "error in an included file");
	want = g_strdup_printf(
		"%s:%d: bogus: unknown key 'bogus' in the top level\n"
		"%s:3: queues.support.colour: unknown key 'colour' in queues.support",
		conf_path, line_of(text, "bogus"), inc);
	is_str(error, want, "main file first, then the included file with its own line");
	g_free(want);
	g_free(text);
	g_free(inc);
	g_free(error);
}

static void test_many_errors(void)
{
	struct ticketd_config *cfg = NULL;
	char *error = NULL, **lines;
	const char *text =
		"database = { conninfo = 5; };\n"
		"daemon = { secret_file = \"secret\"; poll_interval = \"soon\"; authserv_id = \"mx\"; "
		"};\n"
		"transport = { url = \"maildir:/x\"; };\n"
		"staff = (\n"
		"  { login = \"a\"; name = \"A\"; email = \"a@example.com\"; role = \"support\";\n"
		"    queues = [ \"nope\" ]; }\n"
		");\n"
		"queues = (\n"
		"  { name = \"s\"; address = \"s@example.com\"; bogus = 1; },\n"
		"  { name = \"s\"; address = \"t@example.com\"; priority = 0; }\n"
		");\n";

	is_int(load_text(text, &cfg, &error), -1, "config with many errors");
	lines = g_strsplit(error != NULL ? error : "", "\n", -1);
	is_int(g_strv_length(lines), 7, "seven errors reported in one run");
	if (g_strv_length(lines) == 7) {
		like(lines[0], ":1: database.conninfo: expected a string, got an integer", "1st");
		like(lines[1], ":2: daemon.poll_interval: 'soon' is not a duration", "2nd");
		like(lines[2], ":4: staff: no staff member has role \"admin\"", "3rd");
		like(lines[3], ":6: staff.a.queues: unknown queue 'nope'", "4th");
		like(lines[4], ":9: queues.s.bogus: unknown key 'bogus'", "5th");
		like(lines[5], ":10: queues.s.priority: 0 is out of range", "6th");
		like(lines[6], ":10: queues.s: duplicate queue name 's'", "7th, sorted by line");
	} else {
		printf("# %s\n", error);
	}
	g_strfreev(lines);
	g_free(error);
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	conf_path = g_build_filename(tmpdir, "t.conf", NULL);
	g_free(tmp_file("secret", "0123456789abcdef\n", 0600));
	g_free(tmp_file("support.pass", "pw", 0600));
	g_free(tmp_file("pgp.pass", "pw", 0400));
	g_free(tmp_file("tpl/new.txt", "Custom new ticket text.\n", 0644));

	test_durations();
	test_full();
	test_defaults();
	test_example();
	test_errors();
	test_include();
	test_many_errors();

	rm_tree(tmpdir);
	g_free(conf_path);
	return tap_done();
}
