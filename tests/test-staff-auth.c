/*
 * test-staff-auth.c - unit tests for lib/staff-auth.c: Authentication-Results
 * parsing (RFC 8601 grammar, comments, quoting, several headers, hostile
 * input), key matching, and staff_auth_check() over every combination of
 * methods.  Messages go through message_parse() as intake gives them.
 */
#include <glib.h>
#include <string.h>

#include "config.h"
#include "message.h"
#include "pgp.h"
#include "staff-auth.h"
#include "tap.h"

#define ALICE_FPR "0123456789ABCDEF0123456789ABCDEF01234567"
#define ALICE_SUB "89ABCDEF0123456789ABCDEF0123456789ABCDEF"
#define OTHER_FPR "FEDCBA9876543210FEDCBA9876543210FEDCBA98"

static struct parsed_message *parse(const char *from, const char *headers)
{
	char *raw = g_strdup_printf("From: %s\n%sTo: support@example.com\nSubject: hi\n\nbody\n",
				    from, headers);
	struct parsed_message *msg = NULL;
	char *error = NULL;

	if (message_parse(raw, strlen(raw), NULL, &msg, &error) < 0)
		printf("# parse failed: %s\n", error);
	g_free(error);
	g_free(raw);
	return msg;
}

/* staff_auth_authres over one message with the given headers. */
static int authres(const char *headers, const char *id, const char *domain, const char **method)
{
	struct parsed_message *msg = parse("alice@example.com", headers);
	int r;

	*method = NULL;
	r = staff_auth_authres(msg, id, domain, method);
	message_free(&msg);
	return r;
}

#define AR "Authentication-Results: "

static void expect(const char *headers, int want, const char *want_method, const char *name)
{
	const char *method;

	is_int(authres(headers, "mx.example.com", "example.com", &method), want, name);
	is_str(method, want_method, name);
}

static void test_authres(void)
{
	const char *method;
	GString *huge;

	expect(AR "mx.example.com; dkim=pass header.d=example.com\n", 1, "dkim", "dkim pass");
	expect(AR "mx.example.com; spf=pass smtp.mailfrom=alice@example.com\n", 1, "spf",
	       "spf pass by smtp.mailfrom's domain");
	expect(AR "mx.example.com; spf=pass smtp.mailfrom=example.com\n", 1, "spf",
	       "spf pass, smtp.mailfrom a bare domain");
	expect(AR "MX.Example.COM; DKIM=Pass Header.D=EXAMPLE.com\n", 1, "dkim",
	       "id, method, result, property without regard to case");
	expect(AR "mx.example.com 1; dkim=pass header.d=example.com\n", 1, "dkim",
	       "authres-version");
	expect(AR "mx.example.com;\n\tdkim=pass\n\theader.d=example.com\n", 1, "dkim", "folded");
	expect(AR "(our mx) mx.example.com (v) 1 (x); (c) dkim (c) = (c) pass (c) header (c) . "
		  "(c) d (c) = (c) example.com (c)\n",
	       1, "dkim", "comments wherever CFWS goes");
	expect(AR "mx.example.com; dkim=pass (good (nested) sig) header.d=example.com\n", 1, "dkim",
	       "nested comment");
	expect(AR "\"mx.example.com\"; dkim=pass header.d=\"example.com\"\n", 1, "dkim",
	       "quoted authserv-id and value");
	expect(AR "mx.example.com; dkim/1=pass header.d=example.com\n", 1, "dkim",
	       "method version");
	expect(AR "mx.example.com; dkim=pass header.i=@example.com\n", 1, "dkim",
	       "header.i's domain without header.d");
	expect(AR "mx.example.com; dkim=pass header.i=alice@example.com header.s=sel "
		  "header.b=\"ab/c+d=\"\n",
	       1, "dkim", "header.i with other properties");
	expect(AR "mx.example.com; dkim=pass header.b=ab/c+d= header.d=example.com\n", 1, "dkim",
	       "a base64 property value with / + =");
	expect(AR "mx.example.com; spf=fail smtp.mailfrom=example.com; dkim=fail "
		  "header.d=example.com; dkim=pass reason=\"good key\" header.d=example.com\n",
	       1, "dkim", "several resinfo, the third passes, with a reason");
	expect(AR "other.example.net; dkim=pass header.d=example.com\n" AR
		  "mx.example.com; spf=pass smtp.mailfrom=example.com\n",
	       1, "spf", "several headers: ours counts");

	expect(AR "mx.example.com; none\n", 0, NULL, "none");
	expect(AR "mx.example.com 1; none (nothing checked)\n", 0, NULL, "version and none");
	expect(AR "mx.example.com; dkim=pass header.d=evil.example\n", 0, NULL,
	       "dkim pass for another domain");
	expect(AR "mx.example.com; dkim=pass header.d=sub.example.com\n", 0, NULL,
	       "dkim pass for a subdomain");
	expect(AR "mx.example.com; dkim=pass header.d=evil.example header.i=@example.com\n", 0,
	       NULL, "header.i does not count beside another header.d");
	expect(AR "mx.example.com; dkim=fail header.d=example.com\n", 0, NULL, "dkim fail");
	expect(AR "mx.example.com; dkim=passed header.d=example.com\n", 0, NULL,
	       "result 'passed' is not pass");
	expect(AR "mx.example.com; spf=pass smtp.helo=example.com\n", 0, NULL,
	       "spf pass for the HELO name only");
	expect(AR "mx.example.com; spf=pass smtp.mailfrom=alice@evil.example\n", 0, NULL,
	       "spf pass for another domain");
	expect(AR "mx.example.com; dmarc=pass header.from=example.com\n", 0, NULL,
	       "another method");
	expect(AR "mx.example.com; dkim=fail (dkim=pass header.d=example.com) "
		  "header.d=example.com\n",
	       0, NULL, "dkim=pass inside a comment");
	expect(AR "mx.example.com (; dkim=pass header.d=example.com)\n", 0, NULL,
	       "the whole result inside a comment");
	expect(AR "other.example.net; dkim=pass header.d=example.com\n", 0, NULL,
	       "another authserv-id");
	expect(AR "mx.example.com.evil.example; dkim=pass header.d=example.com\n", 0, NULL,
	       "an authserv-id that only starts with ours");
	expect(AR "=?us-ascii?Q?mx.example.com?=; dkim=pass header.d=example.com\n", 0, NULL,
	       "an encoded-word does not become our id");
	expect(AR "mx.example.com; dkim=pass (unbalanced header.d=example.com\n", 0, NULL,
	       "unbalanced parenthesis");
	expect(AR "mx.example.com; dkim=pass header.d=example.com)\n", 0, NULL,
	       "a stray closing parenthesis");
	expect(AR "mx.example.com; dkim=pass header.d=\"example.com\n", 0, NULL,
	       "unbalanced quote");
	expect(AR "mx.example.com; dkim=pass header.d=example.com junk\n", 0, NULL,
	       "a stray token: the whole header counts for nothing");
	expect(AR "mx.example.com dkim=pass header.d=example.com\n", 0, NULL,
	       "no ';' before the result");
	expect(AR "mx.example.com\n", 0, NULL, "no result at all");
	expect(AR "mx.example.com; none; dkim=pass header.d=example.com\n", 0, NULL,
	       "none followed by a result");
	expect(AR "mx.example.com; =pass header.d=example.com\n", 0, NULL, "no method");
	expect("X-Authentication-Results: mx.example.com; dkim=pass header.d=example.com\n", 0,
	       NULL, "another header name");

	is_int(authres(AR "mx.example.com; dkim=pass header.d=example.com\n", NULL, "example.com",
		       &method),
	       0, "unset authserv_id accepts nothing");
	is_int(authres(AR "mx.example.com; dkim=pass header.d=example.com\n", "mx.example.com",
		       "other.example", &method),
	       0, "from_domain decides");

	huge = g_string_new(AR "mx.example.com");
	for (int i = 0; i < 20000; i++)
		g_string_append(huge, "; dkim=fail header.d=example.com");
	g_string_append(huge, "; dkim=pass header.d=example.com\n");
	expect(huge->str, 0, NULL, "a huge header is not read");
	g_string_free(huge, TRUE);
	huge = g_string_new(AR "mx.example.com; dkim=pass ");
	for (int i = 0; i < 5000; i++)
		g_string_append_c(huge, '(');
	g_string_append(huge, " header.d=example.com\n");
	expect(huge->str, 0, NULL, "5000 open parentheses");
	g_string_free(huge, TRUE);
}

static void test_key_matches(void)
{
	is_int(staff_auth_key_matches(ALICE_FPR, ALICE_FPR), 1, "fingerprint equals");
	is_int(staff_auth_key_matches("0x0123 4567 89ab cdef 0123  4567 89AB CDEF 0123 4567",
				      ALICE_FPR),
	       1, "spaces, 0x and case do not matter");
	is_int(staff_auth_key_matches("0x89ABCDEF01234567", ALICE_FPR), 1, "16-digit key id");
	is_int(staff_auth_key_matches("01234567", ALICE_FPR), 1, "8-digit key id");
	is_int(staff_auth_key_matches("0123456789ABCDEF", ALICE_FPR), 0,
	       "a key id is the tail, not the head");
	is_int(staff_auth_key_matches(OTHER_FPR, ALICE_FPR), 0, "another fingerprint");
	is_int(staff_auth_key_matches("0123456789ABCDEF0123456789ABCDEF0123456", ALICE_FPR), 0,
	       "39 digits are neither fingerprint nor key id");
	is_int(staff_auth_key_matches("0123456789ABCDEF0123456789ABCDEF0123456G", ALICE_FPR), 0,
	       "not hex");
	is_int(staff_auth_key_matches("", ALICE_FPR), 0, "empty key");
	is_int(staff_auth_key_matches(ALICE_FPR, NULL), 0, "no fingerprint");
}

static char *list_pgp_authres[] = { "pgp", "authres", NULL };
static char *list_pgp[] = { "pgp", NULL };
static char *list_authres[] = { "authres", NULL };
static char *list_none[] = { "none", NULL };

static struct config_staff staff[2];
static struct ticketd_config cfg;

static void setup_cfg(char **global)
{
	memset(staff, 0, sizeof(staff));
	staff[0].login = "alice";
	staff[0].name = "Alice Woods";
	staff[0].email = "alice@example.com";
	staff[0].pgp_key = ALICE_FPR;
	staff[1].login = "bob";
	staff[1].name = "Bob Stone";
	staff[1].email = "bob@example.com";
	memset(&cfg, 0, sizeof(cfg));
	cfg.staff = staff;
	cfg.staff_count = 2;
	cfg.staff_auth = global;
	cfg.authserv_id = "mx.example.com";
}

struct check_case {
	const char *from;
	const char *headers;
	enum pgp_sig_status status; /* PGP_SIG_NONE: no signature passed */
	const char *fpr, *primary;
	bool partial;
	const char *want_login; /* NULL: not staff */
	const char *want_how, *want_why;
};

static void run_check(const struct check_case *c, const char *name)
{
	struct parsed_message *msg = parse(c->from, c->headers);
	struct pgp_signature sig = { c->status, (char *)c->fpr, (char *)c->primary, c->partial };
	const char *how = NULL, *why = NULL;
	const struct config_staff *st;

	st = staff_auth_check(&cfg, msg, c->status != PGP_SIG_NONE ? &sig : NULL, &how, &why);
	is_str(st != NULL ? st->login : NULL, c->want_login, name);
	is_str(how, c->want_how, name);
	is_str(why, c->want_why, name);
	message_free(&msg);
}

#define DKIM_OK AR "mx.example.com; dkim=pass header.d=example.com\n"
#define WHY_BOTH(p)                                                                                \
	"alice: pgp: " p                                                                           \
	"; alice: authres: no Authentication-Results pass for example.com from mx.example.com"
#define WHY_AR "alice: authres: no Authentication-Results pass for example.com from mx.example.com"

static void test_check(void)
{
	setup_cfg(list_pgp_authres);
	run_check(&(struct check_case){ "Alice <alice@example.com>", "", PGP_SIG_GOOD, ALICE_FPR,
					ALICE_FPR, false, "alice", "pgp", NULL },
		  "pgp,authres: good signature by alice's key");
	run_check(&(struct check_case){ "alice@example.com", DKIM_OK, PGP_SIG_NONE, NULL, NULL,
					false, "alice", "authres", NULL },
		  "pgp,authres: unsigned, our dkim pass");
	run_check(&(struct check_case){ "alice@example.com", "", PGP_SIG_NONE, NULL, NULL, false,
					NULL, NULL, WHY_BOTH("no signature") },
		  "pgp,authres: neither");
	run_check(&(struct check_case){ "ALICE@Example.COM", "", PGP_SIG_GOOD, ALICE_FPR, ALICE_FPR,
					false, "alice", "pgp", NULL },
		  "the address matches without regard to case");
	run_check(&(struct check_case){ "\"Alice Woods\" <mallory@evil.example>",
					AR "mx.example.com; dkim=pass header.d=evil.example\n",
					PGP_SIG_GOOD, OTHER_FPR, OTHER_FPR, false, NULL, NULL,
					"not a staff address" },
		  "a customer with a staff member's display name");
	run_check(&(struct check_case){ "\"alice@example.com\" <mallory@evil.example>", "",
					PGP_SIG_GOOD, OTHER_FPR, OTHER_FPR, false, NULL, NULL,
					"not a staff address" },
		  "a staff address as display name only");
	run_check(&(struct check_case){ "alice@example.com", "", PGP_SIG_GOOD, OTHER_FPR, OTHER_FPR,
					false, NULL, NULL, WHY_BOTH("signed by another key") },
		  "forged From with a good signature by another key");
	run_check(&(struct check_case){ "alice@example.com", "", PGP_SIG_BAD, ALICE_FPR, ALICE_FPR,
					false, NULL, NULL, WHY_BOTH("bad signature") },
		  "bad signature by alice's key");
	run_check(&(struct check_case){ "alice@example.com", "", PGP_SIG_UNKNOWN_KEY,
					"89ABCDEF01234567", NULL, false, NULL, NULL,
					WHY_BOTH("signature by an unknown key") },
		  "unknown key, even with a matching key id");
	run_check(&(struct check_case){ "alice@example.com", "", PGP_SIG_GOOD, ALICE_SUB, ALICE_FPR,
					false, "alice", "pgp", NULL },
		  "signed by a subkey of alice's primary key");
	run_check(&(struct check_case){ "alice@example.com", "", PGP_SIG_GOOD, ALICE_FPR, ALICE_FPR,
					true, NULL, NULL,
					WHY_BOTH("the signature covers only part of the message") },
		  "a good signature over only part of the message");
	run_check(&(struct check_case){ "bob@example.com", "", PGP_SIG_GOOD, OTHER_FPR, OTHER_FPR,
					false, NULL, NULL,
					"bob: pgp: no pgp_key configured; bob: authres: no "
					"Authentication-Results pass for example.com from "
					"mx.example.com" },
		  "a member without pgp_key");
	run_check(&(struct check_case){ "bob@example.com",
					AR "mx.example.com; spf=pass smtp.mailfrom=example.com\n",
					PGP_SIG_NONE, NULL, NULL, false, "bob", "authres", NULL },
		  "bob by spf");

	setup_cfg(list_pgp);
	run_check(&(struct check_case){ "alice@example.com", DKIM_OK, PGP_SIG_NONE, NULL, NULL,
					false, NULL, NULL, "alice: pgp: no signature" },
		  "pgp only: a dkim pass does not count");
	run_check(&(struct check_case){ "alice@example.com", "", PGP_SIG_GOOD, ALICE_FPR, ALICE_FPR,
					false, "alice", "pgp", NULL },
		  "pgp only: good signature");

	setup_cfg(list_authres);
	run_check(&(struct check_case){ "alice@example.com", "", PGP_SIG_GOOD, ALICE_FPR, ALICE_FPR,
					false, NULL, NULL, WHY_AR },
		  "authres only: a good signature does not count");
	run_check(&(struct check_case){ "alice@example.com", DKIM_OK, PGP_SIG_NONE, NULL, NULL,
					false, "alice", "authres", NULL },
		  "authres only: dkim pass");
	cfg.authserv_id = NULL;
	run_check(&(struct check_case){ "alice@example.com", DKIM_OK, PGP_SIG_NONE, NULL, NULL,
					false, NULL, NULL,
					"alice: authres: daemon.authserv_id is unset" },
		  "authres without authserv_id proves nothing");

	setup_cfg(list_none);
	run_check(&(struct check_case){ "alice@example.com", "", PGP_SIG_NONE, NULL, NULL, false,
					"alice", "none", NULL },
		  "none: the From address is believed");
	run_check(&(struct check_case){ "carol@example.com", "", PGP_SIG_NONE, NULL, NULL, false,
					NULL, NULL, "not a staff address" },
		  "none: still only staff addresses");

	/* per-staff auth overrides the global list, both ways */
	setup_cfg(list_none);
	staff[0].auth = list_pgp;
	run_check(&(struct check_case){ "alice@example.com", DKIM_OK, PGP_SIG_NONE, NULL, NULL,
					false, NULL, NULL, "alice: pgp: no signature" },
		  "global none, alice's own [pgp]");
	run_check(&(struct check_case){ "bob@example.com", "", PGP_SIG_NONE, NULL, NULL, false,
					"bob", "none", NULL },
		  "global none still holds for bob");
	setup_cfg(list_pgp);
	staff[1].auth = list_authres;
	run_check(&(struct check_case){ "bob@example.com", DKIM_OK, PGP_SIG_NONE, NULL, NULL, false,
					"bob", "authres", NULL },
		  "global pgp, bob's own [authres]");
	run_check(&(struct check_case){ "alice@example.com", DKIM_OK, PGP_SIG_NONE, NULL, NULL,
					false, NULL, NULL, "alice: pgp: no signature" },
		  "global pgp still holds for alice");
}

int main(void)
{
	message_init();
	test_authres();
	test_key_matches();
	test_check();
	message_deinit();
	return tap_done();
}
