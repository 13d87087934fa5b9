/*
 * imap.c - the IMAP source (libetpan's low-level mailimap API), for
 * imap://host[:port]/FOLDER (STARTTLS per mailbox.tls, port 143) and
 * imaps://host[:port]/FOLDER (TLS from the start, port 993); FOLDER is
 * percent-decoded UTF-8, INBOX when absent.
 *
 * Connection: the certificate is checked with tls_check_peer() after every
 * handshake and before LOGIN (libetpan checks none); capabilities are asked
 * for again after STARTTLS and after LOGIN, since libetpan keeps the ones of
 * the greeting (../shared/LIBRARIES.md).  Every operation is bounded by mailbox.timeout.
 *
 * A message's uid is "UIDVALIDITY:UID": intake never depends on \Seen
 * (DESIGN §3).  list is UID SEARCH ALL, ascending; fetch is UID FETCH
 * BODY.PEEK[], which leaves the flags alone.  fetch reads ahead: asked for
 * a message it does not hold, it takes that one and those listed after it
 * in one UID FETCH, at most IMAP_AHEAD_MAX messages and IMAP_AHEAD_BYTES by
 * RFC822.SIZE (asked for first; a larger message comes alone), and hands
 * them out in order, so one window is held beside the message in hand.  A
 * message that vanished, or that the server sent no body for, fails as it
 * would alone; after a window the server refused, fetch goes one by one.
 *
 * After the commit: ack only notes the UID; flush applies the notes of a
 * batch at once.  "delete" stores \Deleted and expunges those UIDs (UID
 * EXPUNGE with UIDPLUS, else EXPUNGE, which also removes what others marked
 * \Deleted).  "move:FOLDER" is UID MOVE with the MOVE extension, else UID
 * COPY + \Deleted + expunge; the folder is created when the first try fails.
 * "seen" (the default) behaves as "delete" here: a message left in the
 * folder would be listed and fetched again every cycle, and skipping it by
 * \Seen would make intake depend on that flag.
 *
 * A failure on the connection itself (stream, parse, TLS) marks the session
 * broken: later calls fail at once, and close sends nothing more.
 */
#include "mailbox.h"
#include "net.h"
#include "tls.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libetpan/libetpan.h>

#define IMAP_DEFAULT_PORT  143
#define IMAPS_DEFAULT_PORT 993
/* UIDs per command: keeps a command line well below servers' limits. */
#define IMAP_MAX_UIDS_PER_SET 500
/* The read-ahead window of fetch: messages, and bytes by RFC822.SIZE. */
#define IMAP_AHEAD_MAX   64
#define IMAP_AHEAD_BYTES (16u << 20)

/* A message of the read-ahead window. */
struct imap_ahead {
	uint32_t uid;  /* first: imap_ahead_find() */
	uint32_t size; /* RFC822.SIZE */
	bool gone;     /* the server did not answer for it: expunged */
	char *data;    /* NUL-terminated; NULL: no body (yet), or handed out */
	size_t len;
};

struct imap_box {
	struct mailbox box; /* must be first */
	mailimap *imap;
	struct net_conn conn; /* host, where, timeout, broken */
	char *folder;         /* modified UTF-7, as the server wants it */
	char *folder_utf8;    /* for messages */
	enum mailbox_after after;
	char *after_folder; /* modified UTF-7 */
	char *after_folder_utf8;
	uint32_t uidvalidity;
	GArray *acked;      /* uint32_t UIDs acknowledged since the last flush */
	GArray *listed;     /* uint32_t UIDs of the last list, ascending */
	GArray *ahead;      /* struct imap_ahead, ascending UIDs */
	guint ahead_next;   /* the first entry of ahead not handed out */
	bool ahead_refused; /* the server refused a window: one at a time */
};

/* --- small helpers ---------------------------------------------------------- */

static void *imap_check_alloc(void *p)
{
	if (p == NULL)
		log_panic("out of memory in libetpan");
	return p;
}

/* The folder of an imap[s]:// URL, percent-decoded (path as net_conn_init()
 * returns it); NULL when the URL names none. */
static int imap_decode_folder(const char *url, const char *path, char **folder_r, char **error_r)
{
	char *folder;

	*folder_r = NULL;
	if (path == NULL)
		return 0;
	folder = g_uri_unescape_string(path, NULL);
	if (folder == NULL || !g_utf8_validate(folder, -1, NULL)) {
		error_set(error_r, "%s: the folder is not valid percent-encoded UTF-8", url);
		g_free(folder);
		return -1;
	}
	for (const char *p = folder; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			error_set(error_r, "%s: control character in the folder name", url);
			g_free(folder);
			return -1;
		}
	}
	*folder_r = folder;
	return 0;
}

/* A UTF-8 folder name in IMAP's modified UTF-7 (RFC 3501 §5.1.3). */
static char *imap_mutf7(const char *utf8)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
	GString *out = g_string_new(NULL);
	const char *p = utf8;

	while (*p != '\0') {
		gunichar c = g_utf8_get_char(p);
		const char *start = p;
		gunichar2 *u16;
		glong n = 0;
		guint32 bits = 0;
		int nbits = 0;

		if (c >= 0x20 && c <= 0x7e) {
			if (c == '&')
				g_string_append(out, "&-");
			else
				g_string_append_c(out, (char)c);
			p++;
			continue;
		}
		while (*p != '\0' && !((c = g_utf8_get_char(p)) >= 0x20 && c <= 0x7e))
			p = g_utf8_next_char(p);
		u16 = g_utf8_to_utf16(start, p - start, NULL, &n, NULL);
		g_string_append_c(out, '&');
		for (glong i = 0; u16 != NULL && i < n; i++) {
			unsigned char bytes[2] = { u16[i] >> 8, u16[i] & 0xff };
			for (int k = 0; k < 2; k++) {
				bits = (bits << 8) | bytes[k];
				nbits += 8;
				while (nbits >= 6) {
					nbits -= 6;
					g_string_append_c(out, b64[(bits >> nbits) & 0x3f]);
				}
			}
		}
		if (nbits > 0)
			g_string_append_c(out, b64[(bits << (6 - nbits)) & 0x3f]);
		g_string_append_c(out, '-');
		g_free(u16);
	}
	return g_string_free(out, FALSE);
}

/* What a libetpan result means for the session (net.h). */
static enum net_failure imap_failure(int r)
{
	switch (r) {
	case MAILIMAP_ERROR_STREAM:
		return NET_FAIL_STREAM;
	case MAILIMAP_ERROR_PARSE:
		return NET_FAIL_PARSE;
	case MAILIMAP_ERROR_SSL:
		return NET_FAIL_TLS;
	case MAILIMAP_ERROR_DONT_ACCEPT_CONNECTION:
		return NET_FAIL_REJECTED;
	case MAILIMAP_ERROR_MEMORY:
		return NET_FAIL_MEMORY;
	case MAILIMAP_ERROR_CONNECTION_REFUSED:
	case MAILIMAP_ERROR_FATAL:
	case MAILIMAP_ERROR_PROTOCOL:
	case MAILIMAP_ERROR_BAD_STATE:
		return NET_FAIL_PROTOCOL;
	default:
		return NET_FAIL_REFUSED;
	}
}

/* Sets *error_r to "IMAP host:port: WHAT: why" for the libetpan result r:
 * the server's own words for a refused command, else what broke. */
static void G_GNUC_PRINTF(4, 5)
	imap_fail(struct imap_box *ib, int r, char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	net_failv(&ib->conn, imap_failure(r), r, ib->imap != NULL ? ib->imap->imap_response : NULL,
		  error_r, fmt, ap);
	va_end(ap);
}

/* Asks for the capabilities again: libetpan keeps the greeting's. */
static int imap_refresh_capabilities(struct imap_box *ib, const char *when, char **error_r)
{
	struct mailimap_capability_data *cap = NULL;
	int r = mailimap_capability(ib->imap, &cap);

	if (r != MAILIMAP_NO_ERROR) {
		imap_fail(ib, r, error_r, "CAPABILITY %s failed", when);
		return -1;
	}
	mailimap_capability_data_free(cap);
	return 0;
}

/* --- open ----------------------------------------------------------------------- */

static void imap_close(struct mailbox **box);

/* Connects, secures and logs in; *preauth_r when the server needs no login. */
static int imap_connect(struct imap_box *ib, const struct config_mailbox *cfg, bool implicit_tls,
			bool *preauth_r, char **error_r)
{
	struct net_conn *conn = &ib->conn;
	enum net_tls tls = net_tls_mode(cfg, implicit_tls);
	gint64 started = g_get_monotonic_time();
	int r, saved_errno;

	errno = 0;
	if (implicit_tls)
		r = mailimap_ssl_connect_with_callback(ib->imap, conn->host, conn->port,
						       tls_sni_callback, conn->host);
	else
		r = mailimap_socket_connect(ib->imap, conn->host, conn->port);
	saved_errno = errno;
	if (r == MAILIMAP_ERROR_CONNECTION_REFUSED)
		return net_connect_failed(conn, saved_errno, started, error_r);
	if (r != MAILIMAP_NO_ERROR_AUTHENTICATED && r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED) {
		imap_fail(ib, r, error_r, "%s",
			  implicit_tls ? "TLS connection failed" : "no greeting from the server");
		return -1;
	}
	*preauth_r = r == MAILIMAP_NO_ERROR_AUTHENTICATED;
	if (implicit_tls)
		return net_check_peer(conn, ib->imap->imap_stream, cfg, error_r);
	if (tls == NET_TLS_OFF)
		goto plain;
	if (*preauth_r) {
		/* STARTTLS is not allowed once authenticated (RFC 3501). */
		if (tls == NET_TLS_REQUIRED) {
			conn->broken = true;
			error_set(error_r,
				  "%s: the server pre-authenticated the connection, so STARTTLS "
				  "is impossible (tls = \"required\")",
				  conn->where);
			return -1;
		}
		return 0;
	}
	if (imap_refresh_capabilities(ib, "before STARTTLS", error_r) < 0)
		return -1;
	if (!mailimap_has_extension(ib->imap, "STARTTLS")) {
		if (tls == NET_TLS_REQUIRED) {
			error_set(error_r,
				  "%s: the server does not offer STARTTLS (tls = \"required\"); "
				  "not logging in",
				  conn->where);
			return -1;
		}
		goto plain;
	}
	r = mailimap_socket_starttls_with_callback(ib->imap, tls_sni_callback, conn->host);
	if (r != MAILIMAP_NO_ERROR) {
		imap_fail(ib, r, error_r, "STARTTLS failed");
		return -1;
	}
	if (net_check_peer(conn, ib->imap->imap_stream, cfg, error_r) < 0)
		return -1;
	return imap_refresh_capabilities(ib, "after STARTTLS", error_r);
plain:
	if (!*preauth_r)
		net_warn_clear_text(conn, cfg, tls == NET_TLS_OFF, "STARTTLS");
	return 0;
}

static int imap_open_common(const struct config_mailbox *cfg, bool implicit_tls,
			    struct mailbox **box_r, char **error_r)
{
	struct imap_box *ib = g_new0(struct imap_box, 1);
	char *password = NULL, *path = NULL, *folder = NULL;
	bool preauth = false;
	int r;

	ib->after = cfg->after;
	ib->acked = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	ib->listed = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	ib->ahead = g_array_new(FALSE, FALSE, sizeof(struct imap_ahead));
	if (net_conn_init(&ib->conn, cfg, implicit_tls ? "imaps://" : "imap://", "IMAP",
			  implicit_tls ? IMAPS_DEFAULT_PORT : IMAP_DEFAULT_PORT, &path,
			  error_r) < 0 ||
	    imap_decode_folder(cfg->url, path, &folder, error_r) < 0)
		goto fail;
	ib->folder_utf8 = folder != NULL ? folder : g_strdup("INBOX");
	ib->folder = imap_mutf7(ib->folder_utf8);
	if (cfg->after == MAILBOX_AFTER_MOVE) {
		if (!g_utf8_validate(cfg->after_folder, -1, NULL)) {
			error_set(error_r, "%s: the folder of \"after\" is not UTF-8", cfg->url);
			goto fail;
		}
		ib->after_folder_utf8 = g_strdup(cfg->after_folder);
		ib->after_folder = imap_mutf7(cfg->after_folder);
	}
	if (net_need_credentials(cfg, error_r) < 0 ||
	    net_read_password(cfg->password_file, 0, &password, error_r) < 0)
		goto fail;

	ib->imap = imap_check_alloc(mailimap_new(0, NULL));
	mailimap_set_timeout(ib->imap, ib->conn.timeout);
	if (imap_connect(ib, cfg, implicit_tls, &preauth, error_r) < 0)
		goto fail;
	if (!preauth) {
		if (mailimap_has_extension(ib->imap, "LOGINDISABLED")) {
			error_set(error_r,
				  "%s: the server does not allow LOGIN here (LOGINDISABLED)",
				  ib->conn.where);
			goto fail;
		}
		r = mailimap_login(ib->imap, cfg->user, password);
		net_free_password(&password);
		if (r != MAILIMAP_NO_ERROR) {
			char *user = log_sanitize(cfg->user, 100);
			imap_fail(ib, r, error_r, "login as %s failed", user);
			g_free(user);
			goto fail;
		}
		if (imap_refresh_capabilities(ib, "after login", error_r) < 0)
			goto fail;
	}
	net_free_password(&password);

	r = mailimap_select(ib->imap, ib->folder);
	if (r != MAILIMAP_NO_ERROR) {
		char *name = log_sanitize(ib->folder_utf8, 100);
		imap_fail(ib, r, error_r, "cannot select folder %s", name);
		g_free(name);
		goto fail;
	}
	if (ib->imap->imap_selection_info == NULL ||
	    ib->imap->imap_selection_info->sel_uidvalidity == 0) {
		char *name = log_sanitize(ib->folder_utf8, 100);
		error_set(error_r, "%s: the server sent no UIDVALIDITY for %s", ib->conn.where,
			  name);
		g_free(name);
		goto fail;
	}
	ib->uidvalidity = ib->imap->imap_selection_info->sel_uidvalidity;
	log_debug("%s: %s selected, UIDVALIDITY %u%s%s", ib->conn.where, ib->folder,
		  ib->uidvalidity, mailimap_has_uidplus(ib->imap) ? ", UIDPLUS" : "",
		  mailimap_has_extension(ib->imap, "MOVE") ? ", MOVE" : "");
	g_free(path);
	*box_r = &ib->box;
	return 0;
fail:
	net_free_password(&password);
	g_free(path);
	{
		struct mailbox *box = &ib->box;
		imap_close(&box);
	}
	return -1;
}

static int imap_open(const struct config_mailbox *cfg, struct mailbox **box_r, char **error_r)
{
	return imap_open_common(cfg, false, box_r, error_r);
}

static int imaps_open(const struct config_mailbox *cfg, struct mailbox **box_r, char **error_r)
{
	return imap_open_common(cfg, true, box_r, error_r);
}

/* --- list, fetch --------------------------------------------------------------- */

static gint imap_compare_uid(gconstpointer a, gconstpointer b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The sorted UIDs as a set with runs folded into ranges. */
static struct mailimap_set *imap_set_of(const uint32_t *uids, guint n)
{
	struct mailimap_set *set = imap_check_alloc(mailimap_set_new_empty());

	for (guint i = 0; i < n;) {
		guint j = i;
		while (j + 1 < n && uids[j + 1] <= uids[j] + 1)
			j++;
		if (mailimap_set_add_interval(set, uids[i], uids[j]) != MAILIMAP_NO_ERROR)
			log_panic("out of memory in libetpan");
		i = j + 1;
	}
	return set;
}

/* Frees what was read ahead and not handed out. */
static void imap_ahead_clear(struct imap_box *ib)
{
	for (guint i = 0; i < ib->ahead->len; i++)
		g_free(g_array_index(ib->ahead, struct imap_ahead, i).data);
	g_array_set_size(ib->ahead, 0);
	ib->ahead_next = 0;
}

static int imap_list(struct mailbox *box, GPtrArray **uids_r, char **error_r)
{
	struct imap_box *ib = (struct imap_box *)box;
	struct mailimap_search_key *key;
	GArray *listed = ib->listed;
	clist *result = NULL;
	GPtrArray *uids;
	guint n = 0;
	int r;

	if (net_usable(&ib->conn, error_r) < 0)
		return -1;
	imap_ahead_clear(ib);
	key = imap_check_alloc(mailimap_search_key_new_all());
	r = mailimap_uid_search(ib->imap, NULL, key, &result);
	mailimap_search_key_free(key);
	if (r != MAILIMAP_NO_ERROR) {
		char *name = log_sanitize(ib->folder_utf8, 100);
		imap_fail(ib, r, error_r, "UID SEARCH in %s failed", name);
		g_free(name);
		return -1;
	}
	/* Kept, sorted and without duplicates: fetch reads ahead in this order. */
	g_array_set_size(listed, 0);
	for (clistiter *it = clist_begin(result); it != NULL; it = clist_next(it))
		g_array_append_val(listed, *(uint32_t *)clist_content(it));
	mailimap_search_result_free(result);
	g_array_sort(listed, imap_compare_uid);

	uids = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < listed->len; i++) {
		uint32_t uid = g_array_index(listed, uint32_t, i);
		if (n > 0 && uid == g_array_index(listed, uint32_t, n - 1))
			continue;
		g_array_index(listed, uint32_t, n++) = uid;
		g_ptr_array_add(uids, g_strdup_printf("%u:%u", ib->uidvalidity, uid));
	}
	g_array_set_size(listed, n);
	*uids_r = uids;
	return 0;
}

/* "UIDVALIDITY:UID" → UID, if it belongs to this session's UIDVALIDITY. */
static int imap_parse_uid(struct imap_box *ib, const char *uid, uint32_t *uid_r, char **error_r)
{
	unsigned long validity, n;
	char *end;

	errno = 0;
	validity = strtoul(uid, &end, 10);
	if (*end == ':') {
		const char *p = end + 1;
		n = strtoul(p, &end, 10);
		if (*p != '\0' && *end == '\0' && errno == 0 && n > 0 && n <= UINT32_MAX &&
		    validity == ib->uidvalidity) {
			*uid_r = (uint32_t)n;
			return 0;
		}
	}
	error_set(error_r, "%s: %s is not a message of %s now (UIDVALIDITY %u)", ib->conn.where,
		  uid, ib->folder_utf8, ib->uidvalidity);
	return -1;
}

/* The entry of the window for uid, or NULL (an entry starts with its UID). */
static struct imap_ahead *imap_ahead_find(struct imap_box *ib, uint32_t uid)
{
	return bsearch(&uid, ib->ahead->data, ib->ahead->len, sizeof(struct imap_ahead),
		       imap_compare_uid);
}

/* UID FETCH of the sorted UIDs: UID with RFC822.SIZE, or with BODY.PEEK[]
 * (the whole message, and \Seen stays as it was). */
static int imap_uid_fetch(struct imap_box *ib, const uint32_t *uids, guint n, bool bodies,
			  clist **result_r, char **error_r)
{
	struct mailimap_set *set = imap_set_of(uids, n);
	struct mailimap_fetch_type *type;
	struct mailimap_fetch_att *att;
	int r;

	type = imap_check_alloc(mailimap_fetch_type_new_fetch_att_list_empty());
	mailimap_fetch_type_new_fetch_att_list_add(type,
						   imap_check_alloc(mailimap_fetch_att_new_uid()));
	if (bodies)
		att = mailimap_fetch_att_new_body_peek_section(
			imap_check_alloc(mailimap_section_new(NULL)));
	else
		att = mailimap_fetch_att_new_rfc822_size();
	mailimap_fetch_type_new_fetch_att_list_add(type, imap_check_alloc(att));
	r = mailimap_uid_fetch(ib->imap, set, type, result_r);
	mailimap_fetch_type_free(type);
	mailimap_set_free(set);
	if (r != MAILIMAP_NO_ERROR) {
		/* libetpan has freed what it had. */
		*result_r = NULL;
		imap_fail(ib, r, error_r, "UID FETCH %s of %u message(s) from UID %u failed",
			  bodies ? "BODY.PEEK[]" : "RFC822.SIZE", n, uids[0]);
		return -1;
	}
	return 0;
}

/* One FETCH response.  Unsolicited ones (flag changes) may come along,
 * without our items: uid or body stay 0/NULL, and callers skip them. */
struct imap_att {
	uint32_t uid;
	bool has_size;
	uint32_t size;
	const char *body; /* NULL when absent or NIL */
	size_t len;
};

static void imap_att_read(const struct mailimap_msg_att *att, struct imap_att *a)
{
	memset(a, 0, sizeof(*a));
	for (clistiter *it = clist_begin(att->att_list); it != NULL; it = clist_next(it)) {
		struct mailimap_msg_att_item *item = clist_content(it);
		struct mailimap_msg_att_static *st;

		if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
			continue;
		st = item->att_data.att_static;
		if (st->att_type == MAILIMAP_MSG_ATT_UID) {
			a->uid = st->att_data.att_uid;
		} else if (st->att_type == MAILIMAP_MSG_ATT_RFC822_SIZE) {
			a->has_size = true;
			a->size = st->att_data.att_rfc822_size;
		} else if (st->att_type == MAILIMAP_MSG_ATT_BODY_SECTION &&
			   st->att_data.att_body_section->sec_body_part != NULL) {
			a->body = st->att_data.att_body_section->sec_body_part;
			a->len = st->att_data.att_body_section->sec_length;
		}
	}
}

/* The bodies of the sorted UIDs, into their entries.  Each is copied, then
 * libetpan's copy freed: the peak is the window and one message more. */
static int imap_ahead_bodies(struct imap_box *ib, const uint32_t *uids, guint n, char **error_r)
{
	clist *result = NULL;

	if (imap_uid_fetch(ib, uids, n, true, &result, error_r) < 0)
		return -1;
	for (clistiter *it = clist_begin(result); it != NULL; it = clist_delete(result, it)) {
		struct mailimap_msg_att *att = clist_content(it);
		struct imap_ahead *e;
		struct imap_att a;

		imap_att_read(att, &a);
		if (a.body != NULL && (e = imap_ahead_find(ib, a.uid)) != NULL && e->data == NULL) {
			e->data = g_malloc(a.len + 1);
			memcpy(e->data, a.body, a.len);
			e->data[a.len] = '\0';
			e->len = a.len;
		}
		mailimap_msg_att_free(att);
	}
	mailimap_fetch_list_free(result);
	return 0;
}

/* Fills the window with want and the messages listed after it, at most max,
 * and fetches their bodies within IMAP_AHEAD_BYTES (want's at least). */
static int imap_read_ahead(struct imap_box *ib, uint32_t want, guint max, char **error_r)
{
	const uint32_t *from = NULL;
	uint32_t uids[IMAP_AHEAD_MAX];
	guint n = 1, nbodies = 0;
	uint64_t bytes = 0;
	clist *sizes = NULL;

	imap_ahead_clear(ib);
	if (ib->listed->len > 0)
		from = bsearch(&want, ib->listed->data, ib->listed->len, sizeof(uint32_t),
			       imap_compare_uid);
	if (from != NULL)
		n = MIN(max, ib->listed->len - (guint)(from - (const uint32_t *)ib->listed->data));
	else
		from = &want;
	for (guint i = 0; i < n; i++) {
		/* A message alone needs no size: it comes whatever its size. */
		struct imap_ahead e = { .uid = from[i], .gone = n > 1 };
		g_array_append_val(ib->ahead, e);
	}
	if (n > 1) {
		if (imap_uid_fetch(ib, from, n, false, &sizes, error_r) < 0)
			return -1;
		/* A message the server does not answer for is gone. */
		for (clistiter *it = clist_begin(sizes); it != NULL; it = clist_next(it)) {
			struct imap_ahead *e;
			struct imap_att a;

			imap_att_read(clist_content(it), &a);
			if (a.has_size && (e = imap_ahead_find(ib, a.uid)) != NULL) {
				e->gone = false;
				e->size = a.size;
			}
		}
		mailimap_fetch_list_free(sizes);
	}
	for (guint i = 0; i < ib->ahead->len; i++) {
		const struct imap_ahead *e = &g_array_index(ib->ahead, struct imap_ahead, i);
		if (e->gone)
			continue;
		if (nbodies > 0 && bytes + e->size > IMAP_AHEAD_BYTES) {
			g_array_set_size(ib->ahead, i);
			break;
		}
		bytes += e->size;
		uids[nbodies++] = e->uid;
	}
	if (nbodies == 0)
		return 0;
	log_debug("%s: reading ahead %u message(s) from UID %u, %" G_GUINT64_FORMAT " bytes",
		  ib->conn.where, nbodies, uids[0], bytes);
	return imap_ahead_bodies(ib, uids, nbodies, error_r);
}

/* The entry for want if it was read ahead, or NULL; entries before it,
 * not asked for, are freed. */
static struct imap_ahead *imap_ahead_take(struct imap_box *ib, uint32_t want)
{
	struct imap_ahead *a = (struct imap_ahead *)ib->ahead->data;

	for (guint i = ib->ahead_next; i < ib->ahead->len; i++) {
		if (a[i].uid != want)
			continue;
		for (guint k = ib->ahead_next; k < i; k++)
			g_clear_pointer(&a[k].data, g_free);
		ib->ahead_next = i + 1;
		return &a[i];
	}
	return NULL;
}

static enum mailbox_status imap_fetch(struct mailbox *box, const char *uid, char **data_r,
				      size_t *len_r, char **error_r)
{
	struct imap_box *ib = (struct imap_box *)box;
	struct imap_ahead *e;
	uint32_t want;

	if (net_usable(&ib->conn, error_r) < 0)
		return MAILBOX_BOX_BAD;
	if (imap_parse_uid(ib, uid, &want, error_r) < 0)
		return MAILBOX_MSG_BAD;
	e = imap_ahead_take(ib, want);
	if (e == NULL) {
		char *why = NULL;
		int r = imap_read_ahead(ib, want, ib->ahead_refused ? 1 : IMAP_AHEAD_MAX, &why);

		/* A window the server refused: one message at a time from now
		 * on, as without read-ahead, so that a bad one fails alone. */
		if (r < 0 && !ib->conn.broken && ib->ahead->len > 1) {
			log_debug("%s; no more read-ahead", why);
			g_clear_pointer(&why, g_free);
			ib->ahead_refused = true;
			r = imap_read_ahead(ib, want, 1, &why);
		}
		if (r < 0) {
			imap_ahead_clear(ib);
			error_set(error_r, "%s", why);
			g_free(why);
			return ib->conn.broken ? MAILBOX_BOX_BAD : MAILBOX_MSG_BAD;
		}
		e = imap_ahead_take(ib, want);
	}
	if (e == NULL || e->data == NULL) {
		error_set(error_r, "%s: message UID %u is no longer in %s", ib->conn.where, want,
			  ib->folder_utf8);
		return MAILBOX_MSG_BAD;
	}
	*data_r = e->data;
	*len_r = e->len;
	e->data = NULL;
	return MAILBOX_OK;
}

/* --- ack, flush ---------------------------------------------------------------- */

static int imap_ack(struct mailbox *box, const char *uid, char **error_r)
{
	struct imap_box *ib = (struct imap_box *)box;
	uint32_t n;

	if (imap_parse_uid(ib, uid, &n, error_r) < 0)
		return -1;
	g_array_append_val(ib->acked, n);
	return 0;
}

static int imap_store_deleted(struct imap_box *ib, struct mailimap_set *set, char **error_r)
{
	struct mailimap_flag_list *flags = imap_check_alloc(mailimap_flag_list_new_empty());
	struct mailimap_store_att_flags *store;
	int r;

	mailimap_flag_list_add(flags, imap_check_alloc(mailimap_flag_new_deleted()));
	store = imap_check_alloc(mailimap_store_att_flags_new_add_flags_silent(flags));
	r = mailimap_uid_store(ib->imap, set, store);
	mailimap_store_att_flags_free(store);
	if (r != MAILIMAP_NO_ERROR) {
		imap_fail(ib, r, error_r, "cannot mark stored messages \\Deleted");
		return -1;
	}
	return 0;
}

static int imap_expunge(struct imap_box *ib, struct mailimap_set *set, char **error_r)
{
	int r;

	if (mailimap_has_uidplus(ib->imap))
		r = mailimap_uid_expunge(ib->imap, set);
	else
		r = mailimap_expunge(ib->imap);
	if (r != MAILIMAP_NO_ERROR) {
		imap_fail(ib, r, error_r, "EXPUNGE failed");
		return -1;
	}
	return 0;
}

/* UID MOVE, or UID COPY when the server has no MOVE.  A folder the server
 * says is missing ([TRYCREATE]) is created and the command tried once more. */
static int imap_move_or_copy(struct imap_box *ib, struct mailimap_set *set, bool move,
			     char **error_r)
{
	const char *verb = move ? "move" : "copy";
	char *name = log_sanitize(ib->after_folder_utf8, 100);
	int r, ret = -1;

	for (int attempt = 0;; attempt++) {
		r = move ? mailimap_uid_move(ib->imap, set, ib->after_folder)
			 : mailimap_uid_copy(ib->imap, set, ib->after_folder);
		if (r == MAILIMAP_NO_ERROR) {
			ret = 0;
			goto out;
		}
		if (attempt > 0 || imap_failure(r) != NET_FAIL_REFUSED ||
		    ib->imap->imap_response_info == NULL ||
		    !ib->imap->imap_response_info->rsp_trycreate)
			break;
		r = mailimap_create(ib->imap, ib->after_folder);
		if (r != MAILIMAP_NO_ERROR) {
			imap_fail(ib, r, error_r, "cannot create folder %s for stored messages",
				  name);
			goto out;
		}
		log_info("%s: created folder %s", ib->conn.where, name);
	}
	imap_fail(ib, r, error_r, "cannot %s stored messages to %s", verb, name);
out:
	g_free(name);
	return ret;
}

static int imap_flush_set(struct imap_box *ib, struct mailimap_set *set, char **error_r)
{
	bool has_move = mailimap_has_extension(ib->imap, "MOVE");

	if (ib->after == MAILBOX_AFTER_MOVE) {
		if (imap_move_or_copy(ib, set, has_move, error_r) < 0)
			return -1;
		if (has_move)
			return 0;
	}
	/* MAILBOX_AFTER_SEEN is "delete" on IMAP: see the top of the file. */
	if (imap_store_deleted(ib, set, error_r) < 0)
		return -1;
	return imap_expunge(ib, set, error_r);
}

static int imap_flush(struct mailbox *box, char **error_r)
{
	struct imap_box *ib = (struct imap_box *)box;
	int ret = 0;

	if (ib->acked->len == 0)
		return 0;
	if (net_usable(&ib->conn, error_r) < 0) {
		g_array_set_size(ib->acked, 0);
		return -1;
	}
	g_array_sort(ib->acked, imap_compare_uid);
	for (guint i = 0; i < ib->acked->len && ret == 0; i += IMAP_MAX_UIDS_PER_SET) {
		guint n = MIN(ib->acked->len - i, IMAP_MAX_UIDS_PER_SET);
		struct mailimap_set *set = imap_set_of(&g_array_index(ib->acked, uint32_t, i), n);
		ret = imap_flush_set(ib, set, error_r);
		mailimap_set_free(set);
	}
	/* What failed stays in the folder; the next cycle recognises it as
	 * stored and acknowledges it again. */
	g_array_set_size(ib->acked, 0);
	return ret;
}

/* --- close --------------------------------------------------------------------- */

static void imap_close(struct mailbox **box)
{
	struct imap_box *ib = (struct imap_box *)*box;

	if (ib == NULL)
		return;
	if (ib->imap != NULL) {
		/* No LOGOUT: nothing more goes to a broken or untrusted
		 * connection. */
		if (ib->conn.broken)
			net_stream_drop(&ib->imap->imap_stream);
		/* mailimap_free() sends LOGOUT while the stream is open. */
		mailimap_free(ib->imap);
	}
	g_array_free(ib->acked, TRUE);
	imap_ahead_clear(ib);
	g_array_free(ib->ahead, TRUE);
	g_array_free(ib->listed, TRUE);
	net_conn_clear(&ib->conn);
	g_free(ib->folder);
	g_free(ib->folder_utf8);
	g_free(ib->after_folder);
	g_free(ib->after_folder_utf8);
	g_free(ib->box.source);
	g_free(ib);
	*box = NULL;
}

const struct mailbox_driver imap_driver = {
	.scheme = "imap://",
	.open = imap_open,
	.list = imap_list,
	.fetch = imap_fetch,
	.ack = imap_ack,
	.flush = imap_flush,
	.close = imap_close,
};

const struct mailbox_driver imaps_driver = {
	.scheme = "imaps://",
	.open = imaps_open,
	.list = imap_list,
	.fetch = imap_fetch,
	.ack = imap_ack,
	.flush = imap_flush,
	.close = imap_close,
};
