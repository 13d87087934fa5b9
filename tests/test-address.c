/*
 * test-address.c - the address rule of lib/address.c: which addr-specs are
 * valid (and why not), the stored and matching spellings, equality, and the
 * SMTP envelope form.
 */
#include "address.h"
#include "tap.h"

#include <glib.h>
#include <string.h>

static const char *const valid[] = {
	"\"j,s\"@customer.example",
	"o'brien@example.ie",
	"user+tag@example.com",
	"\"john doe\"@example.com",
	"jörg@bücher.example",
	"a@b.example",
	"kunde@bücher.example",
	"first.last@sub.example.org",
	"!#$%&'*+-/=?^_`{|}~@example.com",
	"\"a\\\"b\"@example.com",
	"\"a\\\\b\"@example.com",
	"\"\"@example.com",
	"\"a@b\"@example.com",
	"user@[192.0.2.1]",
	"user@[IPv6:2001:db8::1]",
	"root@localhost",
	"x@xn--bcher-kva.example",
	"用户@例子.广告",
	"a@1-2.example",
};

struct bad {
	const char *addr;
	const char *reason; /* a part of the reason */
};

static const struct bad invalid[] = {
	{ "", "empty address" },
	{ "a@", "empty domain" },
	{ "@b", "empty local part" },
	{ "a b@c", "' ' in an unquoted local part" },
	{ "a@@b", "more than one '@'" },
	{ "a@b@c", "more than one '@'" },
	{ "a..b@c", "two dots" },
	{ ".a@b", "starts or ends with '.'" },
	{ "a.@b", "starts or ends with '.'" },
	{ "\"abc@example.com", "unbalanced quote" },
	{ "abc\"@example.com", "quote inside an unquoted" },
	{ "\"a\"b\"@example.com", "text after the quoted local part" },
	{ "\"ab\\\"@example.com", "unbalanced quote" },
	{ "a\x01@example.com", "control character 0x01" },
	{ "a\x7f@example.com", "control character 0x7f" },
	{ "a\xc2\x85@example.com", "control character 0x85" },
	{ "\"a\x01\"@example.com", "control character" },
	{ "victim@example.com\r\nBcc: all@example.com", "line break" },
	{ "victim@example.com\nBcc: x@y", "line break" },
	{ "\"a\rb\"@example.com", "line break" },
	{ "a\xff@example.com", "not valid UTF-8" },
	{ "noat.example.com", "no '@'" },
	{ "a@b..example", "empty label" },
	{ "a@.example", "empty label" },
	{ "a@example.", "empty label" },
	{ "a@-x.example", "starts or ends with '-'" },
	{ "a@x-.example", "starts or ends with '-'" },
	{ "a@ex_ample.com", "'_' in the domain" },
	{ "a@exa mple.com", "' ' in the domain" },
	{ "a@[192.0.2.1", "domain literal" },
	{ "a@[]", "domain literal" },
	{ "<a@b.example>", "'<' in an unquoted" },
	{ "a,b@example.com", "',' in an unquoted" },
	{ "a@b.example>", "'>' in the domain" },
};

static void test_valid(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(valid); i++) {
		char *error = NULL, *name = g_strdup_printf("valid: %s", valid[i]);
		int r = address_check(valid[i], &error);
		ok(r == 0 && error == NULL, name);
		if (error != NULL)
			printf("#   reason: %s\n", error);
		g_free(error);
		g_free(name);
	}
}

static void test_invalid(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(invalid); i++) {
		char *error = NULL, *clean = g_strescape(invalid[i].addr, NULL);
		char *name = g_strdup_printf("invalid: %s", clean);
		ok(address_check(invalid[i].addr, &error) == -1, name);
		g_free(name);
		name = g_strdup_printf("reason for %s", clean);
		like(error, invalid[i].reason, name);
		ok(!address_valid(invalid[i].addr), "address_valid agrees");
		ok(address_normalise(invalid[i].addr) == NULL &&
			   address_key(invalid[i].addr) == NULL,
		   "no spelling of an invalid address");
		g_free(name);
		g_free(clean);
		g_free(error);
	}
	ok(address_check(NULL, NULL) == -1, "NULL is invalid");
}

static void test_length(void)
{
	GString *s = g_string_new("");
	char *error = NULL;

	/* 254 octets is the limit: 64 + '@' + 3 * (60 + '.') + 6 */
	for (int i = 0; i < 64; i++)
		g_string_append_c(s, 'l');
	g_string_append_c(s, '@');
	for (int label = 0; label < 3; label++) {
		for (int i = 0; i < 60; i++)
			g_string_append_c(s, 'd');
		g_string_append_c(s, '.');
	}
	g_string_append(s, "dddddd");
	is_int(s->len, 254, "test address is 254 octets");
	ok(address_check(s->str, &error) == 0, "254 octets are valid");
	if (error != NULL)
		printf("#   reason: %s\n", error);
	g_string_insert_c(s, 0, 'l');
	ok(address_check(s->str, &error) == -1, "255 octets are invalid");
	like(error, "longer than 254", "reason: too long");
	g_string_free(s, TRUE);
	g_free(error);
	error = NULL;

	s = g_string_new("a@");
	for (int i = 0; i < 64; i++)
		g_string_append_c(s, 'd');
	g_string_append(s, ".example");
	ok(address_check(s->str, &error) == -1, "64-octet domain label is invalid");
	like(error, "label longer than 63", "reason: label too long");
	g_string_free(s, TRUE);
	g_free(error);
}

static void test_spellings(void)
{
	char *s;

	s = address_normalise("\"j,s\"@Customer.EXAMPLE");
	is_str(s, "\"j,s\"@customer.example", "normalise keeps the quotes, lowers the domain");
	g_free(s);
	s = address_normalise("John.Doe@Example.COM");
	is_str(s, "John.Doe@example.com", "normalise keeps the local part's case");
	g_free(s);
	s = address_normalise("Jörg@BÜCHER.example");
	is_str(s, "Jörg@bücher.example", "normalise lowers a U-label domain, keeps it a U-label");
	g_free(s);

	s = address_key("John.Doe@Example.COM");
	is_str(s, "john.doe@example.com", "key is lower-cased");
	g_free(s);
	s = address_key("\"John\"@example.com");
	is_str(s, "john@example.com", "key drops quotes that add nothing");
	g_free(s);
	s = address_key("\"J,S\"@customer.example");
	is_str(s, "\"j,s\"@customer.example", "key keeps needed quotes");
	g_free(s);
	s = address_key("\"a\\b\"@example.com");
	is_str(s, "ab@example.com", "key drops a needless quoted-pair");
	g_free(s);
	s = address_key("\"a\\\"b\"@example.com");
	is_str(s, "\"a\\\"b\"@example.com", "key keeps an escaped quote escaped");
	g_free(s);
	s = address_key("JÖRG@Bücher.Example");
	is_str(s, "jörg@bücher.example", "key lowers UTF-8 too");
	g_free(s);
	s = address_key("jo\xcc\x88rg@bu\xcc\x88"
			"cher.example");
	is_str(s, "jörg@bücher.example", "key is NFC");
	g_free(s);

	ok(address_equal("Support@Example.com", "support@example.com"), "equal ignores case");
	ok(address_equal("\"support\"@example.com", "support@example.com"),
	   "equal: needless quotes");
	ok(address_equal("kunde@bücher.example", "kunde@xn--bcher-kva.example"),
	   "equal: U-label and A-label");
	ok(!address_equal("\"j,s\"@customer.example", "js@customer.example"),
	   "not equal: different local parts");
	ok(!address_equal("a@b.example", "a@c.example"), "not equal: different domains");
	ok(address_equal("broken address", "BROKEN address"), "invalid input: text compare");
	ok(!address_equal(NULL, "a@b.example"), "NULL equals nothing");
}

static void test_envelope(void)
{
	char *error = NULL, *s;

	s = address_envelope("\"j,s\"@customer.example", &error);
	is_str(s, "\"j,s\"@customer.example", "envelope keeps the quoted local part");
	g_free(s);
	s = address_envelope("\"john doe\"@example.com", &error);
	is_str(s, "\"john doe\"@example.com", "envelope keeps a quoted blank");
	g_free(s);
	s = address_envelope("Kunde@Bücher.example", &error);
	is_str(s, "Kunde@xn--bcher-kva.example", "envelope: A-label domain, local part as is");
	g_free(s);
	s = address_envelope("jörg@bücher.example", &error);
	is_str(s, "jörg@xn--bcher-kva.example", "envelope: UTF-8 local part stays");
	g_free(s);
	s = address_envelope("user@[192.0.2.1]", &error);
	is_str(s, "user@[192.0.2.1]", "envelope: domain literal as is");
	g_free(s);
	s = address_envelope("a@@b", &error);
	ok(s == NULL, "envelope of an invalid address");
	like(error, "more than one '@'", "envelope says why");
	g_free(error);
}

int main(void)
{
	test_valid();
	test_invalid();
	test_length();
	test_spellings();
	test_envelope();
	return tap_done();
}
