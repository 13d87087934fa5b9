/*
 * tls.c - certificate checks for libetpan's TLS streams (see tls.h).
 *
 * libetpan hands over the peer's chain as DER blobs, leaf first; GnuTLS
 * verifies it against a trust list made for this one check (ca_file, or
 * the system store) together with the host name and the TLS server purpose.
 * The verification status bits are turned into sentences an administrator
 * can act on: which authority, which host, which date.
 */
#include "tls.h"
#include "util.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>
#include <time.h>

/* More certificates than any sane chain has: a hostile server gets no more. */
#define TLS_MAX_CHAIN 16

/* True for an IPv4 or IPv6 literal, which never goes into SNI (RFC 6066 §3). */
static bool tls_is_ip_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

void tls_sni_callback(struct mailstream_ssl_context *ssl_context, void *data)
{
	const char *host = data;

	if (host == NULL || *host == '\0' || tls_is_ip_literal(host))
		return;
	/* libetpan's prototype lacks const; GnuTLS copies the name. */
	mailstream_ssl_set_server_name(ssl_context, (char *)host);
}

/* The DNS names and IP addresses the certificate is for, "a, b, c". */
static char *tls_cert_names(gnutls_x509_crt_t crt)
{
	GString *names = g_string_new(NULL);

	for (unsigned seq = 0; seq < 32 && names->len < 300; seq++) {
		unsigned char buf[256];
		size_t size = sizeof(buf) - 1;
		char ip[INET6_ADDRSTRLEN];
		const char *name = NULL;
		unsigned int critical;
		int type;

		type = gnutls_x509_crt_get_subject_alt_name(crt, seq, buf, &size, &critical);
		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (type == GNUTLS_SAN_DNSNAME) {
			buf[size] = '\0';
			name = (const char *)buf;
		} else if (type == GNUTLS_SAN_IPADDRESS && (size == 4 || size == 16)) {
			name = inet_ntop(size == 4 ? AF_INET : AF_INET6, buf, ip, sizeof(ip));
		}
		if (name == NULL)
			continue;
		char *safe = log_sanitize(name, 100);
		g_string_append_printf(names, "%s%s", names->len > 0 ? ", " : "", safe);
		g_free(safe);
	}
	if (names->len == 0) {
		/* No subjectAltName: the common name is all there is. */
		char buf[256];
		size_t size = sizeof(buf);
		if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf,
						  &size) == 0) {
			char *safe = log_sanitize(buf, 100);
			g_string_append(names, safe);
			g_free(safe);
		}
	}
	if (names->len == 0)
		g_string_append(names, "no host name at all");
	return g_string_free(names, FALSE);
}

static void tls_format_date(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (t == (time_t)-1 || gmtime_r(&t, &tm) == NULL)
		g_strlcpy(buf, "an unknown date", size);
	else
		strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* The status bits of a failed verification as one sentence per problem. */
static char *tls_describe(unsigned int status, gnutls_x509_crt_t leaf, const char *host,
			  const char *ca_file)
{
	GString *why = g_string_new(NULL);
	unsigned int known = 0;
	char date[64];

#define TLS_WHY(...)                                                                               \
	do {                                                                                       \
		if (why->len > 0)                                                                  \
			g_string_append(why, "; ");                                                \
		g_string_append_printf(why, __VA_ARGS__);                                          \
	} while (0)

	if (status & GNUTLS_CERT_SIGNER_NOT_FOUND) {
		if (ca_file != NULL)
			TLS_WHY("certificate signed by an unknown authority (not by a CA in %s)",
				ca_file);
		else
			TLS_WHY("certificate signed by an unknown authority (not by a CA in the "
				"system's trust store; set ca_file for a private CA)");
		known |= GNUTLS_CERT_SIGNER_NOT_FOUND;
	}
	if (status & GNUTLS_CERT_UNEXPECTED_OWNER) {
		char *names = tls_cert_names(leaf);
		TLS_WHY("certificate is for another host: it names %s, not %s", names, host);
		g_free(names);
		known |= GNUTLS_CERT_UNEXPECTED_OWNER;
	}
	if (status & GNUTLS_CERT_EXPIRED) {
		time_t until = gnutls_x509_crt_get_expiration_time(leaf);
		if (until != (time_t)-1 && until < time(NULL)) {
			tls_format_date(until, date, sizeof(date));
			TLS_WHY("certificate expired on %s", date);
		} else {
			TLS_WHY("a CA certificate of the chain has expired");
		}
		known |= GNUTLS_CERT_EXPIRED;
	}
	if (status & GNUTLS_CERT_NOT_ACTIVATED) {
		time_t from = gnutls_x509_crt_get_activation_time(leaf);
		if (from != (time_t)-1 && from > time(NULL)) {
			tls_format_date(from, date, sizeof(date));
			TLS_WHY("certificate is not valid before %s (check the clocks)", date);
		} else {
			TLS_WHY("a CA certificate of the chain is not valid yet (check the clocks)");
		}
		known |= GNUTLS_CERT_NOT_ACTIVATED;
	}
	if (status & GNUTLS_CERT_REVOKED) {
		TLS_WHY("certificate has been revoked");
		known |= GNUTLS_CERT_REVOKED;
	}
	if (status & GNUTLS_CERT_SIGNER_NOT_CA) {
		TLS_WHY("certificate signed by a certificate that is not a CA");
		known |= GNUTLS_CERT_SIGNER_NOT_CA;
	}
	if (status & GNUTLS_CERT_INSECURE_ALGORITHM) {
		TLS_WHY("certificate signed with an insecure algorithm");
		known |= GNUTLS_CERT_INSECURE_ALGORITHM;
	}
	if (status & GNUTLS_CERT_SIGNATURE_FAILURE) {
		TLS_WHY("certificate signature is invalid");
		known |= GNUTLS_CERT_SIGNATURE_FAILURE;
	}
	if (status & GNUTLS_CERT_PURPOSE_MISMATCH) {
		TLS_WHY("certificate is not meant for a TLS server");
		known |= GNUTLS_CERT_PURPOSE_MISMATCH;
	}
#undef TLS_WHY
	/* GNUTLS_CERT_INVALID accompanies every other bit; anything left is
	 * described by GnuTLS itself. */
	if ((status & ~(known | GNUTLS_CERT_INVALID)) != 0 || why->len == 0) {
		gnutls_datum_t text = { NULL, 0 };
		if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text,
								 0) == 0) {
			g_string_append_printf(why, "%s%s", why->len > 0 ? "; " : "",
					       (const char *)text.data);
			gnutls_free(text.data);
		} else {
			g_string_append_printf(why, "%scertificate rejected (status 0x%x)",
					       why->len > 0 ? "; " : "", status);
		}
	}
	return g_string_free(why, FALSE);
}

int tls_check_peer(mailstream *stream, const char *host, const char *ca_file, char **error_r)
{
	gnutls_x509_crt_t certs[TLS_MAX_CHAIN];
	gnutls_x509_trust_list_t trust = NULL;
	unsigned int ncerts = 0, count, status = 0;
	carray *chain = NULL;
	int ret = -1, r;

	chain = mailstream_get_certificate_chain(stream);
	count = chain != NULL ? carray_count(chain) : 0;
	if (count == 0) {
		error_set(error_r, "the server sent no certificate");
		goto out;
	}
	if (count > TLS_MAX_CHAIN)
		count = TLS_MAX_CHAIN;
	for (unsigned int i = 0; i < count; i++) {
		MMAPString *der = carray_get(chain, i);
		gnutls_datum_t datum = { (unsigned char *)der->str, (unsigned int)der->len };

		if ((r = gnutls_x509_crt_init(&certs[ncerts])) < 0) {
			error_set(error_r, "cannot check the certificate: %s", gnutls_strerror(r));
			goto out;
		}
		ncerts++;
		if ((r = gnutls_x509_crt_import(certs[ncerts - 1], &datum, GNUTLS_X509_FMT_DER)) <
		    0) {
			error_set(error_r, "the server sent an unreadable certificate: %s",
				  gnutls_strerror(r));
			goto out;
		}
	}

	if ((r = gnutls_x509_trust_list_init(&trust, 0)) < 0) {
		error_set(error_r, "cannot check the certificate: %s", gnutls_strerror(r));
		goto out;
	}
	if (ca_file != NULL) {
		r = gnutls_x509_trust_list_add_trust_file(trust, ca_file, NULL, GNUTLS_X509_FMT_PEM,
							  0, 0);
		if (r <= 0) {
			error_set(error_r, "cannot use ca_file %s: %s", ca_file,
				  r < 0 ? gnutls_strerror(r) : "no PEM certificate in it");
			goto out;
		}
	} else {
		r = gnutls_x509_trust_list_add_system_trust(trust, 0, 0);
		if (r <= 0) {
			error_set(error_r,
				  "the system's trust store is empty or unreadable (%s): install "
				  "ca-certificates or set ca_file",
				  r < 0 ? gnutls_strerror(r) : "no certificates");
			goto out;
		}
	}

	gnutls_typed_vdata_st vdata[2] = {
		{ .type = GNUTLS_DT_DNS_HOSTNAME, .data = (unsigned char *)host },
		{ .type = GNUTLS_DT_KEY_PURPOSE_OID,
		  .data = (unsigned char *)GNUTLS_KP_TLS_WWW_SERVER },
	};
	r = gnutls_x509_trust_list_verify_crt2(trust, certs, ncerts, vdata, 2, 0, &status, NULL);
	if (r < 0) {
		error_set(error_r, "cannot verify the certificate: %s", gnutls_strerror(r));
		goto out;
	}
	if (status != 0) {
		char *why = tls_describe(status, certs[0], host, ca_file);
		error_set(error_r, "%s", why);
		g_free(why);
		goto out;
	}
	ret = 0;
out:
	if (trust != NULL)
		gnutls_x509_trust_list_deinit(trust, 1);
	for (unsigned int i = 0; i < ncerts; i++)
		gnutls_x509_crt_deinit(certs[i]);
	mailstream_certificate_chain_free(chain);
	return ret;
}
