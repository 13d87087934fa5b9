/*
 * message-rfc2047.c - message_repair_encoded_words(): works around a GMime
 * 3.2.13 bug (Debian 12) that cuts decoded header text short (contract in
 * message-private.h).
 *
 * GMime decodes a run of adjacent base64 encoded words of one charset as a
 * single base64 stream, so that a character split between two words comes
 * out whole.  Its base64 decoder, though, stops for good at the first '='
 * padding, so every word after a padded one decodes to nothing:
 * "=?UTF-8?B?...cHI=?= =?UTF-8?B?w7xmZW4=?=" gives "...pr" instead of
 * "...prüfen".  Upstream fixed it in 3.2.14 (GMime issue #133).
 *
 * The repair rewrites the raw value of such a header before GMime decodes
 * it: each run of two or more base64 words of one charset becomes a single
 * word holding the bytes of every word decoded alone, which is what RFC 2047
 * means and what GMime then decodes correctly.  Everything outside the runs
 * is kept byte for byte.  Linear in the header's length.
 */
#include "message-private.h"

#include <string.h>

/* Longer charset labels are not labels; GMime's own limit is similar. */
#define EWORD_CHARSET_MAX 64

/* One "=?charset[*lang]?B?payload?=" in a raw header value. */
struct eword {
	const char *end;     /* just after "?=" */
	const char *charset; /* without *lang */
	size_t charset_len;
	const char *payload;
	size_t payload_len;
};

/* True if p starts a base64 encoded word; fills *w. */
static bool eword_parse_base64(const char *p, struct eword *w)
{
	const char *q, *star;

	if (p[0] != '=' || p[1] != '?')
		return false;
	w->charset = p + 2;
	for (q = w->charset; *q != '\0' && *q != '?' && !g_ascii_isspace(*q); q++)
		;
	if (*q != '?' || q == w->charset || q - w->charset > EWORD_CHARSET_MAX)
		return false;
	star = memchr(w->charset, '*', q - w->charset);
	w->charset_len = (size_t)((star != NULL ? star : q) - w->charset);
	if (w->charset_len == 0 || (q[1] != 'B' && q[1] != 'b') || q[2] != '?')
		return false;
	w->payload = q + 3;
	for (q = w->payload; *q != '\0' && !g_ascii_isspace(*q); q++) {
		if (q[0] == '?' && q[1] == '=')
			break;
		if (q[0] == '?')
			return false;
	}
	if (q[0] != '?' || q[1] != '=')
		return false;
	w->payload_len = (size_t)(q - w->payload);
	w->end = q + 2;
	return true;
}

static bool eword_same_charset(const struct eword *a, const struct eword *b)
{
	return a->charset_len == b->charset_len &&
	       g_ascii_strncasecmp(a->charset, b->charset, a->charset_len) == 0;
}

/* Appends the bytes of one payload decoded on its own.  Padding that a
 * careless encoder left off is supplied, junk characters are skipped. */
static void payload_decode(const struct eword *w, GByteArray *out)
{
	GString *clean = g_string_sized_new(w->payload_len + 4);
	gint state = 0;
	guint save = 0;
	guint before = out->len;
	gsize n;

	for (size_t i = 0; i < w->payload_len; i++) {
		char c = w->payload[i];
		if (g_ascii_isalnum(c) || c == '+' || c == '/')
			g_string_append_c(clean, c);
	}
	/* one character left over carries less than a byte */
	if (clean->len % 4 == 1)
		g_string_truncate(clean, clean->len - 1);
	while (clean->len % 4 != 0)
		g_string_append_c(clean, '=');
	g_byte_array_set_size(out, before + clean->len / 4 * 3 + 3);
	n = g_base64_decode_step(clean->str, clean->len, out->data + before, &state, &save);
	g_byte_array_set_size(out, before + (guint)n);
	g_string_free(clean, TRUE);
}

/* The raw value with every run of base64 words merged, or NULL when it
 * has no such run. */
static char *merge_base64_runs(const char *raw)
{
	GString *out = NULL;
	GByteArray *bytes = g_byte_array_new();
	const char *p = raw, *copied = raw;

	while ((p = strstr(p, "=?")) != NULL) {
		struct eword first, next;
		const char *run_end, *s;
		unsigned words = 1;
		char *b64;

		if (!eword_parse_base64(p, &first)) {
			p += 2;
			continue;
		}
		g_byte_array_set_size(bytes, 0);
		payload_decode(&first, bytes);
		run_end = first.end;
		for (;;) {
			for (s = run_end; g_ascii_isspace(*s); s++)
				;
			if (!eword_parse_base64(s, &next) || !eword_same_charset(&first, &next))
				break;
			payload_decode(&next, bytes);
			run_end = next.end;
			words++;
		}
		if (words > 1) {
			if (out == NULL)
				out = g_string_sized_new(strlen(raw) + 1);
			g_string_append_len(out, copied, p - copied);
			g_string_append(out, "=?");
			g_string_append_len(out, first.charset, first.charset_len);
			g_string_append(out, "?B?");
			b64 = g_base64_encode(bytes->data, bytes->len);
			g_string_append(out, b64);
			g_free(b64);
			g_string_append(out, "?=");
			copied = run_end;
		}
		p = run_end;
	}
	g_byte_array_unref(bytes);
	if (out == NULL)
		return NULL;
	g_string_append(out, copied);
	return g_string_free(out, FALSE);
}

/* Repairs the raw values of object's own headers (message-private.h). */
void message_repair_encoded_words(GMimeObject *object)
{
	GMimeHeaderList *list = object != NULL ? g_mime_object_get_header_list(object) : NULL;
	int count = list != NULL ? g_mime_header_list_get_count(list) : 0;

	for (int i = 0; i < count; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(list, i);
		const char *raw = g_mime_header_get_raw_value(h);
		char *merged;

		if (raw == NULL || strstr(raw, "=?") == NULL)
			continue;
		merged = merge_base64_runs(raw);
		if (merged == NULL)
			continue;
		/* GMime drops its decoded value and parses the header again
		 * (addresses, Subject, Content-Disposition) */
		g_mime_header_set_raw_value(h, merged);
		g_free(merged);
	}
}
