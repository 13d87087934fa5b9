/*
 * test-mailout.c - lib/mailout.c without a database: the placeholders of
 * encrypted sections (numbered as secure_open() numbers them), quoting,
 * and mailout_make() of a notification carrying decrypted sections: its
 * row body and its mail show placeholders only, also when encryption to
 * the staff member's key was asked for and cannot be done (no GnuPG here;
 * tests/integration/19-pgp-notify.sh encrypts for real).
 */
#include "mailout.h"
#include "notify.h"
#include "secure.h"

#include "tap.h"

#include <gmime/gmime.h>
#include <string.h>

#define BLOCK  "-----BEGIN PGP MESSAGE-----\n\nhQEMA0xyz\n=ab\n-----END PGP MESSAGE-----"
#define QUOTED "> -----BEGIN PGP MESSAGE-----\n> \n> hQEMA0xyz\n> =ab\n> -----END PGP MESSAGE-----"

#define IS_PH(in, want, name)                                                                      \
	do {                                                                                       \
		char *got_ = mailout_placeholders(in);                                             \
		is_str(got_, want, name);                                                          \
		g_free(got_);                                                                      \
	} while (0)

static void test_placeholders(void)
{
	IS_PH(NULL, "", "NULL: empty");
	IS_PH("no armor here\n", "no armor here\n", "text without blocks as it is");
	IS_PH("Hello\n" BLOCK "\nBye\n", "Hello\n[encrypted section 1]\nBye\n", "one block");
	IS_PH(BLOCK "\n" BLOCK "\n", "[encrypted section 1]\n[encrypted section 2]\n",
	      "two blocks: 1, 2");
	IS_PH("[encrypted section 1]\n" BLOCK "\n",
	      "[encrypted section 1]\n[encrypted section 2]\n",
	      "a block after a decrypted section's placeholder: the next number");
	IS_PH(BLOCK "\n[encrypted section 2]\n", "[encrypted section 1]\n[encrypted section 2]\n",
	      "a block before a decrypted section: 1");
	IS_PH("[encrypted section 1]\n" BLOCK "\n[encrypted section 3]\n" BLOCK "\n",
	      "[encrypted section 1]\n[encrypted section 2]\n[encrypted section 3]\n"
	      "[encrypted section 4]\n",
	      "mixed: text order across both kinds");
	IS_PH("  [encrypted section 2]\n" BLOCK "\n",
	      "  [encrypted section 2]\n[encrypted section 3]\n", "an indented placeholder counts");
	IS_PH("> [encrypted section 5]\n" BLOCK "\n",
	      "> [encrypted section 5]\n[encrypted section 1]\n",
	      "a quoted placeholder (an earlier message's) does not count");
	IS_PH("see [encrypted section 4] above\n" BLOCK "\n",
	      "see [encrypted section 4] above\n[encrypted section 1]\n", "nor one inside a line");
	IS_PH("  " BLOCK "\n", "  [encrypted section 1]\n", "an indented block is a section");
	IS_PH("Hello\n-----BEGIN PGP MESSAGE-----\n\nhQEMA0xyz\n", "Hello\n[encrypted section 1]",
	      "a cut block runs to the end");
	IS_PH("-----BEGIN PGP MESSAGE-----\nhQEMA\n" BLOCK "\n",
	      "[encrypted section 1]\n[encrypted section 2]\n",
	      "a cut block ends where the next begins");
	IS_PH("you wrote:\n" QUOTED "\n" BLOCK "\n",
	      "you wrote:\n> [encrypted section]\n[encrypted section 1]\n",
	      "a quoted block: no number, and no ciphertext either");
	IS_PH("x -----BEGIN PGP MESSAGE----- y -----END PGP MESSAGE----- z\n",
	      "x [encrypted section] z\n", "armor inside a line: unnumbered");
	IS_PH("> -----BEGIN PGP MESSAGE-----\n> hQEMA\n" BLOCK "\n",
	      "> [encrypted section]\n[encrypted section 1]\n",
	      "a cut quoted block stops at the next section");
	IS_PH("[encrypted section 4294967295]\n" BLOCK "\n",
	      "[encrypted section 4294967295]\n[encrypted section 4294967295]\n",
	      "no overflow past the largest number");
}

static void test_quote(void)
{
	char *q = mailout_quote("a\n> b\n\nc\n");
	is_str(q, "> a\n>> b\n> \n> c\n", "quote: \"> \", \">\" before a quoted line");
	g_free(q);
}

/* A config, a queue with the built-in templates, and alice with a key. */
static struct config_staff staff[] = {
	{ .login = "alice",
	  .name = "Alice",
	  .email = "alice@example.com",
	  .pgp_key = "0123456789ABCDEF0123456789ABCDEF01234567" },
	{ .login = "bob", .name = "Bob", .email = "bob@example.com" },
};
static struct config_queue queue = { .name = "support",
				     .address = "support@example.com",
				     .from_name = "Support" };
static struct ticketd_config cfg = {
	.tag = "Ticket",
	.secret = "0123456789abcdef",
	.secret_len = 16,
	.staff = staff,
	.staff_count = 2,
	.queues = &queue,
	.queue_count = 1,
	.default_queue = &queue,
};

static const char raw_mail[] = "From: Carol <carol@example.net>\r\n"
			       "To: support@example.com\r\n"
			       "Subject: my order\r\n"
			       "Message-ID: <c1@example.net>\r\n"
			       "\r\n"
			       "Hello,\r\n"
			       "[encrypted section 1]\r\n"
			       "Bye\r\n";

static struct secure_part *part_new(unsigned section, unsigned part, const char *name,
				    const char *type, const char *content)
{
	struct secure_part *p = g_new0(struct secure_part, 1);
	p->section = section;
	p->part = part;
	p->attachment = part > 0;
	p->filename = g_strdup(name);
	p->content_type = g_strdup(type);
	p->content = g_bytes_new(content, strlen(content));
	return p;
}

static void part_free(gpointer data)
{
	struct secure_part *p = data;
	g_free(p->filename);
	g_free(p->content_type);
	g_bytes_unref(p->content);
	g_free(p);
}

static bool contains(const GByteArray *b, const char *needle)
{
	return b != NULL && memmem(b->data, b->len, needle, strlen(needle)) != NULL;
}

static void test_make(void)
{
	struct parsed_message *msg = NULL;
	struct secure_message sm = { .sections = 1 };
	struct notify_target alice = { .addr = "alice@example.com", .staff = &staff[0] };
	struct notify_target bob = { .addr = "bob@example.com", .staff = &staff[1] };
	struct mailout_made d = { 0 };
	struct mailout m;
	char *error = NULL;

	queue.templates[TEMPLATE_NOTIFICATION] = template_builtin(TEMPLATE_NOTIFICATION);
	if (message_parse(raw_mail, strlen(raw_mail), NULL, &msg, &error) < 0) {
		ok(0, "parse the customer's mail");
		printf("# %s\n", error);
		return;
	}
	sm.parts = g_ptr_array_new_with_free_func(part_free);
	sm.failures = g_ptr_array_new();
	m = (struct mailout){ .cfg = &cfg,
			      .queue = &queue,
			      .template = TEMPLATE_NOTIFICATION,
			      .kind = MESSAGE_NOTIFICATION,
			      .automatic = true,
			      .auto_submitted = "auto-generated",
			      .ticket_id = 7,
			      .ticket_subject = "my order",
			      .ticket_status = TICKET_NEW,
			      .ticket_priority = 50,
			      .requestor_addr = "carol@example.net",
			      .to_addr = "alice@example.com",
			      .to_name = "Alice",
			      .msg = msg,
			      .secure = &sm,
			      .reply_to_queue = true,
			      .now = 1700000000 };

	is_str(notify_encrypt_to(&m, &alice), NULL, "no decrypted sections: nothing to encrypt");
	g_ptr_array_add(sm.parts,
			part_new(1, 0, NULL, "text/plain; charset=utf-8", "the secret order 4711"));
	g_ptr_array_add(sm.parts, part_new(1, 1, "invoice.txt", "text/plain", "secret invoice"));
	is_str(notify_encrypt_to(&m, &alice), staff[0].pgp_key,
	       "a member with a key: encrypted to it");
	is_str(notify_encrypt_to(&m, &bob), NULL, "a member without: placeholders");
	bob.staff = NULL;
	is_str(notify_encrypt_to(&m, &bob), NULL, "a list address: placeholders");

	ok(mailout_make(&m, &d, &error) == 0, "plain notification made");
	like(d.out->body, "Hello,\n[encrypted section 1]\nBye", "row body: the placeholder");
	ok(!d.encrypted && d.encrypt_error == NULL, "not asked to encrypt: no error");
	ok(contains(d.raw, "[encrypted section 1]") && !contains(d.raw, "secret") &&
		   !contains(d.raw, "multipart/encrypted"),
	   "the mail: the placeholder, no plaintext");
	mailout_made_clear(&d);

	/* asked to, without keys: the plain notification and a reason */
	m.encrypt_to = staff[0].pgp_key;
	ok(mailout_make(&m, &d, &error) == 0, "encrypt_to without keys: still made");
	ok(!d.encrypted, "... not encrypted");
	like(d.encrypt_error, "no GnuPG home", "... the reason says why");
	is_str(d.encrypt_login, "alice", "... and names the login");
	ok(contains(d.raw, "[encrypted section 1]") && !contains(d.raw, "secret"),
	   "... the mail shows the placeholder only");
	ok(d.encrypt_error != NULL && strstr(d.encrypt_error, "secret") == NULL,
	   "... the reason holds no plaintext");
	mailout_made_clear(&d);

	/* encrypt_to but nothing decrypted: nothing to hide, no error */
	g_ptr_array_set_size(sm.parts, 0);
	ok(mailout_make(&m, &d, &error) == 0 && !d.encrypted && d.encrypt_error == NULL,
	   "no decrypted sections: the plain notification, no warning");
	mailout_made_clear(&d);

	g_ptr_array_free(sm.parts, TRUE);
	g_ptr_array_free(sm.failures, TRUE);
	message_free(&msg);
	template_free(&queue.templates[TEMPLATE_NOTIFICATION]);
	g_free(error);
}

int main(void)
{
	message_init();
	test_placeholders();
	test_quote();
	test_make();
	message_deinit();
	return tap_done();
}
