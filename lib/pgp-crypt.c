/*
 * pgp-crypt.c - OpenPGP decryption, encryption and key checks through
 * GPGME (issue 18).  Contract in pgp.h; context setup and signature
 * results shared with pgp.c through pgp-private.h.
 *
 * Passphrases reach GnuPG only through GPGME's loopback callback
 * (ask_passphrase); GMime's crypto contexts are not used, since their
 * callback never fires without loopback (LIBRARIES.md).  The plaintext
 * goes into a callback data object that refuses to grow past the limit, so
 * a compression bomb costs GnuPG a broken pipe, not ticketd its memory.
 *
 * pgp_check_key() talks to gpg-agent directly (GPGME's Assuan protocol):
 * "PASSWD --verify" unprotects the key with the agent's passphrase cache
 * ignored, which a decryption cannot be made to do.
 */
#include "pgp.h"
#include "pgp-private.h"

#include <errno.h>
#include <gpgme.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define MSG_BEGIN "-----BEGIN PGP MESSAGE-----"
#define MSG_END   "-----END PGP MESSAGE-----"

/* Passphrase requests one operation may make: one per secret key GnuPG
 * tries; more is a loop. */
#define MAX_ASKS 16

/* What pgp_check_key() encrypts to a key and decrypts again. */
#define CHECK_BYTES "ticketd key check\n"

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
static char *fpr_normal(const char *fpr)
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
static const struct pgp_passphrase *passphrase_for(const struct pgp_keyring *keys,
						   const char *keyid)
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
struct ask_state {
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
	struct ask_state *st = hook;
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
		pp = passphrase_for(st->keys, keyid);
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
static char *passphrase_reason(const struct ask_state *st)
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
static int crypt_context(const struct pgp_keyring *keys, struct ask_state *st, gpgme_ctx_t *ctx_r,
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

/* Output that refuses to grow past max bytes. */
struct sink {
	GByteArray *buf;
	size_t max;
	bool over;
};

static gpgme_ssize_t sink_write(void *handle, const void *data, size_t size)
{
	struct sink *s = handle;

	if (size > s->max - s->buf->len) {
		s->over = true;
		errno = EFBIG;
		return -1;
	}
	g_byte_array_append(s->buf, data, (guint)size);
	return (gpgme_ssize_t)size;
}

static struct gpgme_data_cbs sink_cbs = { .write = sink_write };

static int sink_open(struct sink *s, size_t max, gpgme_data_t *dh, char **error_r)
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

static void sink_free(struct sink *s)
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
			    const struct ask_state *st, struct pgp_decrypted *out)
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
	struct ask_state st;
	struct sink sink = { 0 };
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
	if (crypt_context(keys, &st, &ctx, error_r) < 0)
		goto out;
	if ((err = gpgme_data_new_from_mem(&cipher, data, len, 0)) != 0) {
		pgp_gpgme_error(error_r, "gpgme_data_new", err);
		goto out;
	}
	if (sink_open(&sink, max, &plain, error_r) < 0)
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
	sink_free(&sink);
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

/* The primary key named by fpr (already normal) in ctx's home: 0, or -1
 * with a reason. */
static int key_by_fpr(gpgme_ctx_t ctx, const char *fpr, const char *home, int secret,
		      gpgme_key_t *key_r, char **error_r)
{
	gpgme_error_t err = gpgme_get_key(ctx, fpr, key_r, secret);

	if (gpgme_err_code(err) == GPG_ERR_EOF || (err == 0 && (*key_r)->subkeys == NULL)) {
		error_set(error_r, "no %skey 0x%s in %s", secret ? "secret " : "", fpr,
			  home != NULL ? home : "the default GnuPG home");
		goto fail;
	}
	if (err != 0) {
		pgp_gpgme_error(error_r, "looking up the key", err);
		goto fail;
	}
	if (g_ascii_strcasecmp((*key_r)->subkeys->fpr, fpr) != 0) {
		error_set(error_r, "0x%s is a subkey of 0x%s: name the primary key", fpr,
			  (*key_r)->subkeys->fpr);
		goto fail;
	}
	return 0;
fail:
	if (err == 0 && *key_r != NULL)
		gpgme_key_unref(*key_r);
	*key_r = NULL;
	return -1;
}

/* Why key cannot be encrypted to, or NULL. */
static const char *key_unusable(gpgme_key_t key)
{
	if (key->revoked)
		return "is revoked";
	if (key->expired)
		return "has expired";
	if (key->disabled)
		return "is disabled";
	if (key->invalid)
		return "is not valid";
	if (!key->can_encrypt)
		return "has no valid encryption subkey (expired or revoked?)";
	return NULL;
}

int pgp_encrypt_mime(const void *mime_entity, size_t len, const struct pgp_keyring *keys,
		     const char *recipient_fpr, GByteArray **armored_r, char **error_r)
{
	char *fpr = fpr_normal(recipient_fpr);
	gpgme_ctx_t ctx = NULL;
	gpgme_key_t key = NULL;
	gpgme_data_t plain = NULL, cipher = NULL;
	gpgme_key_t recp[2] = { NULL, NULL };
	gpgme_encrypt_result_t res;
	gpgme_error_t err;
	struct sink sink = { 0 };
	const char *why;
	int ret = -1;

	*armored_r = NULL;
	if (fpr == NULL) {
		error_set(error_r, "'%s' is not a key fingerprint (40 or 64 hex digits)",
			  recipient_fpr);
		goto out;
	}
	if (len > PGP_MAX_MESSAGE) {
		error_set(error_r, "message larger than %zu bytes", PGP_MAX_MESSAGE);
		goto out;
	}
	if (crypt_context(keys, NULL, &ctx, error_r) < 0 ||
	    key_by_fpr(ctx, fpr, keys->gnupg_home, 0, &key, error_r) < 0)
		goto out;
	if ((why = key_unusable(key)) != NULL) {
		error_set(error_r, "key 0x%s %s", fpr, why);
		goto out;
	}
	gpgme_set_armor(ctx, 1);
	if ((err = gpgme_data_new_from_mem(&plain, mime_entity, len, 0)) != 0) {
		pgp_gpgme_error(error_r, "gpgme_data_new", err);
		goto out;
	}
	/* Armor: 4/3 of the input and a line break per 64 characters. */
	if (sink_open(&sink, 2 * len + 64 * 1024, &cipher, error_r) < 0)
		goto out;
	recp[0] = key;
	err = gpgme_op_encrypt(ctx, recp, GPGME_ENCRYPT_ALWAYS_TRUST | GPGME_ENCRYPT_NO_ENCRYPT_TO,
			       plain, cipher);
	res = gpgme_op_encrypt_result(ctx);
	if (err == 0 && res != NULL && res->invalid_recipients != NULL)
		err = res->invalid_recipients->reason;
	if (err != 0) {
		char text[256];
		gpgme_strerror_r(err, text, sizeof(text));
		error_set(error_r, "encrypting to key 0x%s: %s", fpr, text);
		goto out;
	}
	*armored_r = sink.buf;
	sink.buf = NULL;
	ret = 0;
out:
	if (key != NULL)
		gpgme_key_unref(key);
	gpgme_data_release(plain);
	gpgme_data_release(cipher);
	sink_free(&sink);
	gpgme_release(ctx);
	g_free(fpr);
	return ret;
}

/* The keys with a secret part in ctx's home (fpr NULL), or that one. */
static GPtrArray *secret_keys(gpgme_ctx_t ctx, const char *fpr, char **error_r)
{
	GPtrArray *keys = g_ptr_array_new_with_free_func((GDestroyNotify)gpgme_key_unref);
	gpgme_key_t key;
	gpgme_error_t err;

	if ((err = gpgme_op_keylist_start(ctx, fpr, 1)) != 0) {
		pgp_gpgme_error(error_r, "listing secret keys", err);
		g_ptr_array_unref(keys);
		return NULL;
	}
	while ((err = gpgme_op_keylist_next(ctx, &key)) == 0) {
		if (key->subkeys != NULL &&
		    (fpr == NULL || g_ascii_strcasecmp(key->subkeys->fpr, fpr) == 0))
			g_ptr_array_add(keys, key);
		else
			gpgme_key_unref(key);
	}
	gpgme_op_keylist_end(ctx);
	if (gpgme_err_code(err) != GPG_ERR_EOF) {
		pgp_gpgme_error(error_r, "listing secret keys", err);
		g_ptr_array_unref(keys);
		return NULL;
	}
	return keys;
}

static const char *home_name(const char *home)
{
	return home != NULL ? home : "the default GnuPG home";
}

int pgp_export_public(const char *gnupg_home, const char *fingerprint_or_null, char **armored_r,
		      char **error_r)
{
	char *fpr = NULL, *mem = NULL;
	gpgme_ctx_t ctx = NULL;
	gpgme_data_t out = NULL;
	GPtrArray *keys = NULL;
	gpgme_error_t err;
	size_t n = 0;
	int ret = -1;

	*armored_r = NULL;
	if (fingerprint_or_null != NULL && (fpr = fpr_normal(fingerprint_or_null)) == NULL) {
		error_set(error_r, "'%s' is not a key fingerprint (40 or 64 hex digits)",
			  fingerprint_or_null);
		goto out;
	}
	pgp_init();
	if (pgp_context_new(gnupg_home, &ctx, error_r) < 0)
		goto out;
	gpgme_set_offline(ctx, 1);
	if (fpr != NULL) {
		gpgme_key_t key;
		if (key_by_fpr(ctx, fpr, gnupg_home, 0, &key, error_r) < 0)
			goto out;
		keys = g_ptr_array_new_with_free_func((GDestroyNotify)gpgme_key_unref);
		g_ptr_array_add(keys, key);
	} else if ((keys = secret_keys(ctx, NULL, error_r)) == NULL) {
		goto out;
	} else if (keys->len == 0) {
		error_set(error_r, "no secret key in %s", home_name(gnupg_home));
		goto out;
	}
	g_ptr_array_add(keys, NULL);
	gpgme_set_armor(ctx, 1);
	if ((err = gpgme_data_new(&out)) != 0 ||
	    (err = gpgme_op_export_keys(ctx, (gpgme_key_t *)keys->pdata, 0, out)) != 0) {
		pgp_gpgme_error(error_r, "exporting the key", err);
		goto out;
	}
	mem = gpgme_data_release_and_get_mem(out, &n);
	out = NULL;
	if (mem == NULL || n == 0) {
		error_set(error_r, "GnuPG exported nothing from %s", home_name(gnupg_home));
		goto out;
	}
	*armored_r = g_strndup(mem, n);
	ret = 0;
out:
	if (keys != NULL)
		g_ptr_array_unref(keys);
	gpgme_free(mem);
	gpgme_data_release(out);
	gpgme_release(ctx);
	g_free(fpr);
	return ret;
}

/* One PASSWD --verify: what the agent asked and what we answered. */
struct verify_state {
	const char *passphrase; /* NULL: none configured */
	unsigned asks;
	bool refused;
};

static gpgme_error_t agent_inquiry(void *opaque, const char *name, const char *args,
				   gpgme_data_t *r_data)
{
	struct verify_state *vs = opaque;

	if (name == NULL) { /* GPGME is done with what we gave */
		gpgme_data_release(*r_data);
		*r_data = NULL;
		return 0;
	}
	if (strcmp(name, "PASSPHRASE") != 0)
		return 0;
	if (++vs->asks > 1 || vs->passphrase == NULL || strpbrk(vs->passphrase, "\r\n") != NULL) {
		vs->refused = true;
		return gpg_error(GPG_ERR_ASS_CANCELED);
	}
	return gpgme_data_new_from_mem(r_data, vs->passphrase, strlen(vs->passphrase), 1);
}

/* Has the agent of home unprotect the key with keygrip using the
 * configured passphrase, its cache ignored (PASSWD --verify).  The agent
 * runs: the secret key listing before has started it. */
static int agent_verify(const struct pgp_keyring *keys, const char *fpr, const char *keygrip,
			char **error_r)
{
	const struct pgp_passphrase *pp = passphrase_for(keys, fpr + strlen(fpr) - 16);
	struct verify_state vs = { .passphrase = pp != NULL ? pp->passphrase : NULL };
	gpgme_ctx_t cctx = NULL, actx = NULL;
	gpgme_error_t err, op_err = 0;
	char *socket = NULL, *cmd = NULL;
	int ret = -1;

	if ((err = gpgme_new(&cctx)) != 0 ||
	    (err = gpgme_set_protocol(cctx, GPGME_PROTOCOL_GPGCONF)) != 0 ||
	    (err = gpgme_ctx_set_engine_info(cctx, GPGME_PROTOCOL_GPGCONF, NULL,
					     keys->gnupg_home)) != 0 ||
	    (err = gpgme_op_conf_dir(cctx, "agent-socket", &socket)) != 0 || socket == NULL) {
		pgp_gpgme_error(error_r, "finding gpg-agent's socket (gpgconf)",
				err != 0 ? err : gpg_error(GPG_ERR_NOT_FOUND));
		goto out;
	}
	if ((err = gpgme_new(&actx)) != 0 ||
	    (err = gpgme_set_protocol(actx, GPGME_PROTOCOL_ASSUAN)) != 0 ||
	    (err = gpgme_ctx_set_engine_info(actx, GPGME_PROTOCOL_ASSUAN, socket, NULL)) != 0 ||
	    (err = gpgme_op_assuan_transact_ext(actx, "OPTION pinentry-mode=loopback", NULL, NULL,
						NULL, NULL, NULL, NULL, &op_err)) != 0 ||
	    (err = op_err) != 0) {
		pgp_gpgme_error(error_r, "talking to gpg-agent", err);
		goto out;
	}
	cmd = g_strdup_printf("PASSWD --verify %s", keygrip);
	err = gpgme_op_assuan_transact_ext(actx, cmd, NULL, NULL, agent_inquiry, &vs, NULL, NULL,
					   &op_err);
	if (err == 0)
		err = op_err;
	if (err == 0) {
		ret = 0;
	} else if (vs.refused && vs.passphrase == NULL) {
		error_set(error_r, "no passphrase configured for key 0x%s", fpr);
	} else if (gpgme_err_code(err) == GPG_ERR_BAD_PASSPHRASE || vs.refused) {
		error_set(error_r, "wrong passphrase for key 0x%s", fpr);
	} else {
		char text[256];
		gpgme_strerror_r(err, text, sizeof(text));
		error_set(error_r, "key 0x%s: gpg-agent: %s", fpr, text);
	}
out:
	g_free(cmd);
	gpgme_free(socket);
	gpgme_release(actx);
	gpgme_release(cctx);
	return ret;
}

/* Is sub a secret encryption subkey ticketd can use? */
static bool usable_encryption_subkey(gpgme_subkey_t sub)
{
	return sub->can_encrypt && sub->secret && !sub->revoked && !sub->expired &&
	       !sub->disabled && !sub->invalid && sub->keygrip != NULL;
}

/* The checks of pgp_check_key() on one secret key; *skipped_r when it has
 * no secret encryption subkey. */
static int check_one(const struct pgp_keyring *keys, gpgme_key_t key, bool *skipped_r,
		     char **error_r)
{
	const char *fpr = key->subkeys->fpr;
	struct pgp_decrypted d = { 0 };
	GByteArray *armored = NULL;
	const void *back = NULL;
	bool any = false;
	gsize n = 0;
	int ret = -1;

	*skipped_r = false;
	for (gpgme_subkey_t sub = key->subkeys; sub != NULL; sub = sub->next) {
		if (!usable_encryption_subkey(sub))
			continue;
		any = true;
		if (agent_verify(keys, fpr, sub->keygrip, error_r) < 0)
			return -1;
	}
	if (!any) {
		*skipped_r = true;
		error_set(error_r, "key 0x%s has no usable secret encryption subkey in %s", fpr,
			  home_name(keys->gnupg_home));
		return -1;
	}
	if (pgp_encrypt_mime(CHECK_BYTES, strlen(CHECK_BYTES), keys, fpr, &armored, error_r) < 0 ||
	    pgp_decrypt(armored->data, armored->len, keys, &d, error_r) < 0)
		goto out;
	if (d.status == PGP_DECRYPT_OK)
		back = g_bytes_get_data(d.plaintext, &n);
	if (back == NULL || n != strlen(CHECK_BYTES) || memcmp(back, CHECK_BYTES, n) != 0) {
		error_set(error_r, "key 0x%s cannot decrypt: %s", fpr,
			  d.reason != NULL ? d.reason : "other plaintext");
		goto out;
	}
	ret = 0;
out:
	pgp_decrypted_clear(&d);
	if (armored != NULL)
		g_byte_array_unref(armored);
	return ret;
}

int pgp_check_key(const struct pgp_keyring *keys, const char *fingerprint_or_null, char **error_r)
{
	const char *home = keys->gnupg_home;
	char *fpr = NULL;
	gpgme_ctx_t ctx = NULL;
	GPtrArray *list = NULL;
	unsigned checked = 0;
	struct stat st;
	int ret = -1;

	if (home != NULL) {
		if (stat(home, &st) < 0) {
			error_set(error_r, "gnupg_home %s: %s", home, g_strerror(errno));
			goto out;
		}
		if (!S_ISDIR(st.st_mode)) {
			error_set(error_r, "gnupg_home %s: not a directory", home);
			goto out;
		}
		if (access(home, R_OK | W_OK | X_OK) < 0) {
			error_set(error_r, "gnupg_home %s: %s (GnuPG needs to write there)", home,
				  g_strerror(errno));
			goto out;
		}
	}
	if (fingerprint_or_null != NULL && (fpr = fpr_normal(fingerprint_or_null)) == NULL) {
		error_set(error_r, "'%s' is not a key fingerprint (40 or 64 hex digits)",
			  fingerprint_or_null);
		goto out;
	}
	if (crypt_context(keys, NULL, &ctx, error_r) < 0 ||
	    (list = secret_keys(ctx, fpr, error_r)) == NULL)
		goto out;
	for (guint i = 0; i < list->len; i++) {
		bool skipped;
		char *why = NULL;

		if (check_one(keys, list->pdata[i], &skipped, &why) == 0) {
			checked++;
			continue;
		}
		if (skipped && fpr == NULL) { /* a signing-only key: not ours to check */
			g_free(why);
			continue;
		}
		if (error_r != NULL)
			*error_r = why;
		else
			g_free(why);
		goto out;
	}
	if (checked == 0) {
		if (fpr != NULL)
			error_set(error_r, "no secret key 0x%s in %s", fpr, home_name(home));
		else
			error_set(error_r, "no secret key with an encryption subkey in %s",
				  home_name(home));
		goto out;
	}
	ret = 0;
out:
	if (list != NULL)
		g_ptr_array_unref(list);
	gpgme_release(ctx);
	g_free(fpr);
	return ret;
}
