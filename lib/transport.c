/*
 * transport.c - the outgoing transports behind one small table of drivers:
 *   maildir:/path       write into the Maildir's new/ (tmp/, fsync, rename,
 *                       fsync of new/), LF line ends
 *   sendmail:/path      fork + execv "path -i -f FROM -- RCPT...", the
 *                       message (LF line ends) on its stdin
 *   smtp://, smtps://   SMTP, one session for many messages (smtp.c)
 *
 * SIGPIPE: the sendmail and SMTP drivers block SIGPIPE in the calling thread
 * while they write and consume a SIGPIPE that a write raised, so the
 * daemon need not ignore it.  SIGCHLD must not be ignored (SIG_IGN reaps
 * the child before waitpid sees its status).
 */
#include "transport.h"

#include "smtp.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

struct transport;

struct transport_driver {
	const char *scheme;
	bool network; /* "scheme://host[:port]" rather than "scheme:/path" */
	int (*open)(struct transport *tr, const struct config_transport *cfg, char **error_r);
	/* hook as for transport_send_hooked(), may be NULL */
	enum transport_result (*send)(struct transport *tr, const char *envelope_from,
				      const char *const *rcpts, const char *data, size_t len,
				      const struct transport_hook *hook, char **error_r);
	void (*close)(struct transport *tr);
};

struct transport {
	const struct transport_driver *driver;
	char *location;    /* the path, or "//host[:port]" for network drivers */
	char *hostname;    /* maildir: for unique names, '/' and ':' escaped */
	struct smtp *smtp; /* smtp, smtps */
};

/* Deliveries by this process (Maildir unique names). */
static gint transport_maildir_counter;

/* Writes all of buf; returns 0, or -1 with errno set. */
static int transport_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Copy of data with every CRLF turned into LF (lone CRs are kept). */
static char *transport_to_lf(const char *data, size_t len, size_t *len_r)
{
	char *out = g_malloc(len + 1);
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')
			continue;
		out[o++] = data[i];
	}
	out[o] = '\0';
	*len_r = o;
	return out;
}

/* mkdir that accepts an existing directory. */
static int transport_mkdir(const char *path, char **error_r)
{
	struct stat st;

	if (mkdir(path, 0700) == 0)
		return 0;
	if (errno != EEXIST) {
		error_set(error_r, "mkdir(%s): %s", path, g_strerror(errno));
		return -1;
	}
	if (stat(path, &st) < 0) {
		error_set(error_r, "stat(%s): %s", path, g_strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		error_set(error_r, "%s: not a directory", path);
		return -1;
	}
	return 0;
}

/* ---- maildir ---- */

/* Creates the Maildir and its tmp/ new/ cur/ when missing. */
static int transport_maildir_open(struct transport *tr, const struct config_transport *cfg,
				  char **error_r)
{
	static const char *const subdirs[] = { "tmp", "new", "cur" };
	char host[HOST_NAME_MAX + 1];
	GString *escaped;

	if (transport_mkdir(tr->location, error_r) < 0)
		return -1;
	for (size_t i = 0; i < G_N_ELEMENTS(subdirs); i++) {
		char *dir = g_build_filename(tr->location, subdirs[i], NULL);
		int ret = transport_mkdir(dir, error_r);
		g_free(dir);
		if (ret < 0)
			return -1;
	}
	if (gethostname(host, sizeof(host)) < 0)
		g_strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	/* The Maildir convention: '/' and ':' cannot appear in the name. */
	escaped = g_string_new(NULL);
	for (const char *p = host; *p != '\0'; p++) {
		if (*p == '/')
			g_string_append(escaped, "\\057");
		else if (*p == ':')
			g_string_append(escaped, "\\072");
		else if (g_ascii_isgraph(*p))
			g_string_append_c(escaped, *p);
		else
			g_string_append_c(escaped, '_');
	}
	tr->hostname = g_string_free(escaped, FALSE);
	return 0;
}

/* fsync of a directory, so a rename into it survives a crash. */
static int transport_fsync_dir(const char *dir)
{
	int fd, ret;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = fsync(fd);
	if (ret < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

static enum transport_result transport_maildir_send(struct transport *tr, const char *envelope_from,
						    const char *const *rcpts, const char *data,
						    size_t len, const struct transport_hook *hook,
						    char **error_r)
{
	enum transport_result ret = TRANSPORT_TEMPFAIL;
	char *unique, *tmp_path, *new_path, *new_dir, *text;
	size_t text_len;
	bool tmp_exists = false;
	int fd;

	unique = g_strdup_printf("%lld.%ld_%u_%08x%08x.%s", (long long)time(NULL), (long)getpid(),
				 (unsigned)g_atomic_int_add(&transport_maildir_counter, 1),
				 g_random_int(), g_random_int(), tr->hostname);
	tmp_path = g_build_filename(tr->location, "tmp", unique, NULL);
	new_dir = g_build_filename(tr->location, "new", NULL);
	new_path = g_build_filename(new_dir, unique, NULL);
	text = transport_to_lf(data, len, &text_len);

	fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		error_set(error_r, "open(%s): %s", tmp_path, g_strerror(errno));
		goto out;
	}
	tmp_exists = true;
	if (transport_write_all(fd, text, text_len) < 0 || fsync(fd) < 0) {
		error_set(error_r, "write(%s): %s", tmp_path, g_strerror(errno));
		close(fd);
		goto out;
	}
	if (close(fd) < 0) {
		error_set(error_r, "close(%s): %s", tmp_path, g_strerror(errno));
		goto out;
	}
	/* the rename delivers: the caller's last word before it */
	if (transport_hook_call(hook, error_r) < 0)
		goto out;
	if (rename(tmp_path, new_path) < 0) {
		error_set(error_r, "rename(%s, %s): %s", tmp_path, new_path, g_strerror(errno));
		goto out;
	}
	tmp_exists = false;
	/* Not durable without this; a retry may deliver twice, which beats
	 * losing the message. */
	if (transport_fsync_dir(new_dir) < 0) {
		error_set(error_r, "fsync(%s): %s", new_dir, g_strerror(errno));
		goto out;
	}
	ret = TRANSPORT_OK;
out:
	if (tmp_exists)
		unlink(tmp_path);
	g_free(unique);
	g_free(tmp_path);
	g_free(new_path);
	g_free(new_dir);
	g_free(text);
	return ret;
}

/* ---- sendmail ---- */

static int transport_sendmail_open(struct transport *tr, const struct config_transport *cfg,
				   char **error_r)
{
	if (access(tr->location, X_OK) < 0) {
		error_set(error_r, "sendmail program %s: %s", tr->location, g_strerror(errno));
		return -1;
	}
	return 0;
}

/* An address that is safe as one argv element after "-f" or "--". */
static bool transport_arg_ok(const char *addr)
{
	if (addr == NULL || addr[0] == '\0' || addr[0] == '-')
		return false;
	for (const char *p = addr; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* In the child: stdin from fd, default SIGPIPE, empty mask, then exec.  Only
 * async-signal-safe calls here; on failure errno goes to err_fd. */
static void G_GNUC_NORETURN transport_sendmail_child(const char *path, char *const *argv, int fd,
						     int err_fd)
{
	struct sigaction sa;
	sigset_t none;
	int saved;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (fd == STDIN_FILENO) {
		if (fcntl(fd, F_SETFD, 0) < 0)
			goto fail;
	} else if (dup2(fd, STDIN_FILENO) < 0) {
		goto fail;
	}
	execv(path, argv);
fail:
	saved = errno;
	if (write(err_fd, &saved, sizeof(saved)) < 0) {
		/* nothing more to do */
	}
	_exit(EX_OSERR);
}

/* Writes text to the child's stdin with SIGPIPE blocked in this thread; a
 * SIGPIPE the write raises is consumed.  Returns 0 or the write's errno. */
static int transport_sendmail_feed(int fd, const char *text, size_t len)
{
	sigset_t pipe_set, old_mask, pending;
	bool was_pending;
	int err = 0;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	if (transport_write_all(fd, text, len) < 0)
		err = errno;
	if (err == EPIPE && !was_pending) {
		struct timespec zero = { 0, 0 };
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	return err;
}

static enum transport_result transport_sendmail_send(struct transport *tr,
						     const char *envelope_from,
						     const char *const *rcpts, const char *data,
						     size_t len, const struct transport_hook *hook,
						     char **error_r)
{
	enum transport_result ret = TRANSPORT_PERMFAIL;
	GPtrArray *argv = NULL;
	char *text = NULL;
	size_t text_len;
	int data_fds[2] = { -1, -1 }, err_fds[2] = { -1, -1 };
	int status, exec_errno = 0, write_errno;
	ssize_t n;
	pid_t pid;

	/* RFC 5321 null reverse-path */
	if (envelope_from == NULL || envelope_from[0] == '\0')
		envelope_from = "<>";
	if (!transport_arg_ok(envelope_from)) {
		error_set(error_r, "unusable envelope sender for sendmail");
		goto out;
	}
	if (rcpts == NULL || rcpts[0] == NULL) {
		error_set(error_r, "no recipients");
		goto out;
	}
	argv = g_ptr_array_new();
	g_ptr_array_add(argv, tr->location);
	g_ptr_array_add(argv, "-i");
	g_ptr_array_add(argv, "-f");
	g_ptr_array_add(argv, (char *)envelope_from);
	g_ptr_array_add(argv, "--");
	for (size_t i = 0; rcpts[i] != NULL; i++) {
		if (!transport_arg_ok(rcpts[i])) {
			char *clean = log_sanitize(rcpts[i], 0);
			error_set(error_r, "unusable recipient for sendmail: %s", clean);
			g_free(clean);
			goto out;
		}
		g_ptr_array_add(argv, (char *)rcpts[i]);
	}
	g_ptr_array_add(argv, NULL);
	text = transport_to_lf(data, len, &text_len);

	ret = TRANSPORT_TEMPFAIL;
	/* a sendmail delivers as soon as it has read the message, and
	 * stopping it halfway is not sure to deliver nothing: before it
	 * starts, then */
	if (transport_hook_call(hook, error_r) < 0)
		goto out;
	if (pipe2(data_fds, O_CLOEXEC) < 0 || pipe2(err_fds, O_CLOEXEC) < 0) {
		error_set(error_r, "pipe: %s", g_strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		error_set(error_r, "fork: %s", g_strerror(errno));
		goto out;
	}
	if (pid == 0)
		transport_sendmail_child(tr->location, (char *const *)argv->pdata, data_fds[0],
					 err_fds[1]);
	close(data_fds[0]);
	close(err_fds[1]);
	data_fds[0] = err_fds[1] = -1;

	/* EOF here means execv succeeded (err_fds are close-on-exec). */
	do
		n = read(err_fds[0], &exec_errno, sizeof(exec_errno));
	while (n < 0 && errno == EINTR);
	write_errno =
		n == sizeof(exec_errno) ? 0 : transport_sendmail_feed(data_fds[1], text, text_len);
	close(data_fds[1]);
	data_fds[1] = -1;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			error_set(error_r, "waitpid: %s", g_strerror(errno));
			goto out;
		}
	}
	if (n == sizeof(exec_errno)) {
		error_set(error_r, "cannot run %s: %s", tr->location, g_strerror(exec_errno));
		goto out;
	}
	if (WIFSIGNALED(status)) {
		error_set(error_r, "sendmail killed by signal %d", WTERMSIG(status));
		goto out;
	}
	if (!WIFEXITED(status)) {
		error_set(error_r, "sendmail ended with wait status %d", status);
		goto out;
	}
	if (WEXITSTATUS(status) == EX_TEMPFAIL) {
		error_set(error_r, "sendmail exited with status %d", EX_TEMPFAIL);
		goto out;
	}
	if (WEXITSTATUS(status) != 0) {
		error_set(error_r, "sendmail exited with status %d", WEXITSTATUS(status));
		ret = TRANSPORT_PERMFAIL;
		goto out;
	}
	if (write_errno != 0) {
		error_set(error_r, "writing to sendmail: %s", g_strerror(write_errno));
		goto out;
	}
	ret = TRANSPORT_OK;
out:
	for (int i = 0; i < 2; i++) {
		if (data_fds[i] >= 0)
			close(data_fds[i]);
		if (err_fds[i] >= 0)
			close(err_fds[i]);
	}
	if (argv != NULL)
		g_ptr_array_free(argv, TRUE);
	g_free(text);
	return ret;
}

/* ---- smtp, smtps (smtp.c) ---- */

static int transport_smtp_open(struct transport *tr, const struct config_transport *cfg,
			       char **error_r)
{
	return smtp_open(cfg, &tr->smtp, error_r);
}

static enum transport_result transport_smtp_send(struct transport *tr, const char *envelope_from,
						 const char *const *rcpts, const char *data,
						 size_t len, const struct transport_hook *hook,
						 char **error_r)
{
	return smtp_send(tr->smtp, envelope_from, rcpts, data, len, hook, error_r);
}

static void transport_smtp_close(struct transport *tr)
{
	smtp_close(&tr->smtp);
}

static const struct transport_driver transport_drivers[] = {
	{ "maildir", false, transport_maildir_open, transport_maildir_send, NULL },
	{ "sendmail", false, transport_sendmail_open, transport_sendmail_send, NULL },
	{ "smtp", true, transport_smtp_open, transport_smtp_send, transport_smtp_close },
	{ "smtps", true, transport_smtp_open, transport_smtp_send, transport_smtp_close },
};

/* Finds url's driver and checks the rest; *rest_r points into url. */
static int transport_parse_url(const char *url, const struct transport_driver **driver_r,
			       const char **rest_r, char **error_r)
{
	const struct transport_driver *driver = NULL;
	const char *colon, *rest;
	char *clean, *why = NULL;
	int ret = -1;

	clean = log_sanitize(url, 0);
	colon = url != NULL ? strchr(url, ':') : NULL;
	for (size_t i = 0; colon != NULL && i < G_N_ELEMENTS(transport_drivers); i++) {
		if (strlen(transport_drivers[i].scheme) == (size_t)(colon - url) &&
		    g_ascii_strncasecmp(url, transport_drivers[i].scheme, colon - url) == 0)
			driver = &transport_drivers[i];
	}
	if (driver == NULL) {
		error_set(error_r,
			  "transport %s: unknown scheme (use maildir:/path, sendmail:/path, "
			  "smtp://host or smtps://host)",
			  clean);
		goto out;
	}
	rest = colon + 1;
	for (const char *p = rest; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			error_set(error_r, "transport %s: control character in URL", clean);
			goto out;
		}
	}
	if (driver->network) {
		bool implicit_tls;
		unsigned port;
		char *host = NULL;

		if (smtp_parse_url(url, &implicit_tls, &host, &port, &why) < 0) {
			error_set(error_r, "transport %s: %s", clean, why);
			goto out;
		}
		g_free(host);
	} else if (rest[0] != '/') {
		error_set(error_r, "transport %s: the path must be absolute", clean);
		goto out;
	} else if (strcmp(driver->scheme, "sendmail") == 0 && strpbrk(rest, " \t") != NULL) {
		error_set(error_r, "transport %s: options cannot be given to sendmail", clean);
		goto out;
	}
	*driver_r = driver;
	*rest_r = rest;
	ret = 0;
out:
	g_free(clean);
	g_free(why);
	return ret;
}

int transport_check_url(const char *url, char **error_r)
{
	const struct transport_driver *driver;
	const char *rest;

	return transport_parse_url(url, &driver, &rest, error_r);
}

int transport_open(const struct config_transport *cfg, struct transport **tr_r, char **error_r)
{
	const struct transport_driver *driver;
	struct transport *tr;
	const char *rest;

	*tr_r = NULL;
	if (transport_parse_url(cfg->url, &driver, &rest, error_r) < 0)
		return -1;
	tr = g_new0(struct transport, 1);
	tr->driver = driver;
	tr->location = g_strdup(rest);
	if (driver->open(tr, cfg, error_r) < 0) {
		transport_close(&tr);
		return -1;
	}
	*tr_r = tr;
	return 0;
}

enum transport_result transport_send(struct transport *tr, const char *envelope_from,
				     const char *const *rcpts, const void *data, size_t len,
				     char **error_r)
{
	return tr->driver->send(tr, envelope_from, rcpts, data, len, NULL, error_r);
}

enum transport_result transport_send_hooked(struct transport *tr, const char *envelope_from,
					    const char *const *rcpts, const void *data, size_t len,
					    const struct transport_hook *hook, char **error_r)
{
	return tr->driver->send(tr, envelope_from, rcpts, data, len, hook, error_r);
}

int transport_hook_call(const struct transport_hook *hook, char **error_r)
{
	if (hook == NULL || hook->before_delivery == NULL)
		return 0;
	return hook->before_delivery(hook->context, error_r);
}

void transport_close(struct transport **tr)
{
	if (*tr == NULL)
		return;
	if ((*tr)->driver->close != NULL)
		(*tr)->driver->close(*tr);
	g_free((*tr)->location);
	g_free((*tr)->hostname);
	g_free(*tr);
	*tr = NULL;
}
