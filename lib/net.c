/*
 * net.c - what the network mail modules share (see net.h): URL and
 * password checks, the wording of connection failures, and the TLS steps
 * that IMAP and POP3 take in the same way.
 *
 * libetpan reports little: a failed connect is "connection refused"
 * whatever happened, so the reason is looked for again here; a failed
 * command is a result code, which each protocol maps onto enum net_failure
 * so that the same trouble reads the same for every protocol.
 */
#include "net.h"

#include "tls.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* The largest password file read; the password itself may be limited more. */
#define NET_PASSWORD_FILE_MAX 4096

/* --- the URL and the connection's identity ---------------------------------- */

/* host[:port] or [v6]:port: host newly allocated, *port_r its port (or
 * left alone when the authority names none). */
static int net_parse_authority(const char *url, const char *authority, char **host_r,
			       uint16_t *port_r, char **error_r)
{
	const char *port = NULL;
	char *host = NULL;
	unsigned long n;
	int ret = -1;

	if (strchr(authority, '@') != NULL) {
		error_set(error_r, "%s: put the user name in mailbox.user, not in the URL", url);
		goto out;
	}
	if (authority[0] == '[') {
		const char *end = strchr(authority, ']');
		if (end == NULL || (end[1] != '\0' && end[1] != ':')) {
			error_set(error_r, "%s: bad IPv6 address in the URL", url);
			goto out;
		}
		host = g_strndup(authority + 1, end - authority - 1);
		port = end[1] == ':' ? end + 2 : NULL;
	} else {
		const char *colon = strchr(authority, ':');
		host = colon != NULL ? g_strndup(authority, colon - authority)
				     : g_strdup(authority);
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
		*port_r = (uint16_t)n;
	}
	*host_r = host;
	host = NULL;
	ret = 0;
out:
	g_free(host);
	return ret;
}

int net_conn_init(struct net_conn *conn, const struct config_mailbox *cfg, const char *scheme,
		  const char *protocol, uint16_t default_port, char **path_r, char **error_r)
{
	const char *url = cfg->url, *auth = url + strlen(scheme);
	const char *slash = strchr(auth, '/');
	char *authority = NULL;
	int ret = -1;

	conn->timeout = cfg->timeout > 0 ? cfg->timeout : 60;
	conn->port = default_port;
	if (path_r != NULL)
		*path_r = NULL;
	else if (slash != NULL && slash[1] != '\0') {
		error_set(error_r, "%s: %s has no folders; write %.*s", url, protocol,
			  (int)(slash - url), url);
		goto out;
	}
	authority = slash != NULL ? g_strndup(auth, slash - auth) : g_strdup(auth);
	if (net_parse_authority(url, authority, &conn->host, &conn->port, error_r) < 0)
		goto out;
	conn->where = strchr(conn->host, ':') != NULL
			      ? g_strdup_printf("%s [%s]:%u", protocol, conn->host, conn->port)
			      : g_strdup_printf("%s %s:%u", protocol, conn->host, conn->port);
	if (path_r != NULL && slash != NULL && slash[1] != '\0')
		*path_r = g_strdup(slash + 1);
	ret = 0;
out:
	g_free(authority);
	return ret;
}

void net_conn_clear(struct net_conn *conn)
{
	g_clear_pointer(&conn->host, g_free);
	g_clear_pointer(&conn->where, g_free);
}

int net_usable(const struct net_conn *conn, char **error_r)
{
	if (conn->broken) {
		error_set(error_r, "%s: the connection was lost earlier", conn->where);
		return -1;
	}
	return 0;
}

/* --- failures --------------------------------------------------------------- */

void net_failv(struct net_conn *conn, enum net_failure failure, int code, const char *response,
	       char **error_r, const char *fmt, va_list ap)
{
	char *what = g_strdup_vprintf(fmt, ap), *why;

	if (failure != NET_FAIL_REFUSED)
		conn->broken = true;
	switch (failure) {
	case NET_FAIL_STREAM:
		why = g_strdup_printf("connection closed, or no answer within %lds", conn->timeout);
		break;
	case NET_FAIL_PARSE:
		why = g_strdup("the server's answer cannot be parsed");
		break;
	case NET_FAIL_TLS:
		why = g_strdup_printf("TLS handshake failed (or no answer within %lds)",
				      conn->timeout);
		break;
	case NET_FAIL_REJECTED:
		why = g_strdup("the server does not accept the connection");
		break;
	case NET_FAIL_MEMORY:
		why = g_strdup("out of memory");
		break;
	case NET_FAIL_PROTOCOL:
		why = g_strdup_printf("protocol error (libetpan error %d)", code);
		break;
	case NET_FAIL_REFUSED:
	default:
		if (response != NULL && response[0] != '\0') {
			char *safe = log_sanitize(response, 300);
			why = g_strdup_printf("the server said: %s", safe);
			g_free(safe);
		} else {
			why = g_strdup("refused by the server");
		}
		break;
	}
	error_set(error_r, "%s: %s: %s", conn->where, what, why);
	g_free(what);
	g_free(why);
}

/* Why a TCP connection to host could not be made: libetpan keeps neither
 * the resolver's error nor the socket's, so ask again and look at the time. */
static char *net_connect_reason(const char *host, int saved_errno, gint64 started, long timeout)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
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

int net_connect_failed(struct net_conn *conn, int saved_errno, gint64 started, char **error_r)
{
	char *why = net_connect_reason(conn->host, saved_errno, started, conn->timeout);

	conn->broken = true;
	error_set(error_r, "%s: cannot connect: %s", conn->where, why);
	g_free(why);
	return -1;
}

/* --- TLS -------------------------------------------------------------------- */

enum net_tls net_tls_mode(const struct config_mailbox *cfg, bool implicit_tls)
{
	const char *tls = cfg->tls != NULL ? cfg->tls : "optional";
	enum net_tls mode = NET_TLS_OPTIONAL;

	if (implicit_tls)
		mode = NET_TLS_IMPLICIT;
	else if (strcmp(tls, "off") == 0)
		mode = NET_TLS_OFF;
	else if (strcmp(tls, "required") == 0)
		mode = NET_TLS_REQUIRED;
	if (mode != NET_TLS_OFF && !cfg->tls_verify)
		log_warning("TLS certificate verification is off for %s", cfg->url);
	return mode;
}

int net_check_peer(struct net_conn *conn, mailstream *stream, const struct config_mailbox *cfg,
		   char **error_r)
{
	char *why = NULL;

	if (!cfg->tls_verify)
		return 0;
	if (tls_check_peer(stream, conn->host, cfg->ca_file, &why) < 0) {
		/* Nothing more is said to a server we cannot trust. */
		conn->broken = true;
		error_set(error_r, "%s: TLS certificate check failed, not logging in: %s",
			  conn->where, why);
		g_free(why);
		return -1;
	}
	return 0;
}

/* True for a host that is this machine: credentials in clear stay local. */
static bool net_is_loopback(const char *host)
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

void net_warn_clear_text(const struct net_conn *conn, const struct config_mailbox *cfg,
			 bool tls_off, const char *command)
{
	char *why;

	if (net_is_loopback(conn->host))
		return;
	why = tls_off ? g_strdup("tls = \"off\"")
		      : g_strdup_printf("the server does not offer %s", command);
	log_warning("%s: no TLS (%s): the password for %s goes over the network in clear", cfg->url,
		    why, cfg->user);
	g_free(why);
}

void net_stream_drop(mailstream **stream)
{
	if (*stream == NULL)
		return;
	mailstream_close(*stream);
	*stream = NULL;
}

/* --- credentials ------------------------------------------------------------ */

int net_need_credentials(const struct config_mailbox *cfg, char **error_r)
{
	if (cfg->user == NULL || cfg->password_file == NULL) {
		error_set(error_r, "%s: mailbox.user and mailbox.password_file must be set",
			  cfg->url);
		return -1;
	}
	return 0;
}

int net_read_password(const char *path, size_t max_len, char **password_r, char **error_r)
{
	char *data = NULL;
	size_t len;

	if (file_read_all(path, NET_PASSWORD_FILE_MAX, &data, &len, error_r) < 0)
		return -1;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		data[--len] = '\0';
	if (len == 0 || (max_len > 0 && len > max_len) || memchr(data, '\0', len) != NULL ||
	    strpbrk(data, "\r\n") != NULL) {
		if (max_len > 0)
			error_set(error_r,
				  "%s: the password must be one non-empty line of at most %zu "
				  "bytes",
				  path, max_len);
		else
			error_set(error_r, "%s: the password must be one non-empty line", path);
		explicit_bzero(data, len);
		g_free(data);
		return -1;
	}
	*password_r = data;
	return 0;
}

void net_free_password(char **password)
{
	if (*password == NULL)
		return;
	explicit_bzero(*password, strlen(*password));
	g_free(*password);
	*password = NULL;
}
