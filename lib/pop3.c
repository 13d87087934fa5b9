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
#include "net.h"
#include "tls.h"
#include "util.h"

#include <errno.h>
#include <string.h>

#include <libetpan/libetpan.h>

#define POP3_DEFAULT_PORT  110
#define POP3S_DEFAULT_PORT 995
/* libetpan formats USER and PASS into 512 bytes and would cut them. */
#define POP3_MAX_ARG  255
#define POP3_MAX_UIDL 70 /* RFC 1939 */

struct pop3_box {
	struct mailbox box; /* must be first */
	mailpop3 *pop3;
	struct net_conn conn; /* host, where, timeout, broken */
	GHashTable *index_of; /* UIDL → message number (GUINT_TO_POINTER) */
};

/* --- small helpers ---------------------------------------------------------- */

/* What a libetpan result means for the session (net.h). */
static enum net_failure pop3_failure(int r)
{
	switch (r) {
	case MAILPOP3_ERROR_STREAM:
		return NET_FAIL_STREAM;
	case MAILPOP3_ERROR_SSL:
		return NET_FAIL_TLS;
	case MAILPOP3_ERROR_MEMORY:
		return NET_FAIL_MEMORY;
	case MAILPOP3_ERROR_CONNECTION_REFUSED:
	case MAILPOP3_ERROR_BAD_STATE:
		return NET_FAIL_PROTOCOL;
	default:
		return NET_FAIL_REFUSED;
	}
}

/* Sets *error_r to "POP3 host:port: WHAT: why" for the libetpan result r:
 * the server's own words for a refused command, else what broke. */
static void G_GNUC_PRINTF(4, 5)
	pop3_fail(struct pop3_box *pb, int r, char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	net_failv(&pb->conn, pop3_failure(r), r, pb->pop3 != NULL ? pb->pop3->pop3_response : NULL,
		  error_r, fmt, ap);
	va_end(ap);
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

/* --- open ----------------------------------------------------------------------- */

static void pop3_close(struct mailbox **box);

/* Connects and secures the session, before any credential is sent. */
static int pop3_connect(struct pop3_box *pb, const struct config_mailbox *cfg, bool implicit_tls,
			char **error_r)
{
	struct net_conn *conn = &pb->conn;
	enum net_tls tls = net_tls_mode(cfg, implicit_tls);
	GHashTable *caps = NULL;
	gint64 started = g_get_monotonic_time();
	int r, saved_errno, ret = -1;

	errno = 0;
	if (implicit_tls)
		r = mailpop3_ssl_connect_with_callback(pb->pop3, conn->host, conn->port,
						       tls_sni_callback, conn->host);
	else
		r = mailpop3_socket_connect(pb->pop3, conn->host, conn->port);
	saved_errno = errno;
	if (r == MAILPOP3_ERROR_CONNECTION_REFUSED) {
		net_connect_failed(conn, saved_errno, started, error_r);
		goto out;
	}
	if (r != MAILPOP3_NO_ERROR) {
		/* A bad greeting is MAILPOP3_ERROR_UNAUTHORIZED, and so is none
		 * at all (then there is no response text). */
		if (r == MAILPOP3_ERROR_UNAUTHORIZED && pb->pop3->pop3_response == NULL)
			r = MAILPOP3_ERROR_STREAM;
		conn->broken = true;
		pop3_fail(pb, r, error_r, "%s",
			  implicit_tls ? "TLS connection failed" : "no greeting from the server");
		goto out;
	}
	if (implicit_tls) {
		ret = net_check_peer(conn, pb->pop3->pop3_stream, cfg, error_r);
		goto out;
	}
	if (tls == NET_TLS_OFF)
		goto plain;
	if (pop3_capa(pb, &caps, error_r) < 0)
		goto out;
	/* Without CAPA, STLS may still work: "required" tries it. */
	if (caps != NULL ? !g_hash_table_contains(caps, "STLS") : tls != NET_TLS_REQUIRED) {
		if (tls == NET_TLS_REQUIRED) {
			error_set(error_r,
				  "%s: the server does not offer STLS (tls = \"required\"); not "
				  "logging in",
				  conn->where);
			goto out;
		}
		goto plain;
	}
	r = mailpop3_socket_starttls_with_callback(pb->pop3, tls_sni_callback, conn->host);
	if (r != MAILPOP3_NO_ERROR) {
		pop3_fail(pb, r, error_r, "STLS failed");
		goto out;
	}
	if (net_check_peer(conn, pb->pop3->pop3_stream, cfg, error_r) < 0)
		goto out;
	/* RFC 2595: forget what was said before the handshake. */
	pop3_caps_free(&caps);
	ret = pop3_capa(pb, &caps, error_r);
	goto out;
plain:
	net_warn_clear_text(conn, cfg, tls == NET_TLS_OFF, "STLS");
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
	int r;

	pb->index_of = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (net_conn_init(&pb->conn, cfg, implicit_tls ? "pop3s://" : "pop3://", "POP3",
			  implicit_tls ? POP3S_DEFAULT_PORT : POP3_DEFAULT_PORT, NULL, error_r) < 0)
		goto fail;
	if (cfg->after == MAILBOX_AFTER_MOVE) {
		error_set(error_r,
			  "%s: POP3 has no folders to move messages to (after = \"move:%s\")",
			  cfg->url, cfg->after_folder);
		goto fail;
	}
	if (net_need_credentials(cfg, error_r) < 0)
		goto fail;
	if (strlen(cfg->user) > POP3_MAX_ARG || strpbrk(cfg->user, "\r\n") != NULL) {
		error_set(error_r, "%s: the user name is too long for POP3 or has a line break",
			  cfg->url);
		goto fail;
	}
	if (net_read_password(cfg->password_file, POP3_MAX_ARG, &password, error_r) < 0)
		goto fail;

	pb->pop3 = mailpop3_new(0, NULL);
	if (pb->pop3 == NULL)
		log_panic("out of memory in libetpan");
	mailpop3_set_timeout(pb->pop3, pb->conn.timeout);
	if (pop3_connect(pb, cfg, implicit_tls, error_r) < 0)
		goto fail;

	user = log_sanitize(cfg->user, 100);
	r = mailpop3_user(pb->pop3, cfg->user);
	if (r == MAILPOP3_NO_ERROR)
		r = mailpop3_pass(pb->pop3, password);
	net_free_password(&password);
	if (r != MAILPOP3_NO_ERROR) {
		pop3_fail(pb, r, error_r, "login as %s failed", user);
		goto fail;
	}
	log_debug("%s: logged in as %s", pb->conn.where, user);
	g_free(user);
	*box_r = &pb->box;
	return 0;
fail:
	net_free_password(&password);
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

	if (net_usable(&pb->conn, error_r) < 0)
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
				  pb->conn.where, info->msg_index);
			g_ptr_array_free(uids, TRUE);
			g_hash_table_remove_all(pb->index_of);
			return -1;
		}
		if (!pop3_uidl_ok(info->msg_uidl)) {
			char *safe = log_sanitize(info->msg_uidl, 100);
			log_warning("%s: message %u skipped: invalid UIDL '%s'", pb->conn.where,
				    info->msg_index, safe);
			g_free(safe);
			continue;
		}
		if (g_hash_table_contains(pb->index_of, info->msg_uidl)) {
			log_warning("%s: message %u skipped: UIDL %s is used twice", pb->conn.where,
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

	if (net_usable(&pb->conn, error_r) < 0)
		return -1;
	if (!g_hash_table_lookup_extended(pb->index_of, uid, NULL, &value)) {
		error_set(error_r, "%s: UIDL %s is not in this session's list", pb->conn.where,
			  uid);
		return -1;
	}
	*index_r = GPOINTER_TO_UINT(value);
	return 0;
}

static enum mailbox_status pop3_fetch(struct mailbox *box, const char *uid, char **data_r,
				      size_t *len_r, char **error_r)
{
	struct pop3_box *pb = (struct pop3_box *)box;
	unsigned int index;
	char *msg = NULL;
	size_t len = 0;
	int r;

	if (net_usable(&pb->conn, error_r) < 0)
		return MAILBOX_BOX_BAD;
	if (pop3_index(pb, uid, &index, error_r) < 0)
		return MAILBOX_MSG_BAD;
	r = mailpop3_retr(pb->pop3, index, &msg, &len);
	if (r != MAILPOP3_NO_ERROR) {
		pop3_fail(pb, r, error_r, "RETR %u (UIDL %s) failed", index, uid);
		return pb->conn.broken ? MAILBOX_BOX_BAD : MAILBOX_MSG_BAD;
	}
	*data_r = g_malloc(len + 1);
	memcpy(*data_r, msg, len);
	(*data_r)[len] = '\0';
	*len_r = len;
	mailpop3_retr_free(msg);
	return MAILBOX_OK;
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
		if (pb->conn.broken) {
			/* No QUIT: nothing more goes to a broken or untrusted
			 * connection, and no DELE of it takes effect. */
			net_stream_drop(&pb->pop3->pop3_stream);
		} else if (pb->pop3->pop3_stream != NULL) {
			/* QUIT makes the DELEs permanent (RFC 1939 UPDATE). */
			mailpop3_quit(pb->pop3);
		}
		mailpop3_free(pb->pop3);
	}
	g_hash_table_destroy(pb->index_of);
	net_conn_clear(&pb->conn);
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
