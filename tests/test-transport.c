/*
 * test-transport.c - URL checks, Maildir delivery into a temporary
 * directory, and the sendmail driver against fake sendmail scripts that
 * record their argv and stdin; the hook before delivery for both.
 */
#include "transport.h"
#include "config.h"
#include "tap.h"

#include <ftw.h>
#include <glib.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char message[] = "From: support@example.com\r\n"
			      "To: customer@example.net\r\n"
			      "Subject: test\r\n"
			      "\r\n"
			      "line one\r\n"
			      "line two with a lone \r in it\r\n";
static const char message_lf[] = "From: support@example.com\n"
				 "To: customer@example.net\n"
				 "Subject: test\n"
				 "\n"
				 "line one\n"
				 "line two with a lone \r in it\n";

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Newly allocated contents of path, or NULL. */
static char *slurp(const char *path)
{
	char *data = NULL;

	if (!g_file_get_contents(path, &data, NULL, NULL))
		return NULL;
	return data;
}

/* Number of entries in dir (-1 if it cannot be read); *name_r gets the
 * last one's name when name_r is not NULL. */
static int count_entries(const char *dir, char **name_r)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((name = g_dir_read_name(d)) != NULL) {
		n++;
		if (name_r != NULL) {
			g_free(*name_r);
			*name_r = g_strdup(name);
		}
	}
	g_dir_close(d);
	return n;
}

static bool under_valgrind(void)
{
	const char *preload = getenv("LD_PRELOAD");

	return preload != NULL && strstr(preload, "vgpreload") != NULL;
}

static void write_script(const char *path, const char *text)
{
	if (!g_file_set_contents(path, text, -1, NULL) || chmod(path, 0700) < 0)
		printf("# cannot write %s\n", path);
}

static void test_check_url(void)
{
	static const char *const good[] = {
		"maildir:/var/spool/ticketd/out",
		"sendmail:/usr/sbin/sendmail",
		"smtp://mail.example.com",
		"smtps://mail.example.com:465",
		"smtp://[::1]:25",
		"SMTP://mail.example.com/",
		"maildir:/path with space",
	};
	static const char *const bad[] = {
		"",
		"maildir",
		"maildir:",
		"maildir:relative/path",
		"sendmail:usr/sbin/sendmail",
		"sendmail:/usr/sbin/sendmail -t",
		"ftp://example.com",
		"mbox:/var/mail/x",
		"smtp:mail.example.com",
		"smtp://",
		"smtp://host:0",
		"smtp://host:65536",
		"smtp://host:25x",
		"smtp://host:",
		"smtp://user@host",
		"smtp://[]:25",
		"maildir:/tmp/a\nb",
	};
	char *error = NULL;

	for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
		char *name = g_strdup_printf("check_url accepts %s", good[i]);
		is_int(transport_check_url(good[i], &error), 0, name);
		if (error != NULL)
			printf("# %s\n", error);
		g_free(name);
		g_free(error);
		error = NULL;
	}
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		char *clean = g_strescape(bad[i], NULL);
		char *name = g_strdup_printf("check_url rejects \"%s\"", clean);
		is_int(transport_check_url(bad[i], &error), -1, name);
		ok(error != NULL && error[0] != '\0', "  ... with a reason");
		g_free(clean);
		g_free(name);
		g_free(error);
		error = NULL;
	}
	is_int(transport_check_url(NULL, &error), -1, "check_url rejects NULL");
	g_free(error);
}

/* transport_open() takes the [transport] section; these tests need its url only. */
static int open_url(const char *url, struct transport **tr_r, char **error_r)
{
	struct config_transport cfg = { .url = (char *)url, .tls_verify = true, .timeout = 60 };

	return transport_open(&cfg, tr_r, error_r);
}

static void test_maildir(const char *top)
{
	char *root = g_build_filename(top, "Maildir", NULL);
	char *url = g_strconcat("maildir:", root, NULL);
	char *tmp_dir = g_build_filename(root, "tmp", NULL);
	char *new_dir = g_build_filename(root, "new", NULL);
	char *cur_dir = g_build_filename(root, "cur", NULL);
	char *name = NULL, *path, *data, *error = NULL, *file_url;
	struct transport *tr = NULL;
	struct stat st;

	if (open_url(url, &tr, &error) < 0) {
		ok(0, "maildir open");
		printf("# %s\n", error);
		goto out;
	}
	ok(stat(root, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700,
	   "maildir root created 0700");
	ok(stat(tmp_dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700,
	   "tmp/ created 0700");
	ok(stat(new_dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700,
	   "new/ created 0700");
	ok(stat(cur_dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700,
	   "cur/ created 0700");

	is_int(transport_send(tr, "support@example.com", NULL, message, strlen(message), &error),
	       TRANSPORT_OK, "maildir send");
	is_int(count_entries(new_dir, &name), 1, "one file in new/");
	is_int(count_entries(tmp_dir, NULL), 0, "nothing left in tmp/");
	is_int(count_entries(cur_dir, NULL), 0, "nothing in cur/");
	ok(name != NULL && g_regex_match_simple("^[0-9]+\\.[0-9]+_[0-9]+_[0-9a-f]{16}\\.[^/:]+$",
						name, 0, 0),
	   "unique name is time.pid_counter_random.host");
	if (name != NULL)
		printf("# %s\n", name);
	path = g_build_filename(new_dir, name != NULL ? name : "-", NULL);
	data = slurp(path);
	is_str(data, message_lf, "stored with LF line ends");
	g_free(data);
	g_free(path);

	is_int(transport_send(tr, "support@example.com", NULL, message, strlen(message), &error),
	       TRANSPORT_OK, "second maildir send");
	is_int(count_entries(new_dir, NULL), 2, "two distinct files in new/");
	transport_close(&tr);
	ok(tr == NULL, "close sets the pointer to NULL");
	transport_close(&tr);

	/* reopen an existing Maildir, then break it */
	is_int(open_url(url, &tr, &error), 0, "reopen an existing Maildir");
	rm_rf(tmp_dir);
	is_int(transport_send(tr, "support@example.com", NULL, message, strlen(message), &error),
	       TRANSPORT_TEMPFAIL, "I/O error is TEMPFAIL");
	like(error, "tmp", "I/O error: reason names the path");
	g_free(error);
	error = NULL;
	transport_close(&tr);

	/* a Maildir path that is a file */
	path = g_build_filename(top, "plain-file", NULL);
	g_file_set_contents(path, "x", -1, NULL);
	file_url = g_strconcat("maildir:", path, NULL);
	is_int(open_url(file_url, &tr, &error), -1, "maildir on a plain file fails");
	like(error, "not a directory", "maildir on a plain file: reason");
	g_free(error);
	error = NULL;
	g_free(file_url);
	g_free(path);
out:
	transport_close(&tr);
	g_free(error);
	g_free(name);
	g_free(root);
	g_free(url);
	g_free(tmp_dir);
	g_free(new_dir);
	g_free(cur_dir);
}

static void set_code(const char *top, const char *code)
{
	char *path = g_build_filename(top, "code", NULL);

	g_file_set_contents(path, code, -1, NULL);
	g_free(path);
}

static void test_sendmail(const char *top)
{
	const char *const rcpts[] = { "rcpt1@example.net", "rcpt2@example.org", NULL };
	char *script = g_build_filename(top, "fake-sendmail", NULL);
	char *argv_file = g_build_filename(top, "argv", NULL);
	char *stdin_file = g_build_filename(top, "stdin", NULL);
	char *url = g_strconcat("sendmail:", script, NULL);
	char *text, *error = NULL;
	struct transport *tr = NULL;

	text = g_strdup_printf("#!/bin/sh\n"
			       "for a in \"$@\"; do printf '%%s\\n' \"$a\"; done > '%s'\n"
			       "cat > '%s'\n"
			       "exit $(cat '%s/code')\n",
			       argv_file, stdin_file, top);
	write_script(script, text);
	g_free(text);
	set_code(top, "0");

	if (open_url(url, &tr, &error) < 0) {
		ok(0, "sendmail open");
		printf("# %s\n", error);
		goto out;
	}
	is_int(transport_send(tr, "from@example.com", rcpts, message, strlen(message), &error),
	       TRANSPORT_OK, "sendmail exit 0 is OK");
	text = slurp(argv_file);
	is_str(text, "-i\n-f\nfrom@example.com\n--\nrcpt1@example.net\nrcpt2@example.org\n",
	       "argv is -i -f from -- rcpt1 rcpt2");
	g_free(text);
	text = slurp(stdin_file);
	is_str(text, message_lf, "stdin is the message with LF line ends");
	g_free(text);

	is_int(transport_send(tr, "", rcpts, message, strlen(message), &error), TRANSPORT_OK,
	       "empty envelope sender");
	text = slurp(argv_file);
	like(text, "-f\n<>\n--\n", "empty envelope sender passed as <>");
	g_free(text);

	set_code(top, "75");
	is_int(transport_send(tr, "from@example.com", rcpts, message, strlen(message), &error),
	       TRANSPORT_TEMPFAIL, "sendmail exit 75 is TEMPFAIL");
	like(error, "status 75", "exit 75: reason");
	g_free(error);
	error = NULL;

	set_code(top, "1");
	is_int(transport_send(tr, "from@example.com", rcpts, message, strlen(message), &error),
	       TRANSPORT_PERMFAIL, "sendmail exit 1 is PERMFAIL");
	is_str(error, "sendmail exited with status 1", "exit 1: reason");
	g_free(error);
	error = NULL;

	set_code(top, "0");
	unlink(argv_file);
	{
		const char *const evil[] = { "ok@example.net", "-oQ/tmp", NULL };
		is_int(transport_send(tr, "from@example.com", evil, message, strlen(message),
				      &error),
		       TRANSPORT_PERMFAIL, "recipient -oQ/tmp is PERMFAIL");
		ok(access(argv_file, F_OK) < 0, "  ... and sendmail was not run");
		like(error, "recipient", "  ... reason");
		g_free(error);
		error = NULL;
	}
	{
		const char *const spaced[] = { "a b@example.net", NULL };
		is_int(transport_send(tr, "from@example.com", spaced, message, strlen(message),
				      &error),
		       TRANSPORT_PERMFAIL, "recipient with whitespace is PERMFAIL");
		g_free(error);
		error = NULL;
	}
	{
		const char *const ctl[] = { "a@example.net\n-oQ/tmp", NULL };
		is_int(transport_send(tr, "from@example.com", ctl, message, strlen(message),
				      &error),
		       TRANSPORT_PERMFAIL, "recipient with a control character is PERMFAIL");
		g_free(error);
		error = NULL;
	}
	is_int(transport_send(tr, "-bs", rcpts, message, strlen(message), &error),
	       TRANSPORT_PERMFAIL, "envelope sender starting with - is PERMFAIL");
	g_free(error);
	error = NULL;
	is_int(transport_send(tr, "a\tb@example.com", rcpts, message, strlen(message), &error),
	       TRANSPORT_PERMFAIL, "envelope sender with a tab is PERMFAIL");
	g_free(error);
	error = NULL;
	{
		const char *const none[] = { NULL };
		is_int(transport_send(tr, "from@example.com", none, message, strlen(message),
				      &error),
		       TRANSPORT_PERMFAIL, "no recipients is PERMFAIL");
		g_free(error);
		error = NULL;
	}
	ok(access(argv_file, F_OK) < 0, "sendmail never run for rejected arguments");
	transport_close(&tr);
out:
	transport_close(&tr);
	g_free(error);
	g_free(script);
	g_free(argv_file);
	g_free(stdin_file);
	g_free(url);
}

/* A sendmail that exits without reading a big message (EPIPE, SIGPIPE),
 * one killed by a signal, one that cannot be executed, one missing. */
static void test_sendmail_failures(const char *top)
{
	const char *const rcpts[] = { "rcpt@example.net", NULL };
	char *script = g_build_filename(top, "lazy-sendmail", NULL);
	char *url = g_strconcat("sendmail:", script, NULL);
	char *error = NULL, *path, *other_url;
	struct transport *tr = NULL;
	GString *big = g_string_new(NULL);

	while (big->len < 4 * 1024 * 1024)
		g_string_append(big, "0123456789 0123456789 0123456789 0123456789\r\n");

	write_script(script, "#!/bin/sh\nexit 0\n");
	if (open_url(url, &tr, &error) == 0) {
		is_int(transport_send(tr, "from@example.com", rcpts, big->str, big->len, &error),
		       TRANSPORT_TEMPFAIL,
		       "sendmail that does not read: TEMPFAIL, no SIGPIPE death");
		like(error, "writing to sendmail", "  ... reason");
		g_free(error);
		error = NULL;
		transport_close(&tr);
	}

	write_script(script, "#!/bin/sh\nexit 3\n");
	if (open_url(url, &tr, &error) == 0) {
		is_int(transport_send(tr, "from@example.com", rcpts, big->str, big->len, &error),
		       TRANSPORT_PERMFAIL, "early exit 3: PERMFAIL by the exit status");
		g_free(error);
		error = NULL;
		transport_close(&tr);
	}

	write_script(script, "#!/bin/sh\nkill -KILL $$\n");
	if (open_url(url, &tr, &error) == 0) {
		is_int(transport_send(tr, "from@example.com", rcpts, message, strlen(message),
				      &error),
		       TRANSPORT_TEMPFAIL, "sendmail killed by a signal: TEMPFAIL");
		like(error, "signal 9", "  ... reason");
		g_free(error);
		error = NULL;
		transport_close(&tr);
	}

	/* valgrind cannot survive a failed execve() in the child (it exits 101) */
	write_script(script, "#!/nonexistent/interpreter\n");
	if (under_valgrind()) {
		ok(1, "sendmail that cannot be executed # SKIP valgrind dies on a failed execve");
	} else if (open_url(url, &tr, &error) == 0) {
		is_int(transport_send(tr, "from@example.com", rcpts, message, strlen(message),
				      &error),
		       TRANSPORT_TEMPFAIL, "sendmail that cannot be executed: TEMPFAIL");
		like(error, "cannot run", "  ... reason");
		g_free(error);
		error = NULL;
		transport_close(&tr);
	}

	path = g_build_filename(top, "missing-sendmail", NULL);
	other_url = g_strconcat("sendmail:", path, NULL);
	is_int(open_url(other_url, &tr, &error), -1, "missing sendmail program: open fails");
	ok(tr == NULL, "  ... no transport");
	g_free(error);
	error = NULL;
	g_free(other_url);
	g_free(path);

	path = g_build_filename(top, "code", NULL); /* exists, not executable */
	chmod(path, 0600);
	other_url = g_strconcat("sendmail:", path, NULL);
	if (geteuid() != 0)
		is_int(open_url(other_url, &tr, &error), -1,
		       "non-executable sendmail program: open fails");
	transport_close(&tr);
	g_free(error);
	g_free(other_url);
	g_free(path);

	g_string_free(big, TRUE);
	g_free(script);
	g_free(url);
}

/* A transport_hook that records what it saw at its call: how many files
 * were in the directory watched then (-1: not called), and fails when
 * told to. */
struct hook_probe {
	const char *watch;
	int seen;
	bool fail;
};

static int probe_before_delivery(void *context, char **error_r)
{
	struct hook_probe *p = context;

	p->seen = count_entries(p->watch, NULL);
	if (!p->fail)
		return 0;
	*error_r = g_strdup("probe says no");
	return -1;
}

/* transport_send_hooked(): the hook runs before the message is delivered,
 * and a hook that fails leaves it undelivered, TEMPFAIL with its reason. */
static void test_hook(const char *top)
{
	const char *const rcpts[] = { "rcpt@example.net", NULL };
	char *root = g_build_filename(top, "HookMaildir", NULL);
	char *new_dir = g_build_filename(root, "new", NULL);
	char *tmp_dir = g_build_filename(root, "tmp", NULL);
	char *url = g_strconcat("maildir:", root, NULL);
	char *script = g_build_filename(top, "hook-sendmail", NULL);
	char *out_dir = g_build_filename(top, "hook-out", NULL);
	char *text, *error = NULL;
	struct hook_probe probe = { new_dir, -1, false };
	const struct transport_hook hook = { probe_before_delivery, &probe };
	struct transport *tr = NULL;

	if (open_url(url, &tr, &error) < 0) {
		ok(0, "hook: maildir open");
		goto out;
	}
	is_int(transport_send_hooked(tr, "", rcpts, message, strlen(message), &hook, &error),
	       TRANSPORT_OK, "hook, maildir: sent");
	is_int(probe.seen, 0, "hook, maildir: called before the message was in new/");
	is_int(count_entries(new_dir, NULL), 1, "hook, maildir: and then it was");
	probe = (struct hook_probe){ new_dir, -1, true };
	is_int(transport_send_hooked(tr, "", rcpts, message, strlen(message), &hook, &error),
	       TRANSPORT_TEMPFAIL, "hook, maildir: a failing hook is TEMPFAIL");
	is_str(error, "probe says no", "hook, maildir: with the hook's reason");
	g_clear_pointer(&error, g_free);
	is_int(count_entries(new_dir, NULL), 1, "hook, maildir: nothing delivered");
	is_int(count_entries(tmp_dir, NULL), 0, "hook, maildir: nothing left in tmp/");
	probe = (struct hook_probe){ new_dir, -1, false };
	is_int(transport_send(tr, "", rcpts, message, strlen(message), &error), TRANSPORT_OK,
	       "hook, maildir: transport_send() has none");
	is_int(probe.seen, -1, "hook, maildir: not called then");
	transport_close(&tr);

	/* the fake sendmail drops each message into out_dir */
	mkdir(out_dir, 0700);
	text = g_strdup_printf("#!/bin/sh\ncat > \"%s/$$\"\n", out_dir);
	write_script(script, text);
	g_free(text);
	g_free(url);
	url = g_strconcat("sendmail:", script, NULL);
	if (open_url(url, &tr, &error) < 0) {
		ok(0, "hook: sendmail open");
		goto out;
	}
	probe = (struct hook_probe){ out_dir, -1, false };
	is_int(transport_send_hooked(tr, "", rcpts, message, strlen(message), &hook, &error),
	       TRANSPORT_OK, "hook, sendmail: sent");
	is_int(probe.seen, 0, "hook, sendmail: called before sendmail ran");
	is_int(count_entries(out_dir, NULL), 1, "hook, sendmail: and then it ran");
	probe = (struct hook_probe){ out_dir, -1, true };
	is_int(transport_send_hooked(tr, "", rcpts, message, strlen(message), &hook, &error),
	       TRANSPORT_TEMPFAIL, "hook, sendmail: a failing hook is TEMPFAIL");
	is_str(error, "probe says no", "hook, sendmail: with the hook's reason");
	g_clear_pointer(&error, g_free);
	is_int(count_entries(out_dir, NULL), 1, "hook, sendmail: sendmail not run");
out:
	transport_close(&tr);
	g_free(error);
	g_free(root);
	g_free(new_dir);
	g_free(tmp_dir);
	g_free(url);
	g_free(script);
	g_free(out_dir);
}

int main(void)
{
	char *top = g_dir_make_tmp("ticketd-transport-XXXXXX", NULL);

	if (top == NULL) {
		printf("Bail out! cannot make a temporary directory\n");
		return 1;
	}
	test_check_url();
	test_maildir(top);
	test_sendmail(top);
	test_sendmail_failures(top);
	test_hook(top);
	rm_rf(top);
	g_free(top);
	return tap_done();
}
