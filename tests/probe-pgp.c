/*
 * probe-pgp.c - runs pgp_verify() over message files for
 * tests/integration/17-pgp-verify.sh, which makes the keys and signatures
 * with real GnuPG.  Usage: probe-pgp GNUPGHOME FILE...
 * Prints one line per file: "FILE STATUS FINGERPRINT PRIMARY PARTIAL"
 * (status as pgp_sig_status_text, "-" for a missing fingerprint), or
 * "FILE error: REASON" when pgp_verify() returned -1.
 */
#include <stdio.h>

#include "message.h"
#include "pgp.h"
#include "util.h"

int main(int argc, char **argv)
{
	int failed = 0;

	message_init();
	pgp_init();
	for (int i = 2; i < argc; i++) {
		struct pgp_signature sig;
		char *data = NULL, *error = NULL;
		size_t len;

		if (file_read_all(argv[i], 0, &data, &len, &error) < 0 ||
		    pgp_verify(data, len, argv[1], &sig, &error) < 0) {
			printf("%s error: %s\n", argv[i], error);
			failed = 1;
		} else {
			printf("%s %s %s %s %s\n", argv[i], pgp_sig_status_text(sig.status),
			       sig.fingerprint != NULL ? sig.fingerprint : "-",
			       sig.primary_fingerprint != NULL ? sig.primary_fingerprint : "-",
			       sig.partial ? "partial" : "whole");
			pgp_signature_clear(&sig);
		}
		g_free(data);
		g_free(error);
	}
	message_deinit();
	return failed;
}
