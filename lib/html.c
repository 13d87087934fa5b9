/*
 * html.c - html_to_text(): a small renderer of mail HTML to readable plain
 * text, part of the message module (contract in message.h).
 *
 * It is not an HTML parser: one forward pass over the bytes recognises tags,
 * comments and entities well enough for what mail clients produce.  Every
 * byte is looked at a bounded number of times, so hostile input (unclosed
 * comments, quotes, tags) costs linear time; an unterminated construct ends
 * the text there.  The input is expected to be UTF-8 (charset_to_utf8 first);
 * the output is valid UTF-8 without NUL or other control characters except
 * line feeds.
 */
#include "message.h"

#include <string.h>

/* Tag and entity names we compare are short; longer ones are unknown. */
#define HTML_NAME_MAX 16

struct html_state {
	GString *out;
	unsigned pending_nl; /* line breaks owed before the next text, ≤ 2 */
	bool pending_space;  /* whitespace seen since the last text */
	bool in_head;        /* inside <head>: nothing is shown */
	bool in_pre;         /* inside <pre>: line feeds are kept */
	char *href;          /* target of the open <a>, or NULL */
	size_t anchor_start; /* out->len when that <a> opened */
};

static const struct {
	const char *name;
	gunichar c;
} html_entities[] = {
	{ "amp", '&' },      { "lt", '<' },        { "gt", '>' },        { "quot", '"' },
	{ "apos", '\'' },    { "nbsp", 0xA0 },     { "ensp", ' ' },      { "emsp", ' ' },
	{ "thinsp", ' ' },   { "shy", 0 },         { "zwnj", 0 },        { "zwj", 0 },
	{ "lrm", 0 },        { "rlm", 0 },         { "copy", 0xA9 },     { "reg", 0xAE },
	{ "trade", 0x2122 }, { "hellip", 0x2026 }, { "mdash", 0x2014 },  { "ndash", 0x2013 },
	{ "minus", 0x2212 }, { "lsquo", 0x2018 },  { "rsquo", 0x2019 },  { "sbquo", 0x201A },
	{ "ldquo", 0x201C }, { "rdquo", 0x201D },  { "bdquo", 0x201E },  { "laquo", 0xAB },
	{ "raquo", 0xBB },   { "lsaquo", 0x2039 }, { "rsaquo", 0x203A }, { "bull", 0x2022 },
	{ "middot", 0xB7 },  { "dagger", 0x2020 }, { "Dagger", 0x2021 }, { "euro", 0x20AC },
	{ "pound", 0xA3 },   { "yen", 0xA5 },      { "cent", 0xA2 },     { "curren", 0xA4 },
	{ "sect", 0xA7 },    { "para", 0xB6 },     { "deg", 0xB0 },      { "plusmn", 0xB1 },
	{ "times", 0xD7 },   { "divide", 0xF7 },   { "micro", 0xB5 },    { "frac12", 0xBD },
	{ "frac14", 0xBC },  { "frac34", 0xBE },   { "sup2", 0xB2 },     { "sup3", 0xB3 },
	{ "iexcl", 0xA1 },   { "iquest", 0xBF },   { "ordf", 0xAA },     { "ordm", 0xBA },
	{ "not", 0xAC },     { "larr", 0x2190 },   { "rarr", 0x2192 },   { "uarr", 0x2191 },
	{ "darr", 0x2193 },  { "check", 0x2713 },  { "Agrave", 0xC0 },   { "Aacute", 0xC1 },
	{ "Acirc", 0xC2 },   { "Atilde", 0xC3 },   { "Auml", 0xC4 },     { "Aring", 0xC5 },
	{ "AElig", 0xC6 },   { "Ccedil", 0xC7 },   { "Egrave", 0xC8 },   { "Eacute", 0xC9 },
	{ "Ecirc", 0xCA },   { "Euml", 0xCB },     { "Igrave", 0xCC },   { "Iacute", 0xCD },
	{ "Icirc", 0xCE },   { "Iuml", 0xCF },     { "ETH", 0xD0 },      { "Ntilde", 0xD1 },
	{ "Ograve", 0xD2 },  { "Oacute", 0xD3 },   { "Ocirc", 0xD4 },    { "Otilde", 0xD5 },
	{ "Ouml", 0xD6 },    { "Oslash", 0xD8 },   { "Ugrave", 0xD9 },   { "Uacute", 0xDA },
	{ "Ucirc", 0xDB },   { "Uuml", 0xDC },     { "Yacute", 0xDD },   { "THORN", 0xDE },
	{ "szlig", 0xDF },   { "agrave", 0xE0 },   { "aacute", 0xE1 },   { "acirc", 0xE2 },
	{ "atilde", 0xE3 },  { "auml", 0xE4 },     { "aring", 0xE5 },    { "aelig", 0xE6 },
	{ "ccedil", 0xE7 },  { "egrave", 0xE8 },   { "eacute", 0xE9 },   { "ecirc", 0xEA },
	{ "euml", 0xEB },    { "igrave", 0xEC },   { "iacute", 0xED },   { "icirc", 0xEE },
	{ "iuml", 0xEF },    { "eth", 0xF0 },      { "ntilde", 0xF1 },   { "ograve", 0xF2 },
	{ "oacute", 0xF3 },  { "ocirc", 0xF4 },    { "otilde", 0xF5 },   { "ouml", 0xF6 },
	{ "oslash", 0xF8 },  { "ugrave", 0xF9 },   { "uacute", 0xFA },   { "ucirc", 0xFB },
	{ "uuml", 0xFC },    { "yacute", 0xFD },   { "thorn", 0xFE },    { "yuml", 0xFF },
	{ "OElig", 0x152 },  { "oelig", 0x153 },   { "Scaron", 0x160 },  { "scaron", 0x161 },
	{ "Yuml", 0x178 },   { "Zcaron", 0x17D },  { "zcaron", 0x17E },
};

/* Elements whose content is never shown. */
static const char *const html_hidden[] = { "script", "style", "template", "xml" };
/* Elements that stand apart by a blank line, and those on a line of their own. */
static const char *const html_paragraph[] = { "p",  "h1", "h2",         "h3",  "h4",
					      "h5", "h6", "blockquote", "pre", "hr" };
static const char *const html_line[] = {
	"div",      "tr",      "li",      "ul",      "ol",     "dl",         "dt",      "dd",
	"table",    "section", "article", "header",  "footer", "nav",        "aside",   "main",
	"caption",  "title",   "option",  "address", "figure", "figcaption", "details", "summary",
	"fieldset", "legend",  "form",    "center",  "tbody",  "thead",      "tfoot",
};

static bool name_in(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return true;
	return false;
}

static bool is_html_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Writes out the line breaks or the space owed, then nothing more. */
static void flush_pending(struct html_state *st)
{
	GString *out = st->out;
	char last;

	if (out->len == 0) {
		/* leading whitespace is dropped */
	} else if (st->pending_nl > 0) {
		while (out->len > 0 && out->str[out->len - 1] == ' ')
			g_string_truncate(out, out->len - 1);
		for (unsigned i = 0; i < st->pending_nl; i++)
			g_string_append_c(out, '\n');
	} else if (st->pending_space) {
		last = out->str[out->len - 1];
		if (last != ' ' && last != '\n')
			g_string_append_c(out, ' ');
	}
	st->pending_nl = 0;
	st->pending_space = false;
}

static void emit_len(struct html_state *st, const char *s, size_t len)
{
	if (st->in_head || len == 0)
		return;
	flush_pending(st);
	g_string_append_len(st->out, s, len);
}

static void emit_unichar(struct html_state *st, gunichar c)
{
	char buf[8];

	if (c == 0xA0 || c == '\t' || c == '\n' || c == '\r' || c == ' ') {
		st->pending_space = true;
		return;
	}
	if (c == 0 || c < 0x20 || c == 0x7F)
		return;
	emit_len(st, buf, g_unichar_to_utf8(c, buf));
}

/* Asks for n line breaks (1: new line, 2: blank line) before the next text. */
static void want_break(struct html_state *st, unsigned n)
{
	if (st->in_head)
		return;
	if (n > st->pending_nl)
		st->pending_nl = n;
}

/* Decodes the character reference at p ('&'); returns the bytes used, 0 if
 * it is not one (the '&' is then literal).  *c_r = 0: decodes to nothing. */
static size_t decode_entity(const char *p, const char *end, gunichar *c_r)
{
	const char *q = p + 1;
	char name[HTML_NAME_MAX + 1];
	size_t n = 0;
	guint32 v = 0;
	bool hex, overflow = false;

	if (q < end && *q == '#') {
		q++;
		hex = q < end && (*q == 'x' || *q == 'X');
		if (hex)
			q++;
		while (q < end && (hex ? g_ascii_isxdigit(*q) : g_ascii_isdigit(*q))) {
			if (v > 0x10FFFF)
				overflow = true;
			else
				v = v * (hex ? 16 : 10) + (guint32)(hex ? g_ascii_xdigit_value(*q)
									: g_ascii_digit_value(*q));
			q++;
			n++;
		}
		if (n == 0)
			return 0;
		if (q < end && *q == ';')
			q++;
		if (v >= 0x80 && v <= 0x9F) {
			/* the HTML standard reads these as windows-1252 */
			char b = (char)v, *s = charset_to_utf8(&b, 1, "windows-1252");
			v = g_utf8_get_char(s);
			g_free(s);
		}
		if (overflow || v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
			v = 0xFFFD;
		*c_r = v;
		return q - p;
	}
	while (q < end && g_ascii_isalnum(*q) && n < HTML_NAME_MAX)
		name[n++] = *q++;
	if (n == 0 || q >= end || *q != ';')
		return 0;
	name[n] = '\0';
	for (size_t i = 0; i < G_N_ELEMENTS(html_entities); i++) {
		if (strcmp(name, html_entities[i].name) == 0) {
			*c_r = html_entities[i].c;
			return q + 1 - p;
		}
	}
	return 0;
}

/* Text between tags: whitespace collapses, entities are decoded. */
static void render_text(struct html_state *st, const char *p, const char *end)
{
	const char *run = p;
	gunichar c;
	size_t used;

	while (p < end) {
		unsigned char b = (unsigned char)*p;

		if (b == '&' || b < 0x20 || b == 0x7F ||
		    (b == 0xC2 && p + 1 < end && (unsigned char)p[1] == 0xA0)) {
			emit_len(st, run, p - run);
			if (b == '&') {
				used = decode_entity(p, end, &c);
				if (used == 0) {
					emit_len(st, "&", 1);
					used = 1;
				} else {
					emit_unichar(st, c);
				}
				p += used;
			} else if (b == 0xC2) {
				st->pending_space = true;
				p += 2;
			} else {
				if (b == '\n' && st->in_pre)
					want_break(st,
						   st->pending_nl + 1 > 2 ? 2 : st->pending_nl + 1);
				else if (is_html_space(b))
					st->pending_space = true;
				p++;
			}
			run = p;
		} else if (b == ' ') {
			emit_len(st, run, p - run);
			st->pending_space = true;
			run = ++p;
		} else {
			p++;
		}
	}
	emit_len(st, run, p - run);
}

/* Decodes entities in an attribute value and drops control characters. */
static char *decode_attribute(const char *p, const char *end)
{
	GString *out = g_string_sized_new(end - p + 1);
	char buf[8];
	gunichar c;
	size_t used;

	while (p < end) {
		if (*p == '&' && (used = decode_entity(p, end, &c)) > 0) {
			if (c >= 0x20 && c != 0x7F && c != 0xA0)
				g_string_append_len(out, buf, g_unichar_to_utf8(c, buf));
			p += used;
		} else {
			if ((unsigned char)*p >= 0x20 && *p != 0x7F)
				g_string_append_c(out, *p);
			p++;
		}
	}
	return g_strstrip(g_string_free(out, FALSE));
}

/* Strips what makes a link text and its target look different. */
static const char *link_core(const char *s, size_t *len_r)
{
	static const char *const prefixes[] = { "mailto:", "http://", "https://", "www." };
	size_t len = strlen(s);

	for (size_t i = 0; i < G_N_ELEMENTS(prefixes); i++) {
		size_t n = strlen(prefixes[i]);
		if (len >= n && g_ascii_strncasecmp(s, prefixes[i], n) == 0) {
			s += n;
			len -= n;
		}
	}
	while (len > 0 && s[len - 1] == '/')
		len--;
	*len_r = len;
	return s;
}

static bool link_differs(const char *text, const char *href)
{
	size_t tlen, hlen;
	const char *t = link_core(text, &tlen), *h = link_core(href, &hlen);

	return tlen != hlen || g_ascii_strncasecmp(t, h, tlen) != 0;
}

static void anchor_open(struct html_state *st, char *href)
{
	g_free(st->href);
	st->href = NULL;
	if (href == NULL || *href == '\0' || *href == '#' ||
	    g_ascii_strncasecmp(href, "javascript:", 11) == 0 ||
	    g_ascii_strncasecmp(href, "cid:", 4) == 0) {
		g_free(href);
		return;
	}
	st->href = href;
	st->anchor_start = st->out->len;
}

static void anchor_close(struct html_state *st)
{
	char *text;

	if (st->href == NULL)
		return;
	if (st->anchor_start > st->out->len)
		st->anchor_start = st->out->len;
	text = g_strstrip(g_strdup(st->out->str + st->anchor_start));
	if (st->in_head) {
		/* nothing is shown there */
	} else if (*text == '\0') {
		emit_len(st, "<", 1);
		g_string_append(st->out, st->href);
		g_string_append_c(st->out, '>');
	} else if (link_differs(text, st->href)) {
		g_string_append(st->out, " <");
		g_string_append(st->out, st->href);
		g_string_append_c(st->out, '>');
	}
	g_free(text);
	g_free(st->href);
	st->href = NULL;
}

/* Finds the end of a hidden element's content ("</name ...>"), case-blind.
 * Returns the byte after it, or end. */
static const char *skip_hidden(const char *p, const char *end, const char *name)
{
	size_t n = strlen(name);
	const char *lt, *gt;

	while (p < end && (lt = memchr(p, '<', end - p)) != NULL) {
		p = lt + 1;
		if ((size_t)(end - p) > n && *p == '/' &&
		    g_ascii_strncasecmp(p + 1, name, n) == 0 && !g_ascii_isalnum(p[1 + n])) {
			gt = memchr(p, '>', end - p);
			return gt == NULL ? end : gt + 1;
		}
	}
	return end;
}

/* Acts on one tag; returns where to continue after it. */
static const char *handle_tag(struct html_state *st, const char *name, bool closing,
			      bool self_closing, char *href, const char *p, const char *end)
{
	if (name_in(name, html_hidden, G_N_ELEMENTS(html_hidden))) {
		if (!closing && !self_closing)
			p = skip_hidden(p, end, name);
	} else if (strcmp(name, "head") == 0) {
		st->in_head = !closing;
	} else if (strcmp(name, "body") == 0) {
		st->in_head = false;
	} else if (strcmp(name, "br") == 0) {
		want_break(st, st->pending_nl < 2 ? st->pending_nl + 1 : 2);
	} else if (strcmp(name, "li") == 0 && !closing) {
		want_break(st, 1);
		emit_len(st, "- ", 2);
	} else if (name_in(name, html_paragraph, G_N_ELEMENTS(html_paragraph))) {
		want_break(st, 2);
		if (strcmp(name, "pre") == 0)
			st->in_pre = !closing;
	} else if (name_in(name, html_line, G_N_ELEMENTS(html_line))) {
		want_break(st, 1);
	} else if (strcmp(name, "td") == 0 || strcmp(name, "th") == 0) {
		st->pending_space = true;
	} else if (strcmp(name, "a") == 0) {
		if (closing) {
			anchor_close(st);
		} else if (st->href == NULL) {
			anchor_open(st, href);
			href = NULL;
		}
	}
	g_free(href);
	return p;
}

/* Parses the tag at p ('<').  Returns where to continue, NULL when the rest
 * of the input is an unterminated construct. */
static const char *parse_tag(struct html_state *st, const char *p, const char *end)
{
	const char *q = p + 1, *vstart, *vend, *aname;
	char name[HTML_NAME_MAX + 1];
	size_t n = 0, alen;
	bool closing = false, self_closing = false;
	char *href = NULL;

	if (q < end && (*q == '!' || *q == '?')) {
		if (end - q >= 3 && memcmp(q, "!--", 3) == 0) {
			q = memmem(q + 3, end - (q + 3), "-->", 3);
			return q == NULL ? NULL : q + 3;
		}
		q = memchr(q, '>', end - q);
		return q == NULL ? NULL : q + 1;
	}
	if (q < end && *q == '/') {
		closing = true;
		q++;
	}
	if (q >= end || !g_ascii_isalpha(*q)) {
		emit_len(st, "<", 1);
		return p + 1;
	}
	while (q < end && (g_ascii_isalnum(*q) || *q == '-' || *q == ':')) {
		if (n < HTML_NAME_MAX)
			name[n++] = g_ascii_tolower(*q);
		q++;
	}
	name[n] = '\0';
	/* attributes */
	for (;;) {
		while (q < end && (is_html_space(*q) || *q == '/')) {
			self_closing = *q == '/';
			q++;
		}
		if (q >= end)
			goto unterminated;
		if (*q == '>')
			break;
		aname = q;
		while (q < end && !is_html_space(*q) && *q != '=' && *q != '>' && *q != '/')
			q++;
		alen = q - aname;
		if (alen == 0)
			q++; /* a stray '=' */
		while (q < end && is_html_space(*q))
			q++;
		if (q >= end || *q != '=')
			continue;
		q++;
		while (q < end && is_html_space(*q))
			q++;
		if (q < end && (*q == '"' || *q == '\'')) {
			vstart = q + 1;
			vend = memchr(vstart, *q, end - vstart);
			if (vend == NULL)
				goto unterminated;
			q = vend + 1;
		} else {
			vstart = q;
			while (q < end && !is_html_space(*q) && *q != '>')
				q++;
			vend = q;
		}
		if (strcmp(name, "a") == 0 && !closing && alen == 4 &&
		    g_ascii_strncasecmp(aname, "href", 4) == 0 && href == NULL)
			href = decode_attribute(vstart, vend);
	}
	return handle_tag(st, name, closing, self_closing, href, q + 1, end);
unterminated:
	g_free(href);
	return NULL;
}

char *html_to_text(const char *html, size_t len)
{
	struct html_state st = { 0 };
	const char *p = html, *end = html + len, *lt;

	st.out = g_string_sized_new(len / 2 + 16);
	while (p != NULL && p < end) {
		lt = memchr(p, '<', end - p);
		if (lt == NULL) {
			render_text(&st, p, end);
			break;
		}
		render_text(&st, p, lt);
		p = parse_tag(&st, lt, end);
	}
	anchor_close(&st);
	g_free(st.href);
	while (st.out->len > 0 && g_ascii_isspace(st.out->str[st.out->len - 1]))
		g_string_truncate(st.out, st.out->len - 1);
	if (!g_utf8_validate(st.out->str, st.out->len, NULL)) {
		char *valid = g_utf8_make_valid(st.out->str, st.out->len);
		g_string_free(st.out, TRUE);
		return valid;
	}
	return g_string_free(st.out, FALSE);
}
