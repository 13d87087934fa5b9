/*
 * smtp-transaction.c - one message on an open SMTP session: MAIL FROM,
 * RCPT TO per recipient, DATA, the content, and what the replies mean.
 *
 * PIPELINING (RFC 2920), when the server offers it: MAIL FROM, every RCPT
 * TO and DATA go out in one write and their replies are read after it, so
 * a message costs two round trips (the envelope, then the content) instead
 * of four.  libetpan 1.9.4 has no API for it: that path writes the commands
 * to the session's mailstream itself and reads the replies with
 * smtp_read_reply() (bounded lines, the session's timeout), leaving them
 * where libetpan leaves its own.  Servers without PIPELINING, and messages
 * for many recipients, get MAIL, RCPT and DATA one at a time through
 * libetpan.  On both paths the content goes out through libetpan's
 * mailstream_send_data() (dot-stuffing, CRLF) and smtp_read_reply() reads
 * the reply to its end.  The caller's hook (struct transport_hook) runs
 * between the 354 and the content: the last moment before delivery.
 */
#include "smtp-private.h"

#include "util.h"

#include <string.h>

/* RFC 5321 4.5.3.1.5: a reply line is at most 512 octets; we take more,
 * but not without end. */
#define SMTP_REPLY_LINE_MAX  4096
#define SMTP_REPLY_LINES_MAX 100
/* More recipients than this go one command at a time: so long a group
 * could fill the socket buffers both ways, each side waiting for the
 * other to read. */
#define SMTP_PIPELINE_RCPTS_MAX 100

/* One line of a reply into line, without its line end: 0, or -1 at end of
 * file, timeout or error, or -2 when longer than SMTP_REPLY_LINE_MAX.
 * Takes what the stream has buffered; reads (within the stream's timeout)
 * only when that holds no whole line. */
static int smtp_read_line(mailstream *stream, GString *line)
{
	g_string_truncate(line, 0);
	for (;;) {
		const char *nl;
		size_t n, old = line->len;

		if (stream->read_buffer_len == 0 && mailstream_feed_read_buffer(stream) <= 0)
			return -1;
		nl = memchr(stream->read_buffer, '\n', stream->read_buffer_len);
		n = nl != NULL ? (size_t)(nl - stream->read_buffer) + 1 : stream->read_buffer_len;
		if (old + n > SMTP_REPLY_LINE_MAX)
			return -2;
		g_string_set_size(line, old + n);
		/* n bytes are buffered: this copies them and reads nothing */
		if (mailstream_read(stream, line->str + old, n) != (ssize_t)n)
			return -1;
		if (nl != NULL)
			break;
	}
	g_string_truncate(line, line->len - 1);
	if (line->len > 0 && line->str[line->len - 1] == '\r')
		g_string_truncate(line, line->len - 1);
	return 0;
}

/* Reads one reply ("250-first", ..., "250 last") where libetpan keeps the
 * replies it reads itself: the code in response_code, the text of each
 * line ended by '\n' in response; so smtp_reply_text() and smtp_fail()
 * serve both paths.  Returns the code; 0 when there was none (closed,
 * timeout) or it was not a reply (smtp->bad_reply says why). */
static int smtp_read_reply(struct smtp *smtp)
{
	mailsmtp *s = smtp->session;
	GString *line = g_string_new(NULL), *text = g_string_new(NULL);
	int code = 0, lines = 0, r;
	bool more = true;

	smtp->bad_reply = NULL;
	while (more) {
		const char *p;
		int line_code;

		if (++lines > SMTP_REPLY_LINES_MAX) {
			smtp->bad_reply = "too many lines";
			break;
		}
		r = smtp_read_line(s->stream, line);
		if (r < 0) {
			smtp->bad_reply = r == -2 ? "line too long" : NULL;
			break;
		}
		p = line->str;
		if (p[0] < '2' || p[0] > '5' || !g_ascii_isdigit(p[1]) || !g_ascii_isdigit(p[2]) ||
		    (p[3] != '\0' && p[3] != ' ' && p[3] != '-')) {
			smtp->bad_reply = "not an SMTP reply";
			break;
		}
		line_code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
		if (code != 0 && line_code != code) { /* RFC 5321 4.2.1 */
			smtp->bad_reply = "lines of different codes";
			break;
		}
		code = line_code;
		more = p[3] == '-';
		g_string_append(text, p[3] == '\0' ? "" : p + 4);
		g_string_append_c(text, '\n');
	}
	if (more)
		code = 0;
	if (mmap_string_assign(s->response_buffer, text->str) == NULL)
		log_panic("out of memory");
	s->response = s->response_buffer->str;
	s->response_code = code;
	g_string_free(line, TRUE);
	g_string_free(text, TRUE);
	return code;
}

/* For smtp_fail(): what libetpan would have returned for an unexpected
 * reply code (0: none). */
static int smtp_code_error(int code)
{
	return code == 0 ? MAILSMTP_ERROR_STREAM : MAILSMTP_ERROR_UNEXPECTED_CODE;
}

/* A recipient the server did not take: "RCPT TO <x>: reply" appended to
 * refused, and the result the refusal stands for. */
static enum transport_result smtp_refused(struct smtp *smtp, int r, const char *rcpt,
					  GString *refused)
{
	char *what = g_strdup_printf("RCPT TO <%s>", rcpt), *why = NULL;
	enum transport_result ret = smtp_fail(smtp, SMTP_STAGE_RCPT, r, what, &why);

	g_string_append_printf(refused, "%s%s", refused->len > 0 ? "; " : "", why);
	g_free(what);
	g_free(why);
	return ret;
}

/* After DATA (data_r: its outcome as libetpan gives it): when the server
 * said 354, the message, dot-stuffed and with CRLF line ends as
 * mailsmtp_data_message() sends it, and the reply to its end; else the
 * refusal and RSET.  refused names the recipients refused for good;
 * accepted of total were not. */
static enum transport_result smtp_deliver(struct smtp *smtp, int data_r, const char *data,
					  size_t len, const struct transport_hook *hook,
					  const GString *refused, size_t accepted, size_t total,
					  char **why_r)
{
	mailsmtp *s = smtp->session;
	enum transport_result ret;
	int code = 0;

	if (data_r != MAILSMTP_NO_ERROR) {
		ret = smtp_fail(smtp, SMTP_STAGE_DATA, data_r, "DATA", why_r);
		smtp_reset(smtp);
		return ret;
	}
	/* The caller's last word before the message can be delivered; if it
	 * says no, dropping the connection is the one way out of DATA that
	 * delivers nothing (as in smtp_cancel()). */
	if (transport_hook_call(hook, why_r) < 0) {
		smtp_disconnect(smtp, false);
		return TRANSPORT_TEMPFAIL;
	}
	/* mailstream_send_data() ends the data with "\r\n.\r\n" itself:
	 * without this the message would gain an empty last line */
	if (len >= 2 && data[len - 2] == '\r' && data[len - 1] == '\n')
		len -= 2;
	else if (len >= 1 && data[len - 1] == '\n')
		len--;
	smtp_expect(s);
	if (mailstream_send_data(s->stream, data, len, 0, NULL) == 0)
		code = smtp_read_reply(smtp);
	if (code != 250) {
		ret = smtp_fail(smtp, SMTP_STAGE_DATA, smtp_code_error(code), "end of DATA", why_r);
		smtp_reset(smtp);
		return ret;
	}
	if (refused->len > 0) {
		*why_r = g_strdup_printf("sent to %zu of %zu recipients; refused: %s", accepted,
					 total, refused->str);
		return TRANSPORT_PERMFAIL;
	}
	return TRANSPORT_OK;
}

/* MAIL, RCPT..., DATA one command at a time through libetpan, each waiting
 * for its reply.  *stale_r as for smtp_transaction(). */
static enum transport_result smtp_stepwise(struct smtp *smtp, const char *from,
					   const char *const *rcpts, const char *data, size_t len,
					   const struct transport_hook *hook, bool reused,
					   bool *stale_r, char **why_r)
{
	mailsmtp *s = smtp->session;
	GString *refused = g_string_new(NULL);
	enum transport_result ret;
	bool temp = false;
	size_t total = 0, accepted = 0;
	char *what;
	int r;

	smtp_expect(s);
	r = mailesmtp_mail_size(s, from, 0, NULL, len);
	if (r != MAILSMTP_NO_ERROR) {
		*stale_r = reused && (s->response_code == 0 || s->response_code == 421);
		what = g_strdup_printf("MAIL FROM <%s>", from);
		ret = smtp_fail(smtp, SMTP_STAGE_MAIL, r, what, why_r);
		g_free(what);
		smtp_reset(smtp);
		goto out;
	}
	for (; rcpts[total] != NULL; total++) {
		smtp_expect(s);
		r = mailesmtp_rcpt(s, rcpts[total], 0, NULL);
		if (r == MAILSMTP_NO_ERROR) {
			accepted++;
			continue;
		}
		if (smtp_refused(smtp, r, rcpts[total], refused) == TRANSPORT_TEMPFAIL)
			temp = true;
		if (smtp->session == NULL) {
			*why_r = g_strdup(refused->str);
			ret = TRANSPORT_TEMPFAIL;
			goto out;
		}
	}
	/* Send only when nobody was refused for now: a retry would give the
	 * accepted recipients a second copy. */
	if (temp || accepted == 0) {
		*why_r = g_strdup(refused->str);
		ret = temp ? TRANSPORT_TEMPFAIL : TRANSPORT_PERMFAIL;
		smtp_reset(smtp);
		goto out;
	}
	smtp_expect(s);
	r = mailsmtp_data(s);
	ret = smtp_deliver(smtp, r, data, len, hook, refused, accepted, total, why_r);
out:
	g_string_free(refused, TRUE);
	return ret;
}

/* MAIL FROM, every RCPT TO and DATA in one write, worded as
 * mailesmtp_mail_size() and mailesmtp_rcpt() word them (with DSN offered,
 * libetpan asks for RET=HDRS).  0 or -1. */
static int smtp_write_envelope(mailsmtp *s, const char *from, const char *const *rcpts, size_t len)
{
	GString *group = g_string_new(NULL);
	int ret = 0;

	g_string_append_printf(group, "MAIL FROM:<%s>", from);
	if ((s->esmtp & MAILSMTP_ESMTP_DSN) != 0)
		g_string_append(group, " RET=HDRS");
	if ((s->esmtp & MAILSMTP_ESMTP_SIZE) != 0 && len > 0)
		g_string_append_printf(group, " SIZE=%zu", len);
	g_string_append(group, "\r\n");
	for (size_t i = 0; rcpts[i] != NULL; i++)
		g_string_append_printf(group, "RCPT TO:<%s>\r\n", rcpts[i]);
	g_string_append(group, "DATA\r\n");
	if (mailstream_write(s->stream, group->str, group->len) != (ssize_t)group->len ||
	    mailstream_flush(s->stream) < 0)
		ret = -1;
	g_string_free(group, TRUE);
	return ret;
}

/* Ends a group whose message is not to be sent, given the reply to its
 * DATA.  Refused: RSET.  Accepted (354) with no recipient accepted: the
 * lone "." RFC 2920 3.1 asks for, then RSET.  Accepted with a recipient
 * accepted: any end of the data would deliver an empty message to them,
 * so the connection is dropped instead, the one way out of DATA that
 * delivers nothing (RFC 5321 4.1.1.10: the server cancels the
 * transaction). */
static void smtp_cancel(struct smtp *smtp, int data_code, size_t accepted)
{
	mailsmtp *s = smtp->session;

	if (data_code == 354 && accepted > 0) {
		log_debug("transport %s: DATA accepted for a message not to be sent: "
			  "dropping the connection",
			  smtp->label);
		smtp_disconnect(smtp, false);
		return;
	}
	if (data_code == 0 || data_code == 421) {
		smtp_disconnect(smtp, data_code == 421);
		return;
	}
	if (data_code == 354) {
		smtp_expect(s);
		if (mailstream_write(s->stream, ".\r\n", 3) != 3 ||
		    mailstream_flush(s->stream) < 0 || smtp_read_reply(smtp) == 0 ||
		    s->response_code == 421) {
			smtp_disconnect(smtp, s->response_code == 421);
			return;
		}
	}
	smtp_reset(smtp);
}

/* The transaction with PIPELINING: the envelope as one group, then every
 * reply of the group in order, whatever came before (RFC 2920 3.1), with
 * the outcomes of smtp_stepwise().  *stale_r as for smtp_transaction(). */
static enum transport_result smtp_pipelined(struct smtp *smtp, const char *from,
					    const char *const *rcpts, const char *data, size_t len,
					    const struct transport_hook *hook, bool reused,
					    bool *stale_r, char **why_r)
{
	GString *refused = g_string_new(NULL);
	enum transport_result ret = TRANSPORT_TEMPFAIL;
	bool mail_ok, temp = false;
	size_t total = 0, accepted = 0;
	char *what;
	int code = 0;

	smtp_expect(smtp->session);
	if (smtp_write_envelope(smtp->session, from, rcpts, len) == 0)
		code = smtp_read_reply(smtp);
	mail_ok = code == 250;
	if (!mail_ok) {
		*stale_r = reused && (code == 0 || code == 421);
		what = g_strdup_printf("MAIL FROM <%s>", from);
		ret = smtp_fail(smtp, SMTP_STAGE_MAIL, smtp_code_error(code), what, why_r);
		g_free(what);
	}
	for (; rcpts[total] != NULL && smtp->session != NULL; total++) {
		code = smtp_read_reply(smtp);
		if (code == 250 || code == 251)
			accepted++;
		else if (mail_ok) {
			if (smtp_refused(smtp, smtp_code_error(code), rcpts[total], refused) ==
			    TRANSPORT_TEMPFAIL)
				temp = true;
		} else if (code == 0 || code == 421) /* else "503 need MAIL" */
			smtp_disconnect(smtp, code == 421);
	}
	code = smtp->session != NULL ? smtp_read_reply(smtp) : 0; /* to DATA */
	if (!mail_ok) {
		if (smtp->session != NULL)
			smtp_cancel(smtp, code, accepted);
		goto out;
	}
	/* as in smtp_stepwise(): nothing for anybody when one was refused for now */
	if (smtp->session == NULL || temp || accepted == 0) {
		*why_r = g_strdup(refused->str);
		ret = smtp->session == NULL || temp ? TRANSPORT_TEMPFAIL : TRANSPORT_PERMFAIL;
		if (smtp->session != NULL)
			smtp_cancel(smtp, code, accepted);
		goto out;
	}
	ret = smtp_deliver(smtp, code == 354 ? MAILSMTP_NO_ERROR : smtp_code_error(code), data, len,
			   hook, refused, accepted, total, why_r);
out:
	g_string_free(refused, TRUE);
	return ret;
}

/* MAIL, RCPT..., DATA on an established session, pipelined when the server
 * offers it.  *stale_r: the session had carried mail before and did not
 * answer MAIL FROM (or said 421), so it had gone stale while idle; it is
 * dropped and the message may be tried again. */
enum transport_result smtp_transaction(struct smtp *smtp, const char *from,
				       const char *const *rcpts, const char *data, size_t len,
				       const struct transport_hook *hook, bool *stale_r,
				       char **why_r)
{
	bool reused = smtp->transactions > 0;
	size_t n = 0;

	*stale_r = false;
	smtp->transactions++;
	while (rcpts[n] != NULL)
		n++;
	if ((smtp->session->esmtp & MAILSMTP_ESMTP_PIPELINING) != 0 && n <= SMTP_PIPELINE_RCPTS_MAX)
		return smtp_pipelined(smtp, from, rcpts, data, len, hook, reused, stale_r, why_r);
	return smtp_stepwise(smtp, from, rcpts, data, len, hook, reused, stale_r, why_r);
}
