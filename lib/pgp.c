/*
 * pgp.c - OpenPGP through GPGME: signature verification of whole incoming
 * messages today, decryption with issue 18.  Contract in pgp.h.
 *
 * GMime finds the structure (which part is multipart/signed, its boundary,
 * the signature part's decoded bytes, the text part of an inline
 * signature), but the signed data of PGP/MIME is taken from the raw bytes:
 * RFC 3156 signs the first part exactly as it was sent, and re-serialising
 * it through GMime may fold or re-encode headers.  The raw search is
 * anchored where a MIME parser looks (after the headers, the first
 * delimiter line of the right boundary), so a copy of a signed part hidden
 * in a preamble is not what gets verified.
 */
#include "pgp.h"
#include "message-gmime.h"
#include "pgp-private.h"

#include <gmime/gmime.h>
#include <gpgme.h>
#include <string.h>

#include "util.h"

/* An armored signature is a few hundred bytes; a bigger "signature" part is
 * not one we will feed to GnuPG. */
#define PGP_MAX_SIGNATURE (64 * 1024)

#define CLEARSIGN_BEGIN "-----BEGIN PGP SIGNED MESSAGE-----"
#define CLEARSIGN_END   "-----END PGP SIGNATURE-----"

static gpointer pgp_init_once(gpointer unused)
{
	gpgme_check_version(NULL);
	return NULL;
}

void pgp_init(void)
{
	static GOnce once = G_ONCE_INIT;

	g_once(&once, pgp_init_once, NULL);
}

const char *pgp_sig_status_text(enum pgp_sig_status status)
{
	switch (status) {
	case PGP_SIG_NONE:
		return "no signature";
	case PGP_SIG_GOOD:
		return "good signature";
	case PGP_SIG_BAD:
		return "bad signature";
	case PGP_SIG_UNKNOWN_KEY:
		return "signature by an unknown key";
	case PGP_SIG_EXPIRED:
		return "expired signature or key";
	case PGP_SIG_REVOKED:
		return "signature by a revoked key";
	case PGP_SIG_ERROR:
		break;
	}
	return "unusable signature";
}

void pgp_signature_clear(struct pgp_signature *sig)
{
	g_free(sig->fingerprint);
	g_free(sig->primary_fingerprint);
	memset(sig, 0, sizeof(*sig));
	sig->status = PGP_SIG_NONE;
}

/* The start of the line after the one at p, or end. */
static const char *next_line(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	return nl != NULL ? nl + 1 : end;
}

/* Where the body starts: after the first empty line; NULL without one. */
static const char *body_of(const char *p, const char *end)
{
	for (; p < end; p = next_line(p, end))
		if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))
			return next_line(p, end);
	return NULL;
}

/* Is the line at p a delimiter of boundary b ("--b" or "--b--", then only
 * whitespace)?  *close_r tells which. */
static bool is_delimiter(const char *p, const char *end, const char *b, size_t blen, bool *close_r)
{
	const char *e = next_line(p, end);

	if ((size_t)(e - p) < blen + 2 || p[0] != '-' || p[1] != '-' || memcmp(p + 2, b, blen) != 0)
		return false;
	p += 2 + blen;
	*close_r = e - p >= 2 && p[0] == '-' && p[1] == '-';
	if (*close_r)
		p += 2;
	for (; p < e; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			return false;
	return true;
}

/* The first delimiter line of b at or after p: its start, or NULL. */
static const char *find_delimiter(const char *p, const char *end, const char *b, bool *close_r)
{
	size_t blen = strlen(b);

	for (; p < end; p = next_line(p, end))
		if (is_delimiter(p, end, b, blen, close_r))
			return p;
	return NULL;
}

/* The first part of the multipart whose headers start at p and whose
 * boundary is b, as [*start_r, *end_r); false when it is not there. */
static bool first_part(const char *p, const char *end, const char *b, const char **start_r,
		       const char **end_r)
{
	const char *d1, *d2;
	bool close;

	if ((p = body_of(p, end)) == NULL || (d1 = find_delimiter(p, end, b, &close)) == NULL ||
	    close)
		return false;
	*start_r = next_line(d1, end);
	if ((d2 = find_delimiter(*start_r, end, b, &close)) == NULL)
		return false;
	/* The line break before a delimiter belongs to the delimiter. */
	if (d2 > *start_r && d2[-1] == '\n')
		d2--;
	if (d2 > *start_r && d2[-1] == '\r')
		d2--;
	*end_r = d2;
	return true;
}

/* LF → CRLF where a line does not end in CRLF already (RFC 3156 §5). */
static GString *canonical_crlf(const char *p, const char *end)
{
	GString *out = g_string_sized_new((gsize)(end - p) + 64);

	for (const char *q = p; q < end; q++) {
		if (*q == '\n' && (q == p || q[-1] != '\r'))
			g_string_append_c(out, '\r');
		g_string_append_c(out, *q);
	}
	return out;
}

/* A part's content with its transfer encoding removed, at most max bytes;
 * NULL when bigger or unreadable. */
static GByteArray *part_content(GMimeObject *obj, size_t max)
{
	GMimeDataWrapper *w;
	GMimeStream *mem;
	GByteArray *out = NULL;

	if (!GMIME_IS_PART(obj) || (w = g_mime_part_get_content(GMIME_PART(obj))) == NULL)
		return NULL;
	mem = g_mime_stream_mem_new();
	if (g_mime_data_wrapper_write_to_stream(w, mem) >= 0) {
		GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
		if (ba->len <= max) {
			out = g_byte_array_sized_new(ba->len + 1);
			g_byte_array_append(out, ba->data, ba->len);
		}
	}
	g_object_unref(mem);
	return out;
}

static bool is_type(GMimeObject *obj, const char *type, const char *subtype)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	return ct != NULL && g_mime_content_type_is_type(ct, type, subtype);
}

/* The signature part's status in our terms. */
static enum pgp_sig_status sig_status(gpgme_signature_t s)
{
	gpgme_err_code_t c = gpgme_err_code(s->status);

	if (c == GPG_ERR_BAD_SIGNATURE)
		return PGP_SIG_BAD;
	if (c == GPG_ERR_NO_PUBKEY)
		return PGP_SIG_UNKNOWN_KEY;
	if (c == GPG_ERR_CERT_REVOKED || (s->summary & GPGME_SIGSUM_KEY_REVOKED))
		return PGP_SIG_REVOKED;
	if (c == GPG_ERR_SIG_EXPIRED || c == GPG_ERR_KEY_EXPIRED ||
	    (s->summary & (GPGME_SIGSUM_KEY_EXPIRED | GPGME_SIGSUM_SIG_EXPIRED)))
		return PGP_SIG_EXPIRED;
	if (c == GPG_ERR_NO_ERROR && !(s->summary & GPGME_SIGSUM_RED))
		return PGP_SIG_GOOD;
	return PGP_SIG_ERROR;
}

bool pgp_engine_failure(gpgme_error_t err)
{
	switch (gpgme_err_code(err)) {
	case GPG_ERR_INV_ENGINE:
	case GPG_ERR_ENGINE_TOO_OLD:
	case GPG_ERR_NOT_SUPPORTED:
	case GPG_ERR_ENOMEM:
		return true;
	default:
		return false;
	}
}

void pgp_gpgme_error(char **error_r, const char *what, gpgme_error_t err)
{
	char buf[256];

	gpgme_strerror_r(err, buf, sizeof(buf));
	error_set(error_r, "%s: %s", what, buf);
}

int pgp_context_new(const char *gnupg_home, gpgme_ctx_t *ctx_r, char **error_r)
{
	gpgme_error_t err;

	*ctx_r = NULL;
	if ((err = gpgme_new(ctx_r)) != 0) {
		pgp_gpgme_error(error_r, "gpgme_new", err);
		return -1;
	}
	if ((err = gpgme_set_protocol(*ctx_r, GPGME_PROTOCOL_OpenPGP)) != 0 ||
	    (err = gpgme_ctx_set_engine_info(*ctx_r, GPGME_PROTOCOL_OpenPGP, NULL, gnupg_home)) !=
		    0) {
		pgp_gpgme_error(error_r, "GnuPG engine", err);
		gpgme_release(*ctx_r);
		*ctx_r = NULL;
		return -1;
	}
	/* never a key server, whatever gpg.conf says (auto-key-retrieve):
	 * a message must not make ticketd reach the network */
	gpgme_set_offline(*ctx_r, 1);
	return 0;
}

void pgp_signature_from_result(gpgme_ctx_t ctx, gpgme_verify_result_t result,
			       struct pgp_signature *sig_r)
{
	gpgme_signature_t chosen = NULL;
	gpgme_key_t key = NULL;

	/* Several signatures: the first good one speaks, else the first. */
	for (gpgme_signature_t s = result->signatures; s != NULL && chosen == NULL; s = s->next)
		if (sig_status(s) == PGP_SIG_GOOD)
			chosen = s;
	if (chosen == NULL)
		chosen = result->signatures;
	sig_r->status = sig_status(chosen);
	if (chosen->fpr != NULL && *chosen->fpr != '\0')
		sig_r->fingerprint = g_ascii_strup(chosen->fpr, -1);
	if (chosen->fpr != NULL && sig_r->status != PGP_SIG_UNKNOWN_KEY &&
	    gpgme_get_key(ctx, chosen->fpr, &key, 0) == 0 && key->subkeys != NULL &&
	    key->subkeys->fpr != NULL)
		sig_r->primary_fingerprint = g_ascii_strup(key->subkeys->fpr, -1);
	if (key != NULL)
		gpgme_key_unref(key);
}

/* Runs GnuPG over a detached signature (signed != NULL) or a clear-signed
 * block, and fills sig_r. */
static int run_verify(const char *gnupg_home, const void *sigdata, size_t siglen,
		      const GString *signed_text, struct pgp_signature *sig_r, char **error_r)
{
	gpgme_ctx_t ctx = NULL;
	gpgme_data_t sd = NULL, td = NULL, plain = NULL;
	gpgme_verify_result_t result;
	gpgme_error_t err;
	int ret = -1;

	if (pgp_context_new(gnupg_home, &ctx, error_r) < 0)
		goto out;
	if ((err = gpgme_data_new_from_mem(&sd, sigdata, siglen, 0)) != 0 ||
	    (signed_text != NULL &&
	     (err = gpgme_data_new_from_mem(&td, signed_text->str, signed_text->len, 0)) != 0) ||
	    (signed_text == NULL && (err = gpgme_data_new(&plain)) != 0)) {
		pgp_gpgme_error(error_r, "gpgme_data_new", err);
		goto out;
	}
	err = gpgme_op_verify(ctx, sd, td, plain);
	if (err != 0 && pgp_engine_failure(err)) {
		pgp_gpgme_error(error_r, "gpgme_op_verify", err);
		goto out;
	}
	ret = 0;
	result = gpgme_op_verify_result(ctx);
	sig_r->status = PGP_SIG_ERROR; /* a signature is there, but not readable */
	if (err != 0 || result == NULL || result->signatures == NULL)
		goto out;
	pgp_signature_from_result(ctx, result, sig_r);
out:
	gpgme_data_release(sd);
	gpgme_data_release(td);
	gpgme_data_release(plain);
	gpgme_release(ctx);
	return ret;
}

/* PGP/MIME: mps is the multipart/signed whose headers start at raw. */
static int verify_mime(GMimeObject *mps, const char *raw, const char *end, const char *home,
		       struct pgp_signature *sig_r, char **error_r)
{
	const char *protocol = g_mime_object_get_content_type_parameter(mps, "protocol");
	const char *boundary = g_mime_multipart_get_boundary(GMIME_MULTIPART(mps));
	const char *start, *stop;
	GByteArray *sigdata = NULL;
	GString *text = NULL;
	int ret = 0;

	if (protocol == NULL || g_ascii_strcasecmp(protocol, "application/pgp-signature") != 0)
		return 0; /* S/MIME or something else: no OpenPGP signature */
	sig_r->status = PGP_SIG_ERROR;
	if (boundary == NULL || g_mime_multipart_get_count(GMIME_MULTIPART(mps)) != 2 ||
	    !is_type(g_mime_multipart_get_part(GMIME_MULTIPART(mps), 1), "application",
		     "pgp-signature") ||
	    (sigdata = part_content(g_mime_multipart_get_part(GMIME_MULTIPART(mps), 1),
				    PGP_MAX_SIGNATURE)) == NULL ||
	    !first_part(raw, end, boundary, &start, &stop))
		goto out;
	text = canonical_crlf(start, stop);
	ret = run_verify(home, sigdata->data, sigdata->len, text, sig_r, error_r);
out:
	if (sigdata != NULL)
		g_byte_array_unref(sigdata);
	if (text != NULL)
		g_string_free(text, TRUE);
	return ret;
}

/* Only whitespace in [p, end)? */
static bool blank(const char *p, const char *end)
{
	for (; p < end; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			return false;
	return true;
}

/* An inline clear-signed block in the text part obj. */
static int verify_inline(GMimeObject *obj, bool alone, const char *home,
			 struct pgp_signature *sig_r, char **error_r)
{
	GByteArray *c = part_content(obj, PGP_MAX_MESSAGE);
	const char *p, *end, *begin = NULL, *stop = NULL;
	int ret = 0;

	if (c == NULL)
		return 0;
	p = (const char *)c->data;
	end = p + c->len;
	for (const char *q = p; q < end; q = next_line(q, end)) {
		if (begin == NULL && (size_t)(end - q) >= strlen(CLEARSIGN_BEGIN) &&
		    memcmp(q, CLEARSIGN_BEGIN, strlen(CLEARSIGN_BEGIN)) == 0) {
			begin = q;
		} else if (begin != NULL && (size_t)(end - q) >= strlen(CLEARSIGN_END) &&
			   memcmp(q, CLEARSIGN_END, strlen(CLEARSIGN_END)) == 0) {
			stop = next_line(q, end);
			break;
		}
	}
	if (begin == NULL)
		goto out;
	if (stop == NULL) { /* armor without its end: a broken signature */
		sig_r->status = PGP_SIG_ERROR;
		goto out;
	}
	sig_r->partial = !alone || !blank(p, begin) || !blank(stop, end);
	ret = run_verify(home, begin, (size_t)(stop - begin), NULL, sig_r, error_r);
out:
	g_byte_array_unref(c);
	return ret;
}

/* The first text/plain leaf under obj (depth-first), or NULL. */
static GMimeObject *first_text(GMimeObject *obj, unsigned depth)
{
	if (depth > 32)
		return NULL;
	if (GMIME_IS_MULTIPART(obj)) {
		int n = g_mime_multipart_get_count(GMIME_MULTIPART(obj));
		for (int i = 0; i < n; i++) {
			GMimeObject *t =
				first_text(g_mime_multipart_get_part(GMIME_MULTIPART(obj), i),
					   depth + 1);
			if (t != NULL)
				return t;
		}
		return NULL;
	}
	return GMIME_IS_TEXT_PART(obj) && is_type(obj, "text", "plain") ? obj : NULL;
}

int pgp_verify(const char *data, size_t len, const char *gnupg_home, struct pgp_signature *sig_r,
	       char **error_r)
{
	struct message_gmime g = { 0 };
	GMimeMessage *message = NULL;
	GMimeObject *top, *text;
	const char *end = data + len;
	int ret = 0;

	memset(sig_r, 0, sizeof(*sig_r));
	sig_r->status = PGP_SIG_NONE;
	if (len > PGP_MAX_MESSAGE) {
		sig_r->status = PGP_SIG_ERROR;
		return 0;
	}
	pgp_init();
	message = message_gmime_open(&g, data, len, NULL);
	if (message == NULL || (top = g_mime_message_get_mime_part(message)) == NULL)
		goto out;
	if (GMIME_IS_MULTIPART_SIGNED(top)) {
		ret = verify_mime(top, data, end, gnupg_home, sig_r, error_r);
		goto out;
	}
	if (GMIME_IS_MULTIPART(top) && is_type(top, "multipart", "mixed") &&
	    g_mime_multipart_get_count(GMIME_MULTIPART(top)) >= 1 &&
	    GMIME_IS_MULTIPART_SIGNED(g_mime_multipart_get_part(GMIME_MULTIPART(top), 0))) {
		const char *boundary = g_mime_multipart_get_boundary(GMIME_MULTIPART(top));
		const char *start, *stop;

		/* The signed part's headers start the outer first part. */
		if (boundary == NULL || !first_part(data, end, boundary, &start, &stop)) {
			sig_r->status = PGP_SIG_ERROR;
			goto out;
		}
		ret = verify_mime(g_mime_multipart_get_part(GMIME_MULTIPART(top), 0), start, stop,
				  gnupg_home, sig_r, error_r);
		if (g_mime_multipart_get_count(GMIME_MULTIPART(top)) > 1)
			sig_r->partial = true;
		goto out;
	}
	if ((text = first_text(top, 0)) != NULL)
		ret = verify_inline(text, text == top, gnupg_home, sig_r, error_r);
out:
	message_gmime_close(&g);
	if (ret < 0) {
		g_free(sig_r->fingerprint);
		g_free(sig_r->primary_fingerprint);
		memset(sig_r, 0, sizeof(*sig_r));
		sig_r->status = PGP_SIG_NONE;
	}
	return ret;
}
