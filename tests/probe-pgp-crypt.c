/*
 * probe-pgp-crypt.c - runs the decryption, encryption and key functions
 * of lib/pgp-crypt.c for tests/integration/18-pgp-crypt.sh, which makes
 * the keys and messages with real GnuPG.  Plaintext goes only into files
 * the script names, never to stdout or stderr.
 *
 * Usage: probe-pgp-crypt [-h HOME] [-p FPR=PASS]... [-m MAX] [-o OUT] [-t] CMD ARG...
 *   -p FPR=PASS  a passphrase entry; FPR "*" is the entry for any key
 *   -m MAX       keyring.max_plaintext
 *   -o OUT       plaintext / output file (blocks: OUT.1, OUT.2, ...)
 *   -t           on stderr: "ms=N" per decryption
 * Commands, one result line each on stdout:
 *   decrypt FILE     "STATUS sig=SIG signer=FPR mime=0|1 [reason=...]"
 *   blocks FILE      "block N START END complete|incomplete" per block, then
 *                    (with -h) "block N: " and the decrypt line
 *   encrypt FILE FPR "encrypted" (armor into OUT) or "error: REASON"
 *   export FPR|-     "exported" (into OUT) or "error: REASON"
 *   check FPR|-      "ok" or "error: REASON"
 * STATUS and SIG are the texts of pgp_decrypt_status_text and
 * pgp_sig_status_text with spaces as '_'.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgp.h"
#include "util.h"

static bool timing;

static void underscores(const char *text)
{
	for (; *text != '\0'; text++)
		putchar(*text == ' ' ? '_' : *text);
}

static int write_file(const char *path, const void *data, size_t len)
{
	FILE *f;

	if (path == NULL)
		return 0;
	if ((f = fopen(path, "wb")) == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		return -1;
	}
	return 0;
}

/* Prints one decrypt line for d, writes its plaintext to out. */
static int report(const struct pgp_decrypted *d, const char *out)
{
	const struct pgp_signature *s = &d->sig;
	const char *signer = s->primary_fingerprint != NULL ? s->primary_fingerprint
			     : s->fingerprint != NULL       ? s->fingerprint
							    : "-";

	underscores(pgp_decrypt_status_text(d->status));
	printf(" sig=");
	underscores(pgp_sig_status_text(s->status));
	printf(" signer=%s mime=%d", signer, d->is_mime ? 1 : 0);
	if (d->reason != NULL)
		printf(" reason=%s", d->reason);
	printf("\n");
	if (d->status == PGP_DECRYPT_OK) {
		gsize n;
		const void *p = g_bytes_get_data(d->plaintext, &n);
		return write_file(out, p, n);
	}
	return 0;
}

static int decrypt(const struct pgp_keyring *keys, const char *data, size_t len,
		   const struct pgp_block *block, const char *out)
{
	struct pgp_decrypted d;
	char *error = NULL;
	gint64 t0 = g_get_monotonic_time();
	int r = block != NULL ? pgp_decrypt_block(data, len, block, keys, &d, &error)
			      : pgp_decrypt(data, len, keys, &d, &error);

	if (timing)
		fprintf(stderr, "ms=%.1f\n", (double)(g_get_monotonic_time() - t0) / 1000.0);
	if (r < 0) {
		printf("error: %s\n", error);
		g_free(error);
		return 1;
	}
	r = report(&d, out);
	pgp_decrypted_clear(&d);
	return r < 0;
}

static int blocks(const struct pgp_keyring *keys, const char *data, size_t len, const char *out)
{
	GArray *a = pgp_blocks_find(data, len);
	int failed = 0;

	for (guint i = 0; i < a->len; i++) {
		const struct pgp_block *b = &g_array_index(a, struct pgp_block, i);
		printf("block %u %zu %zu %s\n", i + 1, b->start, b->end,
		       b->complete ? "complete" : "incomplete");
	}
	for (guint i = 0; keys->gnupg_home != NULL && i < a->len; i++) {
		char *path = out != NULL ? g_strdup_printf("%s.%u", out, i + 1) : NULL;
		printf("block %u: ", i + 1);
		fflush(stdout);
		failed |= decrypt(keys, data, len, &g_array_index(a, struct pgp_block, i), path);
		g_free(path);
	}
	g_array_unref(a);
	return failed;
}

int main(int argc, char **argv)
{
	struct pgp_keyring keys = { 0 };
	struct pgp_passphrase pp[8];
	const char *out = NULL, *cmd;
	char *data = NULL, *error = NULL;
	size_t len = 0;
	int opt, ret = 0;

	while ((opt = getopt(argc, argv, "h:p:m:o:t")) != -1) {
		switch (opt) {
		case 'h':
			keys.gnupg_home = optarg;
			break;
		case 'p': {
			char *eq = strchr(optarg, '=');
			if (eq == NULL || keys.n == G_N_ELEMENTS(pp))
				return 2;
			*eq = '\0';
			pp[keys.n].fingerprint = strcmp(optarg, "*") == 0 ? NULL : optarg;
			pp[keys.n].passphrase = eq + 1;
			keys.n++;
			break;
		}
		case 'm':
			keys.max_plaintext = strtoul(optarg, NULL, 10);
			break;
		case 'o':
			out = optarg;
			break;
		case 't':
			timing = true;
			break;
		default:
			return 2;
		}
	}
	keys.passphrases = pp;
	if (optind >= argc)
		return 2;
	cmd = argv[optind++];
	pgp_init();
	if (strcmp(cmd, "decrypt") == 0 || strcmp(cmd, "blocks") == 0 ||
	    strcmp(cmd, "encrypt") == 0) {
		if (optind >= argc || file_read_all(argv[optind], 0, &data, &len, &error) < 0) {
			printf("error: %s\n", error != NULL ? error : "no file");
			g_free(error);
			return 1;
		}
	}
	if (strcmp(cmd, "decrypt") == 0) {
		ret = decrypt(&keys, data, len, NULL, out);
	} else if (strcmp(cmd, "blocks") == 0) {
		ret = blocks(&keys, data, len, out);
	} else if (strcmp(cmd, "encrypt") == 0 && optind + 1 < argc) {
		GByteArray *armored;
		if (pgp_encrypt_mime(data, len, &keys, argv[optind + 1], &armored, &error) < 0) {
			printf("error: %s\n", error);
			ret = 1;
		} else {
			printf("encrypted\n");
			ret = write_file(out, armored->data, armored->len) < 0;
			g_byte_array_unref(armored);
		}
	} else if (strcmp(cmd, "export") == 0 && optind < argc) {
		char *armored;
		const char *fpr = strcmp(argv[optind], "-") == 0 ? NULL : argv[optind];
		if (pgp_export_public(keys.gnupg_home, fpr, &armored, &error) < 0) {
			printf("error: %s\n", error);
			ret = 1;
		} else {
			printf("exported\n");
			ret = write_file(out, armored, strlen(armored)) < 0;
			g_free(armored);
		}
	} else if (strcmp(cmd, "check") == 0 && optind < argc) {
		const char *fpr = strcmp(argv[optind], "-") == 0 ? NULL : argv[optind];
		if (pgp_check_key(&keys, fpr, &error) < 0) {
			printf("error: %s\n", error);
			ret = 1;
		} else {
			printf("ok\n");
		}
	} else {
		ret = 2;
	}
	g_free(error);
	g_free(data);
	return ret;
}
