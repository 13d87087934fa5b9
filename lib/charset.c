/*
 * charset.c - charset_to_utf8(): bytes in a declared charset → UTF-8, part of
 * the message module (contract in message.h).
 *
 * Mail lies about its charset.  The label is cleaned and mapped the way
 * browsers and mail clients do it (ISO-8859-1 and US-ASCII mean
 * windows-1252, Shift_JIS means CP932 ...), then the bytes are converted
 * with iconv.  When the label is missing or unknown, or the bytes are not
 * valid in it, we fall back to UTF-8 if the bytes are valid UTF-8, else to
 * windows-1252, which is decoded by our own table and never fails.
 * A single-byte label on bytes that are valid UTF-8 with multi-byte
 * sequences is taken to be a mislabelled UTF-8 text.
 *
 * The result is always valid UTF-8 without NUL bytes.  Linear time.
 */
#include "message.h"

#include <errno.h>
#include <string.h>

/* Longest label we look at; real ones are short. */
#define CHARSET_LABEL_MAX 40

/* windows-1252 0x80-0x9F; the five holes map to the C1 controls as in
 * the WHATWG encoding standard. */
static const gunichar cp1252_high[32] = {
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
	0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
	0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

/* Labels that need another name than iconv's, or that mean a superset. */
static const struct {
	const char *label;
	const char *iconv_name; /* NULL: our windows-1252 table */
} charset_aliases[] = {
	{ "us-ascii", NULL },
	{ "ascii", NULL },
	{ "ansi_x3.4-1968", NULL },
	{ "iso-8859-1", NULL },
	{ "iso8859-1", NULL },
	{ "iso_8859-1", NULL },
	{ "iso-ir-100", NULL },
	{ "latin1", NULL },
	{ "latin-1", NULL },
	{ "l1", NULL },
	{ "cp819", NULL },
	{ "ibm819", NULL },
	{ "windows-1252", NULL },
	{ "cp1252", NULL },
	{ "x-cp1252", NULL },
	{ "x-user-defined", NULL },
	{ "utf8", "UTF-8" },
	{ "unicode-1-1-utf-7", "UTF-7" },
	{ "iso-8859-9", "WINDOWS-1254" },
	{ "latin5", "WINDOWS-1254" },
	{ "iso-8859-8-i", "ISO-8859-8" },
	{ "shift_jis", "CP932" },
	{ "shift-jis", "CP932" },
	{ "x-sjis", "CP932" },
	{ "sjis", "CP932" },
	{ "ms_kanji", "CP932" },
	{ "windows-31j", "CP932" },
	{ "euc-kr", "CP949" },
	{ "ks_c_5601-1987", "CP949" },
	{ "ks_c_5601", "CP949" },
	{ "gb2312", "GB18030" },
	{ "gbk", "GB18030" },
	{ "x-gbk", "GB18030" },
	{ "cn-gb", "GB18030" },
	{ "windows-874", "CP874" },
	{ "tis-620", "CP874" },
	{ "x-mac-roman", "MACINTOSH" },
	{ "macintosh", "MACINTOSH" },
};

/* Appends the windows-1252 reading of one byte. */
static void append_cp1252(GString *out, unsigned char c)
{
	if (c < 0x80)
		g_string_append_c(out, (char)c);
	else if (c < 0xA0)
		g_string_append_unichar(out, cp1252_high[c - 0x80]);
	else
		g_string_append_unichar(out, c);
}

/* g_utf8_validate() stops at NUL; here a NUL is just another character. */
bool charset_utf8_valid(const char *data, size_t len)
{
	const char *end = data + len, *bad;

	while (!g_utf8_validate(data, end - data, &bad)) {
		if (*bad != '\0')
			return false;
		data = bad + 1;
	}
	return true;
}

/* Appends text that is known to be valid UTF-8, without its NUL bytes. */
static void append_without_nul(GString *out, const char *data, size_t len)
{
	const char *end = data + len, *nul;

	while (data < end && (nul = memchr(data, '\0', end - data)) != NULL) {
		g_string_append_len(out, data, nul - data);
		data = nul + 1;
	}
	g_string_append_len(out, data, end - data);
}

static char *decode_cp1252(const char *data, size_t len)
{
	GString *out = g_string_sized_new(len + len / 8 + 1);

	for (size_t i = 0; i < len; i++)
		if (data[i] != '\0')
			append_cp1252(out, (unsigned char)data[i]);
	return g_string_free(out, FALSE);
}

/* UTF-8 with stray bytes (a latin-1 footer appended to UTF-8 text, say):
 * valid sequences are kept, each invalid byte is read as windows-1252. */
static char *decode_utf8_mixed(const char *data, size_t len)
{
	GString *out = g_string_sized_new(len + 1);
	const char *p = data, *end = data + len, *bad;

	while (p < end) {
		if (g_utf8_validate(p, end - p, &bad)) {
			append_without_nul(out, p, end - p);
			break;
		}
		append_without_nul(out, p, bad - p);
		if (*bad != '\0')
			append_cp1252(out, (unsigned char)*bad);
		p = bad + 1;
	}
	return g_string_free(out, FALSE);
}

/* Cleans a label: trims blanks and quotes, lower-cases, and refuses
 * anything that is not a plain charset name (iconv takes "//" options). */
static char *label_clean(const char *charset)
{
	const char *start, *end;
	char *label;

	if (charset == NULL)
		return NULL;
	start = charset;
	while (*start == ' ' || *start == '\t' || *start == '"' || *start == '\'')
		start++;
	end = start + strlen(start);
	while (end > start &&
	       (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '"' || end[-1] == '\''))
		end--;
	if (end == start || end - start > CHARSET_LABEL_MAX)
		return NULL;
	for (const char *p = start; p < end; p++)
		if (!g_ascii_isalnum(*p) && strchr("-_.:", *p) == NULL)
			return NULL;
	label = g_ascii_strdown(start, end - start);
	return label;
}

/* Single-byte charsets, where valid multi-byte UTF-8 is almost surely a
 * wrong label rather than a coincidence. */
static bool label_is_single_byte(const char *label)
{
	return g_str_has_prefix(label, "iso-8859-") || g_str_has_prefix(label, "iso8859-") ||
	       g_str_has_prefix(label, "iso_8859-") || g_str_has_prefix(label, "windows-125") ||
	       g_str_has_prefix(label, "cp125") || g_str_has_prefix(label, "koi8") ||
	       g_str_has_prefix(label, "latin") || strcmp(label, "us-ascii") == 0 ||
	       strcmp(label, "ascii") == 0;
}

/* True if data is valid UTF-8 and has at least one multi-byte sequence. */
static bool is_multibyte_utf8(const char *data, size_t len)
{
	bool high = false;

	for (size_t i = 0; i < len && !high; i++)
		high = (unsigned char)data[i] >= 0x80;
	return high && charset_utf8_valid(data, len);
}

/* Converts with iconv.  Invalid input bytes become U+FFFD and are
 * counted in *bad_r.  Returns NULL when iconv does not know the charset. */
static char *convert_iconv(const char *data, size_t len, const char *from, size_t *bad_r)
{
	GIConv cd;
	GString *out;
	char buf[4096];
	char *in = (char *)data, *outp;
	gsize inleft = len, outleft;
	size_t ret;

	*bad_r = 0;
	cd = g_iconv_open("UTF-8", from);
	if (cd == (GIConv)-1)
		return NULL;
	out = g_string_sized_new(len + len / 2 + 1);
	while (inleft > 0) {
		outp = buf;
		outleft = sizeof(buf);
		ret = g_iconv(cd, &in, &inleft, &outp, &outleft);
		append_without_nul(out, buf, outp - buf);
		if (ret != (size_t)-1)
			continue;
		if (errno == E2BIG)
			continue;
		/* EILSEQ, or EINVAL for a sequence cut at the end */
		g_string_append(out, "\xEF\xBF\xBD");
		(*bad_r)++;
		in++;
		inleft--;
		g_iconv(cd, NULL, NULL, NULL, NULL);
	}
	/* flush the shift state of stateful encodings (ISO-2022-JP, UTF-7) */
	outp = buf;
	outleft = sizeof(buf);
	if (g_iconv(cd, NULL, NULL, &outp, &outleft) != (size_t)-1)
		append_without_nul(out, buf, outp - buf);
	g_iconv_close(cd);
	return g_string_free(out, FALSE);
}

/* Last guard: whatever we built must be valid UTF-8. */
static char *finish_utf8(char *text)
{
	size_t len = strlen(text);
	char *valid;

	if (g_utf8_validate(text, len, NULL))
		return text;
	valid = g_utf8_make_valid(text, len);
	g_free(text);
	return valid;
}

/* The fallbacks for a missing, unknown or wrong label. */
static char *decode_unlabelled(const char *data, size_t len)
{
	GString *out;

	if (charset_utf8_valid(data, len)) {
		out = g_string_sized_new(len + 1);
		append_without_nul(out, data, len);
		return g_string_free(out, FALSE);
	}
	return decode_cp1252(data, len);
}

char *charset_to_utf8(const char *data, size_t len, const char *charset)
{
	const char *iconv_name = NULL;
	char *label, *text = NULL;
	bool cp1252 = false;
	size_t bad;

	if (data == NULL || len == 0)
		return g_strdup("");
	label = label_clean(charset);
	if (label == NULL) {
		text = decode_unlabelled(data, len);
		goto out;
	}
	if (label_is_single_byte(label) && is_multibyte_utf8(data, len)) {
		text = decode_unlabelled(data, len);
		goto out;
	}
	iconv_name = label;
	for (size_t i = 0; i < G_N_ELEMENTS(charset_aliases); i++) {
		if (strcmp(label, charset_aliases[i].label) == 0) {
			iconv_name = charset_aliases[i].iconv_name;
			cp1252 = iconv_name == NULL;
			break;
		}
	}
	if (cp1252) {
		text = decode_cp1252(data, len);
		goto out;
	}
	if (strcmp(iconv_name, "utf-8") == 0 || strcmp(iconv_name, "UTF-8") == 0) {
		text = decode_utf8_mixed(data, len);
		goto out;
	}
	text = convert_iconv(data, len, iconv_name, &bad);
	if (text == NULL) {
		/* unknown label */
		text = decode_unlabelled(data, len);
	} else if (bad > 0 && (charset_utf8_valid(data, len) || bad > len / 8)) {
		/* wrong label: UTF-8 that fits, or too much damage to keep */
		g_free(text);
		text = decode_unlabelled(data, len);
	}
out:
	g_free(label);
	return finish_utf8(text);
}
