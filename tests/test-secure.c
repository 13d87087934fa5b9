/* test-secure.c - lib/secure.c without GnuPG: where sections are found, what
 * stays when nothing can decrypt them, the placeholders filled, the markers
 * of a signature, the stored names of signature states.  Decryption itself
 * runs against real GnuPG in tests/integration/49-pgp-intake.sh. */
#include "message.h"
#include "secure.h"
#include "tap.h"

#include <stdio.h>
#include <string.h>

static struct parsed_message *parse(const char *raw)
{
	struct parsed_message *msg = NULL;
	char *error = NULL;

	if (message_parse(raw, strlen(raw), NULL, &msg, &error) < 0) {
		printf("# parse: %s\n", error);
		g_free(error);
	}
	return msg;
}

#define ARMOR                                                                                      \
	"-----BEGIN PGP MESSAGE-----\n\nhQEMA1234567890AQf/abc\n=abcd\n-----END PGP MESSAGE-----\n"

static void test_without_keys(void)
{
	const char *raw = "From: c@example.com\nTo: s@example.com\nSubject: x\n\n"
			  "Before\n" ARMOR "Between\n  " ARMOR "> " ARMOR "After\n";
	struct parsed_message *msg = parse(raw);
	struct secure_message sm;
	char *before;

	ok(msg != NULL, "an inline message parses");
	if (msg == NULL)
		return;
	ok(secure_has_sections(msg), "it has sections");
	before = g_strdup(msg->text);
	secure_open(msg, raw, strlen(raw), NULL, NULL, &sm);
	is_int(sm.sections, 2, "two sections: the indented block counts, the quoted one not");
	is_int(sm.failures->len, 2, "without keys both fail");
	is_int(sm.parts->len, 0, "... and no secure part");
	is_str(msg->text, before, "... the text stays as it came");
	like(((struct secure_failure *)g_ptr_array_index(sm.failures, 1))->reason,
	     "no pgp.gnupg_home", "... the reason says why");
	is_int(((struct secure_failure *)g_ptr_array_index(sm.failures, 1))->section, 2,
	       "... numbered in text order");
	ok(!sm.sig_checked, "no keys: no signature checked");
	secure_message_clear(&sm);
	g_free(before);
	message_free(&msg);

	raw = "From: c@example.com\nTo: s@example.com\nSubject: x\nMIME-Version: 1.0\n"
	      "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; "
	      "boundary=b\n\n--b\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n"
	      "--b\nContent-Type: application/octet-stream\n\n" ARMOR "\n--b--\n";
	msg = parse(raw);
	ok(msg != NULL, "a PGP/MIME message parses");
	if (msg == NULL)
		return;
	is_int(msg->encrypted->len, 1, "the parser hands its payload over");
	is_int(msg->attachments->len, 0, "... and makes no attachment of it");
	is_str(msg->text, "", "... nor text");
	secure_open(msg, raw, strlen(raw), NULL, NULL, &sm);
	is_int(sm.sections, 1, "one section");
	is_int(sm.failures->len, 1, "without keys it fails");
	is_int(msg->attachments->len, 1, "... and is kept as an attachment");
	is_str(((struct mail_attachment *)g_ptr_array_index(msg->attachments, 0))->filename,
	       "encrypted.asc", "... encrypted.asc");
	secure_message_clear(&sm);
	message_free(&msg);

	/* malformed RFC 3156: one part only, or a multipart where the payload
	 * should be: walked as any multipart, nothing handed over */
	static const char *const bad[] = {
		"From: c@example.com\nSubject: x\nMIME-Version: 1.0\nContent-Type: multipart/"
		"encrypted; protocol=\"application/pgp-encrypted\"; boundary=b\n\n--b\n"
		"Content-Type: application/pgp-encrypted\n\nVersion: 1\n--b--\n",
		"From: c@example.com\nSubject: x\nMIME-Version: 1.0\nContent-Type: multipart/"
		"encrypted; protocol=\"application/pgp-encrypted\"; boundary=b\n\n--b\n"
		"Content-Type: application/pgp-encrypted\n\nVersion: 1\n--b\nContent-Type: "
		"multipart/mixed; boundary=c\n\n--c\nContent-Type: text/plain\n\nhi\n--c--\n"
		"--b--\n",
		"From: c@example.com\nSubject: x\nMIME-Version: 1.0\nContent-Type: multipart/"
		"encrypted; boundary=b\n\n--b\nContent-Type: text/plain\n\none\n--b\n"
		"Content-Type: application/octet-stream\n\n" ARMOR "--b--\n",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		msg = parse(bad[i]);
		ok(msg != NULL && msg->encrypted->len == 0,
		   "malformed multipart/encrypted: no payload");
		if (msg == NULL)
			continue;
		secure_open(msg, bad[i], strlen(bad[i]), NULL, NULL, &sm);
		ok(sm.parts->len == 0, "... and no secure part");
		secure_message_clear(&sm);
		message_free(&msg);
	}

	raw = "From: c@example.com\nTo: s@example.com\nSubject: x\n\nplain text\n";
	msg = parse(raw);
	if (msg == NULL)
		return;
	ok(!secure_has_sections(msg), "plain mail has no section");
	secure_open(msg, raw, strlen(raw), NULL, NULL, &sm);
	is_int(sm.sections, 0, "... and none is found");
	is_str(msg->text, "plain text\n", "... its text untouched");
	secure_message_clear(&sm);
	message_free(&msg);
}

static void test_fill(void)
{
	struct secure_message sm = { 0 };
	struct secure_part *p = g_new0(struct secure_part, 1);
	char *s;

	sm.parts = g_ptr_array_new();
	p->section = 2;
	p->content = g_bytes_new_static("two", 3);
	g_ptr_array_add(sm.parts, p);
	s = secure_fill_placeholders("a\n[encrypted section 1]\nb\n  [encrypted section 2]\nc\n"
				     "[encrypted section 2x]\n[encrypted section ",
				     &sm);
	is_str(s,
	       "a\n[encrypted section 1]\nb\n  two\nc\n[encrypted section 2x]\n[encrypted section ",
	       "only a whole placeholder with a part is filled, also after blanks");
	g_free(s);
	s = secure_fill_placeholders("[encrypted section 2]\n> [encrypted section 2] x "
				     "[encrypted section 2]",
				     &sm);
	is_str(s, "two\n> [encrypted section 2] x [encrypted section 2]",
	       "a quoted or mid-line placeholder is not this message's section");
	g_free(s);
	s = secure_fill_placeholders(NULL, &sm);
	is_str(s, "", "no text: empty");
	g_free(s);
	g_bytes_unref(p->content);
	g_free(p);
	g_ptr_array_unref(sm.parts);
}

static void test_markers(void)
{
	const char *a = "x\n-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n";
	const char *b = "Content-Type: multipart/signed; protocol=\"Application/PGP-Signature\"";
	const char *c = "Content-Type: text/plain\n\napplication/pgp-signatur";

	ok(secure_looks_signed(a, strlen(a)), "a clear-signed block looks signed");
	ok(secure_looks_signed(b, strlen(b)), "PGP/MIME signed, in any case, looks signed");
	ok(!secure_looks_signed(c, strlen(c)), "a cut marker does not");
	is_str(secure_sig_name(PGP_SIG_UNKNOWN_KEY), "unknown-key", "stored names");
	ok(secure_sig_name(PGP_SIG_NONE) == NULL, "unsigned: NULL");
}

int main(void)
{
	message_init();
	test_without_keys();
	test_fill();
	test_markers();
	message_deinit();
	return tap_done();
}
