/*
 * pop3.c - the POP3 source (libetpan's low-level mailpop3 API), for
 * pop3://host[:port] (STLS per mailbox.tls, port 110) and pop3s://host[:port]
 * (TLS from the start, port 995).
 *
 * Connection: the certificate is checked with tls_check_peer() after every
 * handshake and before USER/PASS (libetpan checks none); CAPA is asked again
 * after STLS (RFC 2595).  Every operation is bounded by mailbox.timeout.
 *
 * A message's uid is its UIDL: it is the only name that lasts from one
 * session to the next, so a server without UIDL is refused.  list is LIST +
 * UIDL in message-number order (oldest first) and keeps a UIDL → number map
 * for fetch (RETR: libetpan undoes the dot-stuffing and ends every line in
 * CRLF) and ack (DELE).  POP3 has no folders: "move:" cannot be done and
 * "seen" behaves as "delete", as on IMAP (see imap.c).  DELE becomes
 * permanent with the QUIT that close sends; there is no flush.
 *
 * A failure on the connection itself marks the session broken: later calls
 * fail at once, and close sends no QUIT, so no DELE of this session counts.
 */
#include "mailbox.h"
#include "tls.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libetpan/libetpan.h>

#define POP3_DEFAULT_PORT  110
#define POP3S_DEFAULT_PORT 995
/* libetpan formats USER and PASS into 512 bytes and would cut them. */
#define POP3_MAX_ARG  255
#define POP3_MAX_UIDL 70 /* RFC 1939 */

struct pop3_box {
	struct mailbox box; /* must be first */
	mailpop3 *pop3;
	char *where; /* "POP3 host:port", the start of every error */
	char *host;
	long timeout;
	GHashTable *index_of; /* UIDL → message number (GUINT_TO_POINTER) */
	bool broken;          /* the connection can no longer be used */
};

/* --- small helpers ---------------------------------------------------------- */

/* True for a host that is this machine: credentials in clear stay local. */
static bool pop3_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (g_ascii_strcasecmp(host, "localhost") == 0 ||
	    g_ascii_strcasecmp(host, "localhost.") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}

/* pop3[s]://host[:port][/]: host and port.  A user name in the URL is
 * refused (it belongs in mailbox.user), and so is a folder. */
static int pop3_parse_url(const char *url, const char *scheme, uint16_t default_port, char **host_r,
			  uint16_t *port_r, char **error_r)
{
	const char *auth = url + strlen(scheme), *slash, *port = NULL;
	char *authority = NULL, *host = NULL;
	unsigned long n = default_port;
	int ret = -1;

	slash = strchr(auth, '/');
	authority = slash != NULL ? g_strndup(auth, slash - auth) : g_strdup(auth);
	if (slash != NULL && slash[1] != '\0') {
		error_set(error_r, "%s: POP3 has no folders; write %.*s", url, (int)(slash - url),
			  url);
		goto out;
	}
	if (strchr(authority, '@') != NULL) {
		error_set(error_r, "%s: put the user name in mailbox.user, not in the URL", url);
		goto out;
	}
	if (authority[0] == '[') {
		char *end = strchr(authority, ']');
		if (end == NULL || (end[1] != '\0' && end[1] != ':')) {
			error_set(error_r, "%s: bad IPv6 address in the URL", url);
			goto out;
		}
		host = g_strndup(authority + 1, end - authority - 1);
		port = end[1] == ':' ? end + 2 : NULL;
	} else {
		char *colon = strchr(authority, ':');
		host =
		    colon != NULL ? g_strndup(authority, colon - authority) : g_strdup(authority);
		port = colon != NULL ? colon + 1 : NULL;
	}
	if (*host == '\0') {
		error_set(error_r, "%s: no host in the URL", url);
		goto out;
	}
	if (port != NULL) {
		char *end;
		errno = 0;
		n = strtoul(port, &end, 10);
		if (*port == '\0' || *end != '\0' || errno != 0 || n == 0 || n > 65535) {
			error_set(error_r, "%s: bad port '%s'", url, port);
			goto out;
		}
	}
	*host_r = host;
	host = NULL;
	*port_r = (uint16_t)n;
	ret = 0;
out:
	g_free(authority);
	g_free(host);
	return ret;
}

/* The password in cfg->password_file without its line end. */
static int pop3_read_password(const struct config_mailbox *cfg, char **password_r, char **error_r)
{
	char *data = NULL;
	size_t len;

	if (cfg->user == NULL || cfg->password_file == NULL) {
		error_set(error_r, "%s: mailbox.user and mailbox.password_file must be set",
			  cfg->url);
		return -1;
	}
	if (strlen(cfg->user) > POP3_MAX_ARG || strpbrk(cfg->user, "\r\n") != NULL) {
		error_set(error_r, "%s: the user name is too long for POP3 or has a line break",
			  cfg->url);
		return -1;
	}
	if (file_read_all(cfg->password_file, 4096, &data, &len, error_r) < 0)
		return -1;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		data[--len] = '\0';
	if (len == 0 || len > POP3_MAX_ARG || memchr(data, '\0', len) != NULL ||
	    strpbrk(data, "\r\n") != NULL) {
		error_set(error_r,
			  "%s: the password must be one non-empty line of at most %d bytes",
			  cfg->password_file, POP3_MAX_ARG);
		explicit_bzero(data, len);
		g_free(data);
		return -1;
	}
	*password_r = data;
	return 0;
}

static void pop3_free_password(char **password)
{
	if (*password == NULL)
		return;
	explicit_bzero(*password, strlen(*password));
	g_free(*password);
	*password = NULL;
}

/* libetpan results after which the connection is not usable any more. */
static bool pop3_is_connection_error(int r)
{
	switch (r) {
	case MAILPOP3_ERROR_STREAM:
	case MAILPOP3_ERROR_SSL:
	case MAILPOP3_ERROR_MEMORY:
	case MAILPOP3_ERROR_CONNECTION_REFUSED:
	case MAILPOP3_ERROR_BAD_STATE:
		return true;
	default:
		return false;
	}
}

/* Sets *error_r to "POP3 host:port: WHAT: why" for the libetpan result r:
 * the server's own words for a refused command, else what broke. */
static void G_GNUC_PRINTF(4, 5)
    pop3_fail(struct pop3_box *pb, int r, char **error_r, const char *fmt, ...)
{
	char *what, *why;
	va_list ap;

	va_start(ap, fmt);
	what = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (pop3_is_connection_error(r)) {
		pb->broken = true;
		switch (r) {
		case MAILPOP3_ERROR_STREAM:
			why = g_strdup_printf("connection closed, or no answer within %lds",
					      pb->timeout);
			break;
		case MAILPOP3_ERROR_SSL:
			why = g_strdup_printf("TLS handshake failed (or no answer within %lds)",
					      pb->timeout);
			break;
		case MAILPOP3_ERROR_MEMORY:
			why = g_strdup("out of memory");
			break;
		default:
			why = g_strdup_printf("protocol error (libetpan error %d)", r);
			break;
		}
	} else if (pb->pop3 != NULL && pb->pop3->pop3_response != NULL &&
		   pb->pop3->pop3_response[0] != '\0') {
		char *safe = log_sanitize(pb->pop3->pop3_response, 300);
		why = g_strdup_printf("the server said: %s", safe);
		g_free(safe);
	} else {
		why = g_strdup("refused by the server");
	}
	error_set(error_r, "%s: %s: %s", pb->where, what, why);
	g_free(what);
	g_free(why);
}

/* Why a TCP connection to host could not be made: libetpan keeps neither
 * the resolver's error nor the socket's, so ask again and look at the time. */
static char *pop3_connect_reason(const char *host, int saved_errno, gint64 started, long timeout)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	int r = getaddrinfo(host, NULL, &hints, &res);

	if (res != NULL)
		freeaddrinfo(res);
	if (r != 0)
		return g_strdup_printf("cannot resolve %s: %s", host, gai_strerror(r));
	if (saved_errno != 0 && saved_errno != EINPROGRESS)
		return g_strdup(g_strerror(saved_errno));
	if (g_get_monotonic_time() - started >= (gint64)timeout * G_USEC_PER_SEC)
		return g_strdup_printf("no answer within %lds", timeout);
	return g_strdup("connection refused or host unreachable");
}

/* CAPA: *caps_r is a set of upper-case capability names, or NULL when the
 * server has no CAPA command. */
static int pop3_capa(struct pop3_box *pb, GHashTable **caps_r, char **error_r)
{
	clist *list = NULL;
	int r = mailpop3_capa(pb->pop3, &list);

	*caps_r = NULL;
	if (r == MAILPOP3_ERROR_CAPA_NOT_SUPPORTED)
		return 0;
	if (r != MAILPOP3_NO_ERROR) {
		pop3_fail(pb, r, error_r, "CAPA failed");
		return -1;
	}
	*caps_r = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (clistiter *it = clist_begin(list); it != NULL; it = clist_next(it)) {
		struct mailpop3_capa *capa = clist_content(it);
		if (capa->cap_name != NULL)
			g_hash_table_add(*caps_r, g_ascii_strup(capa->cap_name, -1));
	}
	mailpop3_capa_resp_free(list);
	return 0;
}

static void pop3_caps_free(GHashTable **caps)
{
	if (*caps != NULL)
		g_hash_table_destroy(*caps);
	*caps = NULL;
}

static int pop3_check_peer(struct pop3_box *pb, const struct config_mailbox *cfg, char **error_r)
{
	char *why = NULL;

	if (!cfg->tls_verify)
		return 0;
	if (tls_check_peer(pb->pop3->pop3_stream, pb->host, cfg->ca_file, &why) < 0) {
		/* Nothing more is said to a server we cannot trust. */
		pb->broken = true;
		error_set(error_r, "%s: TLS certificate check failed, not logging in: %s",
			  pb->where, why);
		g_free(why);
		return -1;
	}
	return 0;
}

/* --- open ----------------------------------------------------------------------- */

static void pop3_close(struct mailbox **box);

/* Connects and secures the session, before any credential is sent. */
static int pop3_connect(struct pop3_box *pb, const struct config_mailbox *cfg, bool implicit_tls,
			uint16_t port, char **error_r)
{
	const char *tls = cfg->tls != NULL ? cfg->tls : "optional";
	bool tls_off = !implicit_tls && strcmp(tls, "off") == 0;
	bool tls_required = !implicit_tls && strcmp(tls, "required") == 0;
	GHashTable *caps = NULL;
	gint64 started = g_get_monotonic_time();
	int r, saved_errno, ret = -1;

	if (!tls_off && !cfg->tls_verify)
		log_warning("TLS certificate verification is off for %s", cfg->url);
	errno = 0;
	if (implicit_tls)
		r = mailpop3_ssl_connect_with_callback(pb->pop3, pb->host, port, tls_sni_callback,
						       pb->host);
	else
		r = mailpop3_socket_connect(pb->pop3, pb->host, port);
	saved_errno = errno;
	if (r == MAILPOP3_ERROR_CONNECTION_REFUSED) {
		char *why = pop3_connect_reason(pb->host, saved_errno, started, pb->timeout);
		pb->broken = true;
		error_set(error_r, "%s: cannot connect: %s", pb->where, why);
		g_free(why);
		goto out;
	}
	if (r != MAILPOP3_NO_ERROR) {
		/* A bad greeting is MAILPOP3_ERROR_UNAUTHORIZED, and so is none
		 * at all (then there is no response text). */
		if (r == MAILPOP3_ERROR_UNAUTHORIZED && pb->pop3->pop3_response == NULL)
			r = MAILPOP3_ERROR_STREAM;
		pb->broken = true;
		pop3_fail(pb, r, error_r, "%s",
			  implicit_tls ? "TLS connection failed" : "no greeting from the server");
		goto out;
	}
	if (implicit_tls) {
		ret = pop3_check_peer(pb, cfg, error_r);
		goto out;
	}
	if (tls_off)
		goto plain;
	if (pop3_capa(pb, &caps, error_r) < 0)
		goto out;
	/* Without CAPA, STLS may still work: "required" tries it. */
	if (caps != NULL ? !g_hash_table_contains(caps, "STLS") : !tls_required) {
		if (tls_required) {
			error_set(error_r,
				  "%s: the server does not offer STLS (tls = \"required\"); not "
				  "logging in",
				  pb->where);
			goto out;
		}
		goto plain;
	}
	r = mailpop3_socket_starttls_with_callback(pb->pop3, tls_sni_callback, pb->host);
	if (r != MAILPOP3_NO_ERROR) {
		pop3_fail(pb, r, error_r, "STLS failed");
		goto out;
	}
	if (pop3_check_peer(pb, cfg, error_r) < 0)
		goto out;
	/* RFC 2595: forget what was said before the handshake. */
	pop3_caps_free(&caps);
	ret = pop3_capa(pb, &caps, error_r);
	goto out;
plain:
	if (!pop3_is_loopback(pb->host))
		log_warning("%s: no TLS (%s): the password for %s goes over the network in clear",
			    cfg->url, tls_off ? "tls = \"off\"" : "the server does not offer STLS",
			    cfg->user);
	ret = 0;
out:
	pop3_caps_free(&caps);
	return ret;
}

static int pop3_open_common(const struct config_mailbox *cfg, bool implicit_tls,
			    struct mailbox **box_r, char **error_r)
{
	struct pop3_box *pb = g_new0(struct pop3_box, 1);
	char *password = NULL, *user = NULL;
	uint16_t port;
	int r;

	pb->timeout = cfg->timeout > 0 ? cfg->timeout : 60;
	pb->index_of = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (pop3_parse_url(cfg->url, implicit_tls ? "pop3s://" : "pop3://",
			   implicit_tls ? POP3S_DEFAULT_PORT : POP3_DEFAULT_PORT, &pb->host, &port,
			   error_r) < 0)
		goto fail;
	pb->where = strchr(pb->host, ':') != NULL ? g_strdup_printf("POP3 [%s]:%u", pb->host, port)
						  : g_strdup_printf("POP3 %s:%u", pb->host, port);
	if (cfg->after == MAILBOX_AFTER_MOVE) {
		error_set(error_r,
			  "%s: POP3 has no folders to move messages to (after = \"move:%s\")",
			  cfg->url, cfg->after_folder);
		goto fail;
	}
	if (pop3_read_password(cfg, &password, error_r) < 0)
		goto fail;

	pb->pop3 = mailpop3_new(0, NULL);
	if (pb->pop3 == NULL)
		log_panic("out of memory in libetpan");
	mailpop3_set_timeout(pb->pop3, pb->timeout);
	if (pop3_connect(pb, cfg, implicit_tls, port, error_r) < 0)
		goto fail;

	user = log_sanitize(cfg->user, 100);
	r = mailpop3_user(pb->pop3, cfg->user);
	if (r == MAILPOP3_NO_ERROR)
		r = mailpop3_pass(pb->pop3, password);
	pop3_free_password(&password);
	if (r != MAILPOP3_NO_ERROR) {
		pop3_fail(pb, r, error_r, "login as %s failed", user);
		goto fail;
	}
	log_debug("%s: logged in as %s", pb->where, user);
	g_free(user);
	*box_r = &pb->box;
	return 0;
fail:
	pop3_free_password(&password);
	g_free(user);
	{
		struct mailbox *box = &pb->box;
		pop3_close(&box);
	}
	return -1;
}

static int pop3_open(const struct config_mailbox *cfg, struct mailbox **box_r, char **error_r)
{
	return pop3_open_common(cfg, false, box_r, error_r);
}

static int pop3s_open(const struct config_mailbox *cfg, struct mailbox **box_r, char **error_r)
{
	return pop3_open_common(cfg, true, box_r, error_r);
}

/* --- list, fetch, ack ---------------------------------------------------------- */

static int pop3_usable(struct pop3_box *pb, char **error_r)
{
	if (pb->broken) {
		error_set(error_r, "%s: the connection was lost earlier", pb->where);
		return -1;
	}
	return 0;
}

/* RFC 1939: 1 to 70 characters from 0x21 to 0x7E. */
static bool pop3_uidl_ok(const char *uidl)
{
	size_t n = 0;

	for (; uidl[n] != '\0'; n++)
		if ((unsigned char)uidl[n] < 0x21 || (unsigned char)uidl[n] > 0x7e)
			return false;
	return n > 0 && n <= POP3_MAX_UIDL;
}

static int pop3_list(struct mailbox *box, GPtrArray **uids_r, char **error_r)
{
	struct pop3_box *pb = (struct pop3_box *)box;
	carray *tab = NULL;
	GPtrArray *uids;
	int r;

	if (pop3_usable(pb, error_r) < 0)
		return -1;
	/* LIST, then UIDL; libetpan ignores a failed UIDL, so it shows as
	 * messages without one. */
	r = mailpop3_list(pb->pop3, &tab);
	if (r != MAILPOP3_NO_ERROR) {
		pop3_fail(pb, r, error_r, "LIST failed");
		return -1;
	}
	g_hash_table_remove_all(pb->index_of);
	uids = g_ptr_array_new_with_free_func(g_free);
	for (unsigned int i = 0; tab != NULL && i < carray_count(tab); i++) {
		struct mailpop3_msg_info *info = carray_get(tab, i);

		if (info == NULL)
			continue;
		if (info->msg_uidl == NULL) {
			error_set(error_r,
				  "%s: the server has no UIDL (or it failed) for message %u: "
				  "without it messages cannot be told apart across sessions",
				  pb->where, info->msg_index);
			g_ptr_array_free(uids, TRUE);
			g_hash_table_remove_all(pb->index_of);
			return -1;
		}
		if (!pop3_uidl_ok(info->msg_uidl)) {
			char *safe = log_sanitize(info->msg_uidl, 100);
			log_warning("%s: message %u skipped: invalid UIDL '%s'", pb->where,
				    info->msg_index, safe);
			g_free(safe);
			continue;
		}
		if (g_hash_table_contains(pb->index_of, info->msg_uidl)) {
			log_warning("%s: message %u skipped: UIDL %s is used twice", pb->where,
				    info->msg_index, info->msg_uidl);
			continue;
		}
		g_hash_table_insert(pb->index_of, g_strdup(info->msg_uidl),
				    GUINT_TO_POINTER(info->msg_index));
		g_ptr_array_add(uids, g_strdup(info->msg_uidl));
	}
	*uids_r = uids;
	return 0;
}

/* The message number of uid in this session. */
static int pop3_index(struct pop3_box *pb, const char *uid, unsigned int *index_r, char **error_r)
{
	gpointer value;

	if (pop3_usable(pb, error_r) < 0)
		return -1;
	if (!g_hash_table_lookup_extended(pb->index_of, uid, NULL, &value)) {
		error_set(error_r, "%s: UIDL %s is not in this session's list", pb->where, uid);
		return -1;
	}
	*index_r = GPOINTER_TO_UINT(value);
	return 0;
}

static int pop3_fetch(struct mailbox *box, const char *uid, char **data_r, size_t *len_r,
		      char **error_r)
{
	struct pop3_box *pb = (struct pop3_box *)box;
	unsigned int index;
	char *msg = NULL;
	size_t len = 0;
	int r;

	if (pop3_index(pb, uid, &index, error_r) < 0)
		return -1;
	r = mailpop3_retr(pb->pop3, index, &msg, &len);
	if (r != MAILPOP3_NO_ERROR) {
		pop3_fail(pb, r, error_r, "RETR %u (UIDL %s) failed", index, uid);
		return -1;
	}
	*data_r = g_malloc(len + 1);
	memcpy(*data_r, msg, len);
	(*data_r)[len] = '\0';
	*len_r = len;
	mailpop3_retr_free(msg);
	return 0;
}

static int pop3_ack(struct mailbox *box, const char *uid, char **error_r)
{
	struct pop3_box *pb = (struct pop3_box *)box;
	unsigned int index;
	int r;

	if (pop3_index(pb, uid, &index, error_r) < 0)
		return -1;
	/* MAILBOX_AFTER_SEEN is "delete" on POP3: see the top of the file. */
	r = mailpop3_dele(pb->pop3, index);
	if (r != MAILPOP3_NO_ERROR) {
		pop3_fail(pb, r, error_r, "DELE %u (UIDL %s) failed", index, uid);
		return -1;
	}
	return 0;
}

/* --- close --------------------------------------------------------------------- */

static void pop3_close(struct mailbox **box)
{
	struct pop3_box *pb = (struct pop3_box *)*box;

	if (pb == NULL)
		return;
	if (pb->pop3 != NULL) {
		if (pb->broken && pb->pop3->pop3_stream != NULL) {
			/* No QUIT: nothing more goes to a broken or untrusted
			 * connection, and no DELE of it takes effect. */
			mailstream_close(pb->pop3->pop3_stream);
			pb->pop3->pop3_stream = NULL;
		} else if (pb->pop3->pop3_stream != NULL) {
			/* QUIT makes the DELEs permanent (RFC 1939 UPDATE). */
			mailpop3_quit(pb->pop3);
		}
		mailpop3_free(pb->pop3);
	}
	g_hash_table_destroy(pb->index_of);
	g_free(pb->where);
	g_free(pb->host);
	g_free(pb->box.source);
	g_free(pb);
	*box = NULL;
}

const struct mailbox_driver pop3_driver = {
    .scheme = "pop3://",
    .open = pop3_open,
    .list = pop3_list,
    .fetch = pop3_fetch,
    .ack = pop3_ack,
    .flush = NULL,
    .close = pop3_close,
};

const struct mailbox_driver pop3s_driver = {
    .scheme = "pop3s://",
    .open = pop3s_open,
    .list = pop3_list,
    .fetch = pop3_fetch,
    .ack = pop3_ack,
    .flush = NULL,
    .close = pop3_close,
};
