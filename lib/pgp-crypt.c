/*
 * pgp-crypt.c - OpenPGP decryption and inline blocks through GPGME
 * (issue 18).  Contract in pgp.h; context setup and signature results
 * shared with pgp.c, and the context, passphrase lookup and output sink
 * shared with pgp-keys.c (encryption, keys), through pgp-private.h.
 *
 * Passphrases reach GnuPG only through GPGME's loopback callback
 * (ask_passphrase); GMime's crypto contexts are not used, since their
 * callback never fires without loopback (LIBRARIES.md).  The plaintext
 * goes into a callback data object that refuses to grow past the limit, so
 * a compression bomb costs GnuPG a broken pipe, not ticketd its memory.
 */
#include "pgp.h"
#include "pgp-private.h"

#include <errno.h>
#include <gpgme.h>
#include <string.h>

#define MSG_BEGIN "-----BEGIN PGP MESSAGE-----"
#define MSG_END   "-----END PGP MESSAGE-----"

/* Passphrase requests one operation may make: one per secret key GnuPG
 * tries; more is a loop. */
#define MAX_ASKS 16

const char *pgp_decrypt_status_text(enum pgp_decrypt_status status)
{
	switch (status) {
	case PGP_DECRYPT_OK:
		return "decrypted";
	case PGP_DECRYPT_NO_KEY:
		return "no secret key";
	case PGP_DECRYPT_BAD_PASSPHRASE:
		return "bad passphrase";
	case PGP_DECRYPT_CORRUPT:
		return "corrupt message";
	case PGP_DECRYPT_UNSUPPORTED:
		return "unsupported message";
	case PGP_DECRYPT_ERROR:
		break;
	}
	return "decryption error";
}

void pgp_decrypted_clear(struct pgp_decrypted *d)
{
	g_free(d->reason);
	if (d->plaintext != NULL)
		g_bytes_unref(d->plaintext);
	pgp_signature_clear(&d->sig);
	memset(d, 0, sizeof(*d));
	d->status = PGP_DECRYPT_ERROR;
	d->sig.status = PGP_SIG_NONE;
}

static void outcome(struct pgp_decrypted *out, enum pgp_decrypt_status status, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);
static void outcome(struct pgp_decrypted *out, enum pgp_decrypt_status status, const char *fmt, ...)
{
	va_list ap;

	out->status = status;
	g_free(out->reason);
	va_start(ap, fmt);
	out->reason = g_strdup_vprintf(fmt, ap);
	va_end(ap);
}

static bool is_hex(char c)
{
	return g_ascii_isxdigit(c);
}

/* fpr without spaces and a leading "0x", upper-case, newly allocated;
 * NULL unless that leaves 40 (v4) or 64 (v5) hex digits. */
char *pgp_fpr_normal(const char *fpr)
{
	GString *s = g_string_new(NULL);

	if (fpr[0] == '0' && (fpr[1] == 'x' || fpr[1] == 'X'))
		fpr += 2;
	for (; *fpr != '\0'; fpr++) {
		if (*fpr == ' ')
			continue;
		if (!is_hex(*fpr)) {
			g_string_free(s, TRUE);
			return NULL;
		}
		g_string_append_c(s, g_ascii_toupper(*fpr));
	}
	if (s->len != 40 && s->len != 64) {
		g_string_free(s, TRUE);
		return NULL;
	}
	return g_string_free(s, FALSE);
}

/* Does fingerprint fpr (spaces allowed) end in the 16-digit key id? */
static bool fpr_has_keyid(const char *fpr, const char *keyid)
{
	size_t n = strlen(fpr), k = 16;

	while (n > 0 && k > 0) {
		char c = fpr[--n];
		if (c == ' ')
			continue;
		if (g_ascii_toupper(c) != g_ascii_toupper(keyid[--k]))
			return false;
	}
	return k == 0;
}

/* The passphrase entry for the key whose main key id is keyid, else the
 * first entry for any key; NULL without either. */
const struct pgp_passphrase *pgp_passphrase_for(const struct pgp_keyring *keys, const char *keyid)
{
	const struct pgp_passphrase *any = NULL;

	for (size_t i = 0; i < keys->n; i++) {
		const struct pgp_passphrase *p = &keys->passphrases[i];
		if (p->fingerprint == NULL) {
			if (any == NULL)
				any = p;
		} else if (fpr_has_keyid(p->fingerprint, keyid)) {
			return p;
		}
	}
	return any;
}

/* Copies the 16-hex-digit word at s (ended by a space or NUL) into
 * keyid; false when s does not start with one. */
static bool keyid_word(const char *s, char keyid[17])
{
	for (int i = 0; i < 16; i++)
		if (!is_hex(s[i]))
			return false;
	if (s[16] != '\0' && s[16] != ' ')
		return false;
	for (int i = 0; i < 16; i++)
		keyid[i] = g_ascii_toupper(s[i]);
	keyid[16] = '\0';
	return true;
}

/* The main key id of the key GnuPG asks for.  passphrase_info is
 * "SUBKEYID MAINKEYID ALGO 0" (NEED_PASSPHRASE), uid_hint "KEYID USERID";
 * a symmetric request has neither. */
static bool asked_keyid(const char *uid_hint, const char *info, char keyid[17])
{
	const char *sp;

	if (info != NULL && keyid_word(info, keyid)) {
		if ((sp = strchr(info, ' ')) != NULL)
			keyid_word(sp + 1, keyid); /* the main key's, when there */
		return true;
	}
	return uid_hint != NULL && keyid_word(uid_hint, keyid);
}

/* One operation's passphrase requests. */
struct pgp_ask_state {
	const struct pgp_keyring *keys;
	struct {
		char keyid[17];
		bool missing; /* no passphrase configured: given an empty one */
	} given[MAX_ASKS];
	unsigned n_given;
	bool symmetric; /* asked for a symmetric passphrase */
};

/* Answers GnuPG's passphrase request.  An error would end the whole
 * operation (GPGME stops at a callback's error), so a key we have no
 * passphrase for gets an empty line: that fails this key only, and GnuPG
 * goes on with the message's next recipient.  A request for a key that had
 * its answer already is refused: the passphrase was wrong. */
static gpgme_error_t ask_passphrase(void *hook, const char *uid_hint, const char *info,
				    int prev_was_bad, int fd)
{
	struct pgp_ask_state *st = hook;
	const struct pgp_passphrase *pp;
	const char *pass = "";
	char keyid[17];

	/* prev_was_bad is GPGME's memory of any BAD_PASSPHRASE, also of
	 * another key's: the list of keys given one is what tells. */
	(void)prev_was_bad;
	if (!asked_keyid(uid_hint, info, keyid)) {
		st->symmetric = true;
	} else {
		for (unsigned i = 0; i < st->n_given; i++)
			if (strcmp(st->given[i].keyid, keyid) == 0)
				return gpg_error(GPG_ERR_CANCELED);
		if (st->n_given == MAX_ASKS)
			return gpg_error(GPG_ERR_CANCELED);
		pp = pgp_passphrase_for(st->keys, keyid);
		memcpy(st->given[st->n_given].keyid, keyid, sizeof(keyid));
		if (pp != NULL && pp->passphrase != NULL && strpbrk(pp->passphrase, "\r\n") == NULL)
			pass = pp->passphrase;
		st->given[st->n_given++].missing = *pass == '\0';
	}
	if ((*pass != '\0' && gpgme_io_writen(fd, pass, strlen(pass)) != 0) ||
	    gpgme_io_writen(fd, "\n", 1) != 0)
		return gpgme_error_from_syserror();
	return 0;
}

/* "wrong passphrase for key 0xA; no passphrase configured for key 0xB"
 * for the keys GnuPG asked about, or NULL when it asked about none. */
static char *passphrase_reason(const struct pgp_ask_state *st)
{
	GString *s;

	if (st->n_given == 0)
		return NULL;
	s = g_string_new(NULL);
	for (unsigned i = 0; i < st->n_given; i++)
		g_string_append_printf(s, "%s%s for key 0x%s", i > 0 ? "; " : "",
				       st->given[i].missing ? "no passphrase configured"
							    : "wrong passphrase",
				       st->given[i].keyid);
	return g_string_free(s, FALSE);
}

/* A context for decryption or encryption on keys' home, passphrases
 * through st. */
int pgp_crypt_context(const struct pgp_keyring *keys, struct pgp_ask_state *st, gpgme_ctx_t *ctx_r,
		      char **error_r)
{
	gpgme_error_t err;

	pgp_init();
	if (pgp_context_new(keys->gnupg_home, ctx_r, error_r) < 0)
		return -1;
	if ((err = gpgme_set_pinentry_mode(*ctx_r, GPGME_PINENTRY_MODE_LOOPBACK)) != 0) {
		pgp_gpgme_error(error_r, "GnuPG pinentry mode loopback", err);
		gpgme_release(*ctx_r);
		*ctx_r = NULL;
		return -1;
	}
	/* No key servers, no Web Key Directory: the keys are the home's. */
	gpgme_set_offline(*ctx_r, 1);
	/* The empty answer to a symmetric request is not to be remembered. */
	gpgme_set_ctx_flag(*ctx_r, "no-symkey-cache", "1");
	if (st != NULL) {
		memset(st, 0, sizeof(*st));
		st->keys = keys;
		gpgme_set_passphrase_cb(*ctx_r, ask_passphrase, st);
	}
	return 0;
}

static gpgme_ssize_t sink_write(void *handle, const void *data, size_t size)
{
	struct pgp_sink *s = handle;

	if (size > s->max - s->buf->len) {
		s->over = true;
		errno = EFBIG;
		return -1;
	}
	g_byte_array_append(s->buf, data, (guint)size);
	return (gpgme_ssize_t)size;
}

static struct gpgme_data_cbs sink_cbs = { .write = sink_write };

int pgp_sink_open(struct pgp_sink *s, size_t max, gpgme_data_t *dh, char **error_r)
{
	gpgme_error_t err;

	s->buf = g_byte_array_new();
	s->max = max;
	s->over = false;
	if ((err = gpgme_data_new_from_cbs(dh, &sink_cbs, s)) != 0) {
		pgp_gpgme_error(error_r, "gpgme_data_new", err);
		return -1;
	}
	return 0;
}

void pgp_sink_free(struct pgp_sink *s)
{
	if (s->buf != NULL)
		g_byte_array_unref(s->buf);
	s->buf = NULL;
}

/* "0xA, 0xB" of the recipients' key ids. */
static char *recipient_list(gpgme_decrypt_result_t dres)
{
	GString *s = g_string_new(NULL);

	for (gpgme_recipient_t r = dres != NULL ? dres->recipients : NULL; r != NULL; r = r->next)
		g_string_append_printf(s, "%s0x%s", s->len > 0 ? ", " : "",
				       r->keyid != NULL ? r->keyid : "?");
	return g_string_free(s, FALSE);
}

/* Were all recipients keys we have no secret for? */
static bool all_no_seckey(gpgme_decrypt_result_t dres)
{
	if (dres == NULL || dres->recipients == NULL)
		return false;
	for (gpgme_recipient_t r = dres->recipients; r != NULL; r = r->next)
		if (gpgme_err_code(r->status) != GPG_ERR_NO_SECKEY)
			return false;
	return true;
}

/* The outcome of a failed decryption (err != 0), in our terms. */
static void decrypt_failure(gpgme_error_t err, gpgme_decrypt_result_t dres,
			    const struct pgp_ask_state *st, struct pgp_decrypted *out)
{
	char text[256];
	char *list, *why;

	gpgme_strerror_r(err, text, sizeof(text));
	if (dres != NULL && dres->unsupported_algorithm != NULL) {
		outcome(out, PGP_DECRYPT_UNSUPPORTED, "unsupported algorithm %s",
			dres->unsupported_algorithm);
		return;
	}
	if (dres != NULL && dres->legacy_cipher_nomdc) {
		outcome(out, PGP_DECRYPT_UNSUPPORTED,
			"legacy cipher without integrity protection (no MDC): refused");
		return;
	}
	if (st->symmetric && st->n_given == 0) {
		outcome(out, PGP_DECRYPT_NO_KEY,
			"encrypted with a passphrase only, not to a key: not supported");
		return;
	}
	switch (gpgme_err_code(err)) {
	case GPG_ERR_NO_SECKEY:
		goto no_key;
	case GPG_ERR_BAD_PASSPHRASE:
	case GPG_ERR_NO_PASSPHRASE:
	case GPG_ERR_CANCELED:
	case GPG_ERR_FULLY_CANCELED:
		if ((why = passphrase_reason(st)) != NULL) {
			outcome(out, PGP_DECRYPT_BAD_PASSPHRASE, "%s", why);
			g_free(why);
		} else {
			outcome(out, PGP_DECRYPT_ERROR, "GnuPG: %s", text);
		}
		return;
	case GPG_ERR_NO_DATA:
		outcome(out, PGP_DECRYPT_CORRUPT,
			"no OpenPGP message found (not OpenPGP data, or damaged armor)");
		return;
	case GPG_ERR_UNSUPPORTED_ALGORITHM:
	case GPG_ERR_PUBKEY_ALGO:
	case GPG_ERR_CIPHER_ALGO:
	case GPG_ERR_DIGEST_ALGO:
	case GPG_ERR_UNKNOWN_VERSION:
		outcome(out, PGP_DECRYPT_UNSUPPORTED, "unsupported: %s", text);
		return;
	case GPG_ERR_DECRYPT_FAILED:
		if (all_no_seckey(dres))
			goto no_key;
		outcome(out, PGP_DECRYPT_CORRUPT,
			"decryption failed: the message is damaged or fails its integrity check");
		return;
	case GPG_ERR_BAD_DATA:
	case GPG_ERR_INV_PACKET:
	case GPG_ERR_INV_ARMOR:
	case GPG_ERR_BAD_MPI:
	case GPG_ERR_TRUNCATED:
	case GPG_ERR_UNEXPECTED:
	case GPG_ERR_CHECKSUM:
	case GPG_ERR_INV_DATA:
	case GPG_ERR_EOF:
		outcome(out, PGP_DECRYPT_CORRUPT, "damaged OpenPGP data: %s", text);
		return;
	case GPG_ERR_WRONG_KEY_USAGE:
		outcome(out, PGP_DECRYPT_ERROR, "the recipient key is not meant for encryption");
		return;
	default:
		outcome(out, PGP_DECRYPT_ERROR, "GnuPG: %s", text);
		return;
	}
no_key:
	list = recipient_list(dres);
	outcome(out, PGP_DECRYPT_NO_KEY, "no secret key for any recipient (%s)",
		*list != '\0' ? list : "none named");
	g_free(list);
}

int pgp_decrypt(const void *data, size_t len, const struct pgp_keyring *keys,
		struct pgp_decrypted *out, char **error_r)
{
	size_t max = keys->max_plaintext == 0 || keys->max_plaintext > PGP_MAX_PLAINTEXT
			     ? PGP_MAX_PLAINTEXT
			     : keys->max_plaintext;
	struct pgp_ask_state st;
	struct pgp_sink sink = { 0 };
	gpgme_ctx_t ctx = NULL;
	gpgme_data_t cipher = NULL, plain = NULL;
	gpgme_decrypt_result_t dres;
	gpgme_verify_result_t vres;
	gpgme_error_t err;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	out->sig.status = PGP_SIG_NONE;
	if (len > PGP_MAX_MESSAGE) {
		outcome(out, PGP_DECRYPT_ERROR, "message larger than %zu bytes", PGP_MAX_MESSAGE);
		return 0;
	}
	if (pgp_crypt_context(keys, &st, &ctx, error_r) < 0)
		goto out;
	if ((err = gpgme_data_new_from_mem(&cipher, data, len, 0)) != 0) {
		pgp_gpgme_error(error_r, "gpgme_data_new", err);
		goto out;
	}
	if (pgp_sink_open(&sink, max, &plain, error_r) < 0)
		goto out;
	err = gpgme_op_decrypt_verify(ctx, cipher, plain);
	if (sink.over) {
		/* GnuPG was stopped by our refusal: whatever it says is not
		 * about the message. */
		ret = 0;
		outcome(out, PGP_DECRYPT_ERROR, "decrypted text larger than %zu bytes", max);
		goto out;
	}
	if (err != 0 && pgp_engine_failure(err)) {
		pgp_gpgme_error(error_r, "gpgme_op_decrypt_verify", err);
		goto out;
	}
	ret = 0;
	dres = gpgme_op_decrypt_result(ctx);
	if (err != 0) {
		decrypt_failure(err, dres, &st, out);
		goto out;
	}
	if (dres != NULL && dres->legacy_cipher_nomdc) {
		outcome(out, PGP_DECRYPT_UNSUPPORTED,
			"legacy cipher without integrity protection (no MDC): refused");
		goto out;
	}
	out->status = PGP_DECRYPT_OK;
	out->is_mime = dres != NULL && dres->is_mime;
	out->plaintext = g_byte_array_free_to_bytes(sink.buf);
	sink.buf = NULL;
	vres = gpgme_op_verify_result(ctx);
	if (vres != NULL && vres->signatures != NULL)
		pgp_signature_from_result(ctx, vres, &out->sig);
out:
	if (ret < 0)
		pgp_decrypted_clear(out);
	gpgme_data_release(cipher);
	gpgme_data_release(plain);
	pgp_sink_free(&sink);
	gpgme_release(ctx);
	return ret;
}

/* Is [p, end) "marker" followed only by blanks? */
static bool marker_line(const char *p, const char *end, const char *marker)
{
	size_t n = strlen(marker);

	if ((size_t)(end - p) < n || memcmp(p, marker, n) != 0)
		return false;
	for (p += n; p < end; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r')
			return false;
	return true;
}

GArray *pgp_blocks_find(const char *text, size_t len)
{
	GArray *blocks = g_array_new(FALSE, FALSE, sizeof(struct pgp_block));
	const char *end = text + len, *next;
	struct pgp_block cur = { 0 };
	bool open = false;

	for (const char *p = text; p < end && blocks->len < PGP_MAX_BLOCKS; p = next) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl != NULL ? nl : end, *q = p;

		next = nl != NULL ? nl + 1 : end;
		while (q < stop && (*q == ' ' || *q == '\t'))
			q++;
		if (marker_line(q, stop, MSG_BEGIN)) {
			if (open) { /* a new block before this one's END */
				const char *e = p;
				if (e > text && e[-1] == '\n')
					e--;
				if (e > text && e[-1] == '\r')
					e--;
				cur.end = (size_t)(e - text);
				cur.complete = false;
				g_array_append_val(blocks, cur);
				if (blocks->len >= PGP_MAX_BLOCKS)
					break;
			}
			cur.start = (size_t)(q - text);
			open = true;
		} else if (open && marker_line(q, stop, MSG_END)) {
			cur.end = (size_t)(q - text) + strlen(MSG_END);
			cur.complete = true;
			g_array_append_val(blocks, cur);
			open = false;
		}
	}
	if (open && blocks->len < PGP_MAX_BLOCKS) {
		cur.end = len;
		cur.complete = false;
		g_array_append_val(blocks, cur);
	}
	return blocks;
}

int pgp_decrypt_block(const char *text, size_t len, const struct pgp_block *block,
		      const struct pgp_keyring *keys, struct pgp_decrypted *out, char **error_r)
{
	const char *p, *end;
	GString *copy = NULL;
	bool indented = false;
	int ret;

	memset(out, 0, sizeof(*out));
	out->sig.status = PGP_SIG_NONE;
	if (block->start > block->end || block->end > len) {
		outcome(out, PGP_DECRYPT_ERROR, "block outside the text");
		return 0;
	}
	if (!block->complete) {
		outcome(out, PGP_DECRYPT_CORRUPT, "armor without its END line (truncated)");
		return 0;
	}
	p = text + block->start;
	end = text + block->end;
	for (const char *q = p; q < end; q++)
		if (*q == '\n' && q + 1 < end && (q[1] == ' ' || q[1] == '\t'))
			indented = true;
	if (indented) { /* the block was indented as a whole: GnuPG wants it flush left */
		copy = g_string_sized_new((gsize)(end - p));
		for (const char *q = p; q < end; q++) {
			if (q > p && q[-1] == '\n')
				while (q < end && (*q == ' ' || *q == '\t'))
					q++;
			if (q < end)
				g_string_append_c(copy, *q);
		}
		p = copy->str;
		end = copy->str + copy->len;
	}
	ret = pgp_decrypt(p, (size_t)(end - p), keys, out, error_r);
	if (copy != NULL)
		g_string_free(copy, TRUE);
	return ret;
}
