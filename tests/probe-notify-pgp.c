/*
 * probe-notify-pgp.c - a notification carrying a decrypted section, made by
 * mailout_make() (no database) for tests/integration/19-pgp-notify.sh,
 * which makes the keys with real GnuPG and reads the mails back with
 * Python's email package and gpg --decrypt.
 *
 * The customer's message shows "[encrypted section 1]"; its secure
 * message, built here by hand, holds section 1: part 0 (text) and part 1
 * (an attachment "rechnung.txt").
 *
 * Usage: probe-notify-pgp -h HOME -k FPR [-b BADKEY] -o PREFIX
 *   writes PREFIX.enc (the notification encrypted to FPR), PREFIX.body
 *   (its message row's body), PREFIX.plain (the same without encrypt_to),
 *   and with -b PREFIX.fail (encrypt_to BADKEY, which cannot be used);
 *   prints one line per mail: "NAME encrypted=0|1 login=LOGIN error=REASON"
 *   ("-" for none).  Plaintext goes only into those files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mailout.h"
#include "notify.h"
#include "secure.h"

static const char raw_mail[] = "From: Carol <carol@example.net>\r\n"
			       "To: support@example.com\r\n"
			       "Subject: my order\r\n"
			       "Message-ID: <c1@example.net>\r\n"
			       "References: <r0@example.net>\r\n"
			       "\r\n"
			       "Hello,\r\n"
			       "\r\n"
			       "[encrypted section 1]\r\n"
			       "\r\n"
			       "Carol\r\n";
static const char secret_text[] = "Geheime Bestellung 4711 \xe2\x80\x94 Gr\xc3\xbc\xc3\x9f"
				  "e aus K\xc3\xb6ln\n";
static const char secret_file[] = "Rechnung 0815 geheim\n";

static int write_file(const char *prefix, const char *ext, const void *data, size_t len)
{
	char *path = g_strconcat(prefix, ext, NULL);
	FILE *f = fopen(path, "wb");
	int ret = 0;

	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		ret = -1;
	}
	g_free(path);
	return ret;
}

static struct secure_part *part_new(unsigned part, const char *name, const char *type,
				    const char *content)
{
	struct secure_part *p = g_new0(struct secure_part, 1);
	p->section = 1;
	p->part = part;
	p->attachment = part > 0;
	p->filename = g_strdup(name);
	p->content_type = g_strdup(type);
	p->content = g_bytes_new(content, strlen(content));
	return p;
}

/* Makes one mail, writes it as PREFIX.EXT (and its body as .body when
 * body_too), prints its line. */
static int one(const char *name, const struct mailout *m, const char *prefix, bool body_too)
{
	struct mailout_made d = { 0 };
	char *error = NULL, *ext = g_strconcat(".", name, NULL);
	int ret = -1;

	if (mailout_make(m, &d, &error) < 0) {
		printf("%s error: %s\n", name, error);
		goto out;
	}
	printf("%s encrypted=%d login=%s error=%s\n", name, d.encrypted ? 1 : 0,
	       d.encrypt_login != NULL ? d.encrypt_login : "-",
	       d.encrypt_error != NULL ? d.encrypt_error : "-");
	if (write_file(prefix, ext, d.raw->data, d.raw->len) < 0 ||
	    (body_too && write_file(prefix, ".body", d.out->body, strlen(d.out->body)) < 0))
		goto out;
	ret = 0;
out:
	mailout_made_clear(&d);
	g_free(error);
	g_free(ext);
	return ret;
}

int main(int argc, char **argv)
{
	const char *home = NULL, *fpr = NULL, *bad = NULL, *prefix = NULL;
	struct config_staff staff[2] = {
		{ .login = "alice", .name = "Alice Woods", .email = "alice@example.com" },
		{ .login = "bob", .name = "Bob Stone", .email = "bob@example.com" },
	};
	struct config_queue queue = { .name = "support",
				      .address = "support@example.com",
				      .from_name = "Support" };
	struct ticketd_config cfg = { .tag = "Ticket",
				      .secret = "0123456789abcdef",
				      .secret_len = 16,
				      .staff = staff,
				      .staff_count = 2,
				      .queues = &queue,
				      .queue_count = 1,
				      .default_queue = &queue };
	struct secure_message sm = { .sections = 1 };
	struct notify_target target = { .addr = staff[0].email,
					.name = staff[0].name,
					.staff = &staff[0] };
	struct parsed_message *msg = NULL;
	struct secure_keys *keys;
	struct mailout m;
	char *error = NULL;
	int c, status = 0;

	while ((c = getopt(argc, argv, "h:k:b:o:")) != -1) {
		switch (c) {
		case 'h':
			home = optarg;
			break;
		case 'k':
			fpr = optarg;
			break;
		case 'b':
			bad = optarg;
			break;
		case 'o':
			prefix = optarg;
			break;
		default:
			return 2;
		}
	}
	if (home == NULL || fpr == NULL || prefix == NULL) {
		fprintf(stderr, "usage: probe-notify-pgp -h HOME -k FPR [-b BADKEY] -o PREFIX\n");
		return 2;
	}
	message_init();
	pgp_init();
	cfg.gnupg_home = (char *)home;
	staff[0].pgp_key = (char *)fpr;
	queue.templates[TEMPLATE_NOTIFICATION] = template_builtin(TEMPLATE_NOTIFICATION);
	if (message_parse(raw_mail, strlen(raw_mail), NULL, &msg, &error) < 0) {
		fprintf(stderr, "message_parse: %s\n", error);
		return 1;
	}
	sm.parts = g_ptr_array_new();
	sm.failures = g_ptr_array_new();
	g_ptr_array_add(sm.parts, part_new(0, NULL, "text/plain; charset=utf-8", secret_text));
	g_ptr_array_add(sm.parts, part_new(1, "rechnung.txt", "text/plain", secret_file));
	keys = secure_keys_new(&cfg);

	/* as notify_write() sets it up for alice */
	m = (struct mailout){ .cfg = &cfg,
			      .queue = &queue,
			      .template = TEMPLATE_NOTIFICATION,
			      .kind = MESSAGE_NOTIFICATION,
			      .automatic = true,
			      .auto_submitted = "auto-generated",
			      .ticket_id = 42,
			      .ticket_subject = "my order",
			      .ticket_status = TICKET_NEW,
			      .ticket_priority = 50,
			      .requestor_addr = "carol@example.net",
			      .requestor_name = "Carol",
			      .to_addr = target.addr,
			      .to_name = target.name,
			      .msg = msg,
			      .staff = &staff[0],
			      .requestor_tickets = "(none)",
			      .prefix = notify_separator,
			      .reply_to_queue = true,
			      .secure = &sm,
			      .keys = keys,
			      .now = 1700000000 };
	m.encrypt_to = notify_encrypt_to(&m, &target);
	if (one("enc", &m, prefix, true) < 0)
		status = 1;
	m.encrypt_to = NULL;
	if (one("plain", &m, prefix, false) < 0)
		status = 1;
	if (bad != NULL) {
		staff[0].pgp_key = (char *)bad;
		m.encrypt_to = notify_encrypt_to(&m, &target);
		if (one("fail", &m, prefix, false) < 0)
			status = 1;
	}

	for (guint i = 0; i < sm.parts->len; i++) {
		struct secure_part *p = g_ptr_array_index(sm.parts, i);
		g_free(p->filename);
		g_free(p->content_type);
		g_bytes_unref(p->content);
		g_free(p);
	}
	g_ptr_array_free(sm.parts, TRUE);
	g_ptr_array_free(sm.failures, TRUE);
	secure_keys_free(&keys);
	message_free(&msg);
	template_free(&queue.templates[TEMPLATE_NOTIFICATION]);
	message_deinit();
	return status;
}
