/*
 * pgp-keys.c - OpenPGP encryption and keys through GPGME (issue 18):
 * pgp_encrypt_mime(), pgp_export_public(), pgp_check_key().  Contract in
 * pgp.h; the context, passphrase lookup and output sink are pgp-crypt.c's,
 * shared through pgp-private.h.
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

/* What pgp_check_key() encrypts to a key and decrypts again. */
#define CHECK_BYTES "ticketd key check\n"

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
	char *fpr = pgp_fpr_normal(recipient_fpr);
	gpgme_ctx_t ctx = NULL;
	gpgme_key_t key = NULL;
	gpgme_data_t plain = NULL, cipher = NULL;
	gpgme_key_t recp[2] = { NULL, NULL };
	gpgme_encrypt_result_t res;
	gpgme_error_t err;
	struct pgp_sink sink = { 0 };
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
	if (pgp_crypt_context(keys, NULL, &ctx, error_r) < 0 ||
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
	if (pgp_sink_open(&sink, 2 * len + 64 * 1024, &cipher, error_r) < 0)
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
	pgp_sink_free(&sink);
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
	if (fingerprint_or_null != NULL && (fpr = pgp_fpr_normal(fingerprint_or_null)) == NULL) {
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
	const struct pgp_passphrase *pp = pgp_passphrase_for(keys, fpr + strlen(fpr) - 16);
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
	if (fingerprint_or_null != NULL && (fpr = pgp_fpr_normal(fingerprint_or_null)) == NULL) {
		error_set(error_r, "'%s' is not a key fingerprint (40 or 64 hex digits)",
			  fingerprint_or_null);
		goto out;
	}
	if (pgp_crypt_context(keys, NULL, &ctx, error_r) < 0 ||
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
