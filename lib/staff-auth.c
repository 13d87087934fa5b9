/*
 * staff-auth.c - staff authentication: Authentication-Results (RFC 8601)
 * and the choice of methods per staff member.  Contract in staff-auth.h.
 *
 * The A-R parser is a small recursive-descent reader over one header
 * value.  It takes CFWS (whitespace, folding, nested comments with quoted
 * pairs) wherever the grammar allows it, so "dkim=pass" inside a comment is
 * never read as a result.  A header that does not follow the grammar
 * (unbalanced comment or quote, a stray token) counts for nothing: a
 * partial reading of a malformed header is exactly what a forger would aim
 * at.
 */
#include "staff-auth.h"

#include "address.h"

#include <glib.h>
#include <string.h>

#define AR_MAX_COMMENT_DEPTH 32
#define AR_MAX_RESULTS       64

struct ar_reader {
	const char *p, *end;
};

/* One resinfo: the method, its result and the properties we use. */
struct ar_result {
	GString *method, *result;
	GString *header_d, *header_i, *smtp_mailfrom;
	bool has_d, has_i, has_mailfrom;
};

static bool ar_at(const struct ar_reader *r, char c)
{
	return r->p < r->end && *r->p == c;
}

/* Skips whitespace (CR and LF of folding too) and comments.  False on an
 * unbalanced or absurdly nested comment. */
static bool ar_cfws(struct ar_reader *r)
{
	for (;;) {
		while (r->p < r->end &&
		       (*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n'))
			r->p++;
		if (!ar_at(r, '('))
			return true;
		int depth = 0;
		do {
			if (r->p >= r->end)
				return false;
			if (*r->p == '\\') {
				if (++r->p >= r->end)
					return false;
			} else if (*r->p == '(') {
				if (++depth > AR_MAX_COMMENT_DEPTH)
					return false;
			} else if (*r->p == ')') {
				depth--;
			}
			r->p++;
		} while (depth > 0);
	}
}

static bool ar_keyword_char(char c)
{
	return g_ascii_isalnum(c) || c == '-' || c == '_';
}

/* Keyword (RFC 5321 Ldh-str, '_' tolerated) into out; false when empty. */
static bool ar_keyword(struct ar_reader *r, GString *out)
{
	g_string_truncate(out, 0);
	while (r->p < r->end && ar_keyword_char(*r->p))
		g_string_append_c(out, *r->p++);
	return out->len > 0;
}

/* quoted-string, its content unquoted into out. */
static bool ar_quoted(struct ar_reader *r, GString *out)
{
	r->p++; /* the opening quote */
	while (r->p < r->end && *r->p != '"') {
		if (*r->p == '\\' && ++r->p >= r->end)
			return false;
		g_string_append_c(out, *r->p++);
	}
	if (r->p >= r->end)
		return false;
	r->p++;
	return true;
}

/* A value (token or quoted-string) or a pvalue ([local-part "@"] domain):
 * everything up to CFWS, ';' or a comment; a quoted local part may be
 * followed by "@domain". */
static bool ar_value(struct ar_reader *r, GString *out)
{
	g_string_truncate(out, 0);
	if (ar_at(r, '"')) {
		if (!ar_quoted(r, out))
			return false;
		if (!ar_at(r, '@'))
			return true;
	}
	while (r->p < r->end && !strchr(" \t\r\n;()\"\\", *r->p))
		g_string_append_c(out, *r->p++);
	return out->len > 0;
}

static void ar_result_reset(struct ar_result *res)
{
	g_string_truncate(res->method, 0);
	g_string_truncate(res->result, 0);
	res->has_d = res->has_i = res->has_mailfrom = false;
}

/* The domain of a pvalue: after the last '@', or the whole value. */
static const char *ar_domain(const char *v)
{
	const char *at = strrchr(v, '@');
	return at != NULL ? at + 1 : v;
}

/* Does this resinfo prove from_domain?  "dkim", "spf" or NULL. */
static const char *ar_proves(const struct ar_result *res, const char *from_domain)
{
	if (g_ascii_strcasecmp(res->result->str, "pass") != 0)
		return NULL;
	if (g_ascii_strcasecmp(res->method->str, "dkim") == 0) {
		/* header.i counts only without header.d: d is the signing
		 * domain, and i must lie within it anyway. */
		const char *d = res->has_d   ? res->header_d->str
				: res->has_i ? ar_domain(res->header_i->str)
					     : NULL;
		if (d != NULL && g_ascii_strcasecmp(d, from_domain) == 0)
			return "dkim";
	} else if (g_ascii_strcasecmp(res->method->str, "spf") == 0) {
		if (res->has_mailfrom &&
		    g_ascii_strcasecmp(ar_domain(res->smtp_mailfrom->str), from_domain) == 0)
			return "spf";
	}
	return NULL;
}

/* One propspec or reasonspec after a methodspec; the ptype or "reason"
 * keyword is in word. */
static bool ar_property(struct ar_reader *r, GString *word, GString *tmp, struct ar_result *res)
{
	GString *ptype = g_string_new(word->str);
	bool good = false;

	if (!ar_cfws(r))
		goto out;
	if (g_ascii_strcasecmp(ptype->str, "reason") == 0 && ar_at(r, '=')) {
		r->p++;
		good = ar_cfws(r) && ar_value(r, tmp);
		goto out;
	}
	if (!ar_at(r, '.'))
		goto out;
	r->p++;
	if (!ar_cfws(r) || !ar_keyword(r, word) || !ar_cfws(r) || !ar_at(r, '='))
		goto out;
	r->p++;
	if (!ar_cfws(r) || !ar_value(r, tmp))
		goto out;
	good = true;
	/* The first of a repeated property counts, like a repeated header. */
	if (g_ascii_strcasecmp(ptype->str, "header") == 0 &&
	    g_ascii_strcasecmp(word->str, "d") == 0 && !res->has_d) {
		g_string_assign(res->header_d, tmp->str);
		res->has_d = true;
	} else if (g_ascii_strcasecmp(ptype->str, "header") == 0 &&
		   g_ascii_strcasecmp(word->str, "i") == 0 && !res->has_i) {
		g_string_assign(res->header_i, tmp->str);
		res->has_i = true;
	} else if (g_ascii_strcasecmp(ptype->str, "smtp") == 0 &&
		   g_ascii_strcasecmp(word->str, "mailfrom") == 0 && !res->has_mailfrom) {
		g_string_assign(res->smtp_mailfrom, tmp->str);
		res->has_mailfrom = true;
	}
out:
	g_string_free(ptype, TRUE);
	return good;
}

/* One resinfo after its ';': methodspec, then reason and properties up to
 * the next ';' or the end.  *none_r is set for the no-result "none". */
static bool ar_resinfo(struct ar_reader *r, GString *word, GString *tmp, struct ar_result *res,
		       bool *none_r)
{
	ar_result_reset(res);
	if (!ar_cfws(r) || !ar_keyword(r, res->method) || !ar_cfws(r))
		return false;
	if (ar_at(r, '/')) { /* method-version */
		r->p++;
		if (!ar_cfws(r) || !ar_keyword(r, word) || !ar_cfws(r))
			return false;
	}
	if (!ar_at(r, '=')) {
		*none_r = g_ascii_strcasecmp(res->method->str, "none") == 0;
		return *none_r;
	}
	r->p++;
	if (!ar_cfws(r) || !ar_keyword(r, res->result) || !ar_cfws(r))
		return false;
	while (r->p < r->end && !ar_at(r, ';')) {
		if (!ar_keyword(r, word) || !ar_property(r, word, tmp, res) || !ar_cfws(r))
			return false;
	}
	return true;
}

/* One header value: "dkim", "spf" or NULL. */
static const char *ar_header(const char *value, const char *authserv_id, const char *from_domain)
{
	struct ar_reader r = { value, value + strlen(value) };
	GString *word = g_string_new(NULL), *tmp = g_string_new(NULL);
	struct ar_result res = {
		.method = g_string_new(NULL),
		.result = g_string_new(NULL),
		.header_d = g_string_new(NULL),
		.header_i = g_string_new(NULL),
		.smtp_mailfrom = g_string_new(NULL),
	};
	const char *proved = NULL;
	int count = 0;
	bool none = false;

	if (r.end - r.p > STAFF_AUTH_MAX_VALUE)
		goto out;
	if (!ar_cfws(&r) || !ar_value(&r, word) || g_ascii_strcasecmp(word->str, authserv_id) != 0)
		goto out;
	if (!ar_cfws(&r))
		goto out;
	if (r.p < r.end && g_ascii_isdigit(*r.p)) { /* authres-version */
		while (r.p < r.end && g_ascii_isdigit(*r.p))
			r.p++;
		if (!ar_cfws(&r))
			goto out;
	}
	/* At least one resinfo or "none"; each starts with ';'. */
	if (!ar_at(&r, ';'))
		goto out;
	while (ar_at(&r, ';')) {
		const char *mine;

		r.p++;
		if (++count > AR_MAX_RESULTS || !ar_resinfo(&r, word, tmp, &res, &none))
			goto fail;
		if (none) { /* no-result: only alone, then the end */
			if (count != 1 || !ar_cfws(&r) || r.p != r.end)
				goto fail;
			break;
		}
		mine = ar_proves(&res, from_domain);
		if (mine != NULL && proved == NULL)
			proved = mine;
	}
	if (r.p != r.end) /* a stray token after the results */
		goto fail;
	goto out;
fail:
	proved = NULL;
out:
	g_string_free(word, TRUE);
	g_string_free(tmp, TRUE);
	g_string_free(res.method, TRUE);
	g_string_free(res.result, TRUE);
	g_string_free(res.header_d, TRUE);
	g_string_free(res.header_i, TRUE);
	g_string_free(res.smtp_mailfrom, TRUE);
	return proved;
}

int staff_auth_authres(const struct parsed_message *msg, const char *authserv_id,
		       const char *from_domain, const char **method_r)
{
	unsigned seen = 0;

	if (authserv_id == NULL || *authserv_id == '\0' || from_domain == NULL ||
	    *from_domain == '\0' || msg->headers == NULL)
		return 0;
	for (guint i = 0; i < msg->headers->len && seen < STAFF_AUTH_MAX_HEADERS; i++) {
		const struct mail_header *h = msg->headers->pdata[i];
		const char *proved;

		if (g_ascii_strcasecmp(h->name, "Authentication-Results") != 0)
			continue;
		seen++;
		proved = ar_header(h->raw_value != NULL ? h->raw_value : h->value, authserv_id,
				   from_domain);
		if (proved != NULL) {
			if (method_r != NULL)
				*method_r = proved;
			return 1;
		}
	}
	return 0;
}

/* Hex digits of a fingerprint or key id, upper-cased, without spaces and
 * "0x"; NULL when anything else is in it. */
static char *key_hex(const char *s)
{
	GString *out = g_string_new(NULL);

	while (*s == ' ' || *s == '\t')
		s++;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	for (; *s != '\0'; s++) {
		if (*s == ' ' || *s == '\t')
			continue;
		if (!g_ascii_isxdigit(*s) || out->len >= 128) {
			g_string_free(out, TRUE);
			return NULL;
		}
		g_string_append_c(out, g_ascii_toupper(*s));
	}
	return g_string_free(out, FALSE);
}

int staff_auth_key_matches(const char *pgp_key, const char *fpr)
{
	char *want, *got;
	size_t wl, gl;
	int match = 0;

	if (pgp_key == NULL || fpr == NULL)
		return 0;
	want = key_hex(pgp_key);
	got = key_hex(fpr);
	if (want == NULL || got == NULL)
		goto out;
	wl = strlen(want);
	gl = strlen(got);
	if (wl == 8 || wl == 16)
		match = gl >= wl && strcmp(got + gl - wl, want) == 0;
	else if (wl == 40 || wl == 64)
		match = strcmp(got, want) == 0;
out:
	g_free(want);
	g_free(got);
	return match;
}

/* "pgp" holds for st?  Otherwise *why_r says why not. */
static bool check_pgp(const struct config_staff *st, const struct pgp_signature *sig,
		      const char **why_r)
{
	if (st->pgp_key == NULL) {
		*why_r = "no pgp_key configured";
		return false;
	}
	if (sig == NULL || sig->status == PGP_SIG_NONE) {
		*why_r = "no signature";
		return false;
	}
	if (sig->status != PGP_SIG_GOOD) {
		*why_r = pgp_sig_status_text(sig->status);
		return false;
	}
	if (!staff_auth_key_matches(st->pgp_key, sig->fingerprint) &&
	    !staff_auth_key_matches(st->pgp_key, sig->primary_fingerprint)) {
		*why_r = "signed by another key";
		return false;
	}
	/* Text outside the signature could carry commands of anyone's choosing
	 * above a genuine signed block. */
	if (sig->partial) {
		*why_r = "the signature covers only part of the message";
		return false;
	}
	return true;
}

static __thread char why_buf[512];

const struct config_staff *staff_auth_check(const struct ticketd_config *cfg,
					    const struct parsed_message *msg,
					    const struct pgp_signature *sig, const char **how_r,
					    const char **why_not_r)
{
	const struct config_staff *st;
	const char *pgp_why = NULL, *how = NULL, *domain;
	char **methods;
	bool tried_authres = false;

	st = msg->from != NULL ? config_staff_by_email(cfg, msg->from->addr) : NULL;
	if (st == NULL) {
		if (why_not_r != NULL)
			*why_not_r = "not a staff address";
		return NULL;
	}
	domain = strrchr(msg->from->addr, '@');
	domain = domain != NULL ? domain + 1 : "";
	methods = st->auth != NULL ? st->auth : cfg->staff_auth;
	for (size_t i = 0; methods != NULL && methods[i] != NULL && how == NULL; i++) {
		if (strcmp(methods[i], "none") == 0) {
			how = "none";
		} else if (strcmp(methods[i], "pgp") == 0) {
			if (check_pgp(st, sig, &pgp_why))
				how = "pgp";
		} else if (strcmp(methods[i], "authres") == 0) {
			tried_authres = true;
			if (staff_auth_authres(msg, cfg->authserv_id, domain, NULL) == 1)
				how = "authres";
		}
	}
	if (how != NULL) {
		if (how_r != NULL)
			*how_r = how;
		return st;
	}
	if (why_not_r != NULL) {
		GString *why = g_string_new(NULL);

		if (pgp_why != NULL)
			g_string_append_printf(why, "%s: pgp: %s", st->login, pgp_why);
		if (tried_authres) {
			g_string_append_printf(why, "%s%s: authres: ", why->len > 0 ? "; " : "",
					       st->login);
			if (cfg->authserv_id == NULL)
				g_string_append(why, "daemon.authserv_id is unset");
			else
				g_string_append_printf(
					why, "no Authentication-Results pass for %s from %s",
					domain, cfg->authserv_id);
		}
		if (why->len == 0)
			g_string_append_printf(why, "%s: no authentication method", st->login);
		g_strlcpy(why_buf, why->str, sizeof(why_buf));
		g_string_free(why, TRUE);
		*why_not_r = why_buf;
	}
	return NULL;
}
