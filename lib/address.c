/*
 * address.c - the addr-spec rule of address.h: one parser that splits an
 * address into local part and domain while checking it, and the spellings
 * built from the two parts (stored, matching, SMTP envelope).
 *
 * The parser works on octets: every non-ASCII octet of valid UTF-8 counts as
 * atext, qtext or a host name letter (RFC 6532 3.2), so UTF-8 needs no
 * special case beyond refusing invalid sequences and C1 controls up front.
 * Memory and errors as in address.h.
 */
#include "address.h"

#include "util.h"

#include <glib.h>
#include <string.h>

#define ADDRESS_MAX_LABEL 63

/* The two halves of a checked address, pointing into the input. */
struct address_parts {
	const char *local;
	size_t local_len;
	const char *domain;
	size_t domain_len;
	bool quoted;
	bool literal;
};

/* RFC 5322 atext, with UTF-8 (RFC 6532) */
static bool address_atext(unsigned char c)
{
	return g_ascii_isalnum(c) || c >= 0x80 || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* RFC 5322 qtext, with UTF-8; blanks too, since FWS may stand in a quoted
 * string ("john doe"@example.com) */
static bool address_qtext(unsigned char c)
{
	return c == ' ' || c == '\t' || (c >= 33 && c <= 126 && c != '"' && c != '\\') || c >= 0x80;
}

/* True when s[0..len) is a dot-atom: atoms of atext joined by single dots. */
static bool address_dot_atom(const char *s, size_t len, char **error_r)
{
	if (len == 0) {
		error_set(error_r, "empty local part");
		return false;
	}
	if (s[0] == '.' || s[len - 1] == '.') {
		error_set(error_r, "local part starts or ends with '.'");
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (s[i + 1] == '.') {
				error_set(error_r, "two dots in a row in the local part");
				return false;
			}
			continue;
		}
		if (c == '"') {
			error_set(error_r, "quote inside an unquoted local part");
			return false;
		}
		if (!address_atext(c)) {
			error_set(error_r, "'%c' in an unquoted local part (it would need quotes)",
				  c);
			return false;
		}
	}
	return true;
}

/* Finds the end of the quoted string at s (s[0] is '"'): the index just
 * after the closing quote, or 0 when it is not closed. */
static size_t address_quoted_end(const char *s, char **error_r)
{
	for (size_t i = 1; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"')
			return i + 1;
		if (c == '\\') {
			/* quoted-pair: any VCHAR, blank or UTF-8 may follow */
			if (s[i + 1] == '\0')
				break;
			i++;
			continue;
		}
		if (!address_qtext(c)) {
			error_set(error_r, "character 0x%02x in the quoted local part", c);
			return 0;
		}
	}
	error_set(error_r, "unbalanced quote in the local part");
	return 0;
}

/* Host name (labels of letters, digits, '-' and UTF-8) or domain literal. */
static bool address_domain_ok(const char *s, size_t len, bool *literal_r, char **error_r)
{
	size_t label = 0;

	*literal_r = false;
	if (len == 0) {
		error_set(error_r, "empty domain");
		return false;
	}
	if (s[0] == '[') {
		/* RFC 5322 domain-literal: dtext is %d33-90 / %d94-126 */
		if (len < 3 || s[len - 1] != ']') {
			error_set(error_r, "unterminated or empty domain literal");
			return false;
		}
		for (size_t i = 1; i + 1 < len; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c < 33 || c > 126 || c == '[' || c == ']' || c == '\\') {
				error_set(error_r, "character 0x%02x in the domain literal", c);
				return false;
			}
		}
		*literal_r = true;
		return true;
	}
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)s[i] : '.';
		if (c == '.') {
			if (label == 0) {
				error_set(error_r, "empty label in the domain");
				return false;
			}
			if (s[i - 1] == '-' || s[i - label] == '-') {
				error_set(error_r, "domain label starts or ends with '-'");
				return false;
			}
			label = 0;
			continue;
		}
		if (!g_ascii_isalnum(c) && c != '-' && c < 0x80) {
			if (c == '@')
				error_set(error_r, "more than one '@'");
			else
				error_set(error_r, "'%c' in the domain", c);
			return false;
		}
		if (++label > ADDRESS_MAX_LABEL) {
			error_set(error_r, "domain label longer than %d octets", ADDRESS_MAX_LABEL);
			return false;
		}
	}
	return true;
}

/* Checks the whole address and splits it. */
static int address_parse(const char *addr, struct address_parts *parts, char **error_r)
{
	size_t len, local_len;
	const char *at;

	memset(parts, 0, sizeof(*parts));
	if (addr == NULL || addr[0] == '\0') {
		error_set(error_r, "empty address");
		return -1;
	}
	len = strlen(addr);
	if (len > ADDRESS_MAX_LEN) {
		error_set(error_r, "longer than %d octets", ADDRESS_MAX_LEN);
		return -1;
	}
	if (!g_utf8_validate(addr, len, NULL)) {
		error_set(error_r, "not valid UTF-8");
		return -1;
	}
	for (const char *p = addr; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (c == '\r' || c == '\n') {
			error_set(error_r, "line break (CR or LF)");
			return -1;
		}
		if ((c < 0x20 && c != '\t') || (c >= 0x7f && c <= 0x9f)) {
			error_set(error_r, "control character 0x%02x", (unsigned)c);
			return -1;
		}
	}
	if (addr[0] == '"') {
		local_len = address_quoted_end(addr, error_r);
		if (local_len == 0)
			return -1;
		if (addr[local_len] != '@') {
			error_set(error_r, addr[local_len] == '\0'
						   ? "no '@'"
						   : "text after the quoted local part");
			return -1;
		}
		at = addr + local_len;
		parts->quoted = true;
	} else {
		at = strchr(addr, '@');
		if (at == NULL) {
			error_set(error_r, "no '@'");
			return -1;
		}
		local_len = (size_t)(at - addr);
		if (!address_dot_atom(addr, local_len, error_r))
			return -1;
	}
	parts->local = addr;
	parts->local_len = local_len;
	parts->domain = at + 1;
	parts->domain_len = strlen(at + 1);
	if (!address_domain_ok(parts->domain, parts->domain_len, &parts->literal, error_r))
		return -1;
	return 0;
}

int address_check(const char *addr, char **error_r)
{
	struct address_parts parts;

	return address_parse(addr, &parts, error_r);
}

bool address_valid(const char *addr)
{
	return address_check(addr, NULL) == 0;
}

/* The domain lower-cased (UTF-8 aware, NFC so that composed and decomposed
 * spellings of one U-label agree). */
static char *address_domain_lower(const struct address_parts *parts)
{
	char *lower = g_utf8_strdown(parts->domain, (gssize)parts->domain_len);
	char *nfc = g_utf8_normalize(lower, -1, G_NORMALIZE_NFC);

	g_free(lower);
	return nfc;
}

char *address_normalise(const char *addr)
{
	struct address_parts parts;
	char *domain, *out;

	if (address_parse(addr, &parts, NULL) < 0)
		return NULL;
	domain = address_domain_lower(&parts);
	out = g_strdup_printf("%.*s@%s", (int)parts.local_len, parts.local, domain);
	g_free(domain);
	return out;
}

/* The local part in its shortest equivalent spelling: a quoted string whose
 * content is a dot-atom loses its quotes, any other keeps them with only
 * '"' and '\' escaped. */
static char *address_local_canonical(const struct address_parts *parts)
{
	GString *content, *quoted;

	if (!parts->quoted)
		return g_strndup(parts->local, parts->local_len);
	content = g_string_sized_new(parts->local_len);
	for (size_t i = 1; i + 1 < parts->local_len; i++) {
		if (parts->local[i] == '\\')
			i++;
		g_string_append_c(content, parts->local[i]);
	}
	if (address_dot_atom(content->str, content->len, NULL))
		return g_string_free(content, FALSE);
	quoted = g_string_sized_new(content->len + 8);
	g_string_append_c(quoted, '"');
	for (size_t i = 0; i < content->len; i++) {
		if (content->str[i] == '"' || content->str[i] == '\\')
			g_string_append_c(quoted, '\\');
		g_string_append_c(quoted, content->str[i]);
	}
	g_string_append_c(quoted, '"');
	g_string_free(content, TRUE);
	return g_string_free(quoted, FALSE);
}

char *address_key(const char *addr)
{
	struct address_parts parts;
	char *local, *lower, *nfc, *domain, *out;

	if (address_parse(addr, &parts, NULL) < 0)
		return NULL;
	local = address_local_canonical(&parts);
	lower = g_utf8_strdown(local, -1);
	nfc = g_utf8_normalize(lower, -1, G_NORMALIZE_NFC);
	domain = address_domain_lower(&parts);
	out = g_strdup_printf("%s@%s", nfc, domain);
	g_free(local);
	g_free(lower);
	g_free(nfc);
	g_free(domain);
	return out;
}

char *address_envelope(const char *addr, char **error_r)
{
	struct address_parts parts;
	char *lower, *ascii, *out;

	if (address_parse(addr, &parts, error_r) < 0)
		return NULL;
	if (parts.literal)
		return g_strdup(addr);
	lower = address_domain_lower(&parts);
	ascii = g_hostname_to_ascii(lower);
	g_free(lower);
	if (ascii == NULL) {
		error_set(error_r, "domain has no A-label (IDNA) form");
		return NULL;
	}
	out = g_strdup_printf("%.*s@%s", (int)parts.local_len, parts.local, ascii);
	g_free(ascii);
	return out;
}

/* The matching key of addr with its domain as A-label, so that
 * kunde@bücher.example and kunde@xn--bcher-kva.example are one mailbox. */
static char *address_compare_key(const char *addr)
{
	char *envelope = address_envelope(addr, NULL);
	char *key = address_key(envelope != NULL ? envelope : addr);

	g_free(envelope);
	return key;
}

bool address_equal(const char *a, const char *b)
{
	char *ka, *kb;
	bool same;

	if (a == NULL || b == NULL)
		return false;
	ka = address_compare_key(a);
	kb = address_compare_key(b);
	if (ka != NULL && kb != NULL)
		same = strcmp(ka, kb) == 0;
	else
		same = g_ascii_strcasecmp(a, b) == 0;
	g_free(ka);
	g_free(kb);
	return same;
}
