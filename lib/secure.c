/*
 * secure.c - decrypt a message's encrypted sections into secure parts,
 * leave placeholders in its text, verify its signature (secure.h).
 */
#include "secure.h"
#include "util.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct secure_keys {
	char *home;
	struct pgp_passphrase *entries;
	size_t n;
	struct pgp_keyring ring;
};

/* A configured fingerprint as pgp.h compares it: no "0x", no blanks. */
static char *fpr_plain(const char *fpr)
{
	GString *s = g_string_new(NULL);

	if (fpr[0] == '0' && (fpr[1] == 'x' || fpr[1] == 'X'))
		fpr += 2;
	for (; *fpr != '\0'; fpr++)
		if (*fpr != ' ' && *fpr != '\t')
			g_string_append_c(s, g_ascii_toupper(*fpr));
	return g_string_free(s, FALSE);
}

static void add_entry(struct secure_keys *k, const char *fpr, const char *passphrase)
{
	struct pgp_passphrase *e = &k->entries[k->n++];

	e->fingerprint = fpr != NULL ? fpr_plain(fpr) : NULL;
	e->passphrase = g_strdup(passphrase);
}

struct secure_keys *secure_keys_new(const struct ticketd_config *cfg)
{
	struct secure_keys *k;

	if (cfg->gnupg_home == NULL)
		return NULL;
	k = g_new0(struct secure_keys, 1);
	k->home = g_strdup(cfg->gnupg_home);
	k->entries = g_new0(struct pgp_passphrase, cfg->queue_count + 1);
	/* each queue's own key, then the global one (or any key) */
	for (size_t i = 0; i < cfg->queue_count; i++) {
		const struct config_queue *q = &cfg->queues[i];
		const char *pass =
			q->pgp_passphrase != NULL ? q->pgp_passphrase : cfg->pgp_passphrase;
		if (q->pgp_key != NULL && pass != NULL)
			add_entry(k, q->pgp_key, pass);
	}
	if (cfg->pgp_passphrase != NULL)
		add_entry(k, cfg->pgp_key, cfg->pgp_passphrase);
	k->ring.gnupg_home = k->home;
	k->ring.passphrases = k->entries;
	k->ring.n = k->n;
	k->ring.max_plaintext = cfg->max_message_size;
	return k;
}

void secure_keys_free(struct secure_keys **keys)
{
	struct secure_keys *k = *keys;

	if (k == NULL)
		return;
	for (size_t i = 0; i < k->n; i++) {
		g_free((char *)k->entries[i].fingerprint);
		explicit_bzero((char *)k->entries[i].passphrase, strlen(k->entries[i].passphrase));
		g_free((char *)k->entries[i].passphrase);
	}
	g_free(k->entries);
	g_free(k->home);
	g_free(k);
	*keys = NULL;
}

const struct pgp_keyring *secure_keyring(const struct secure_keys *keys)
{
	return keys != NULL ? &keys->ring : NULL;
}

/* A whole fingerprint (40 or 64 hex digits once "0x" and blanks are gone). */
static bool whole_fingerprint(const char *key)
{
	char *plain = fpr_plain(key);
	size_t n = strlen(plain), hex = strspn(plain, "0123456789ABCDEF");

	g_free(plain);
	return hex == n && (n == 40 || n == 64);
}

/* Each staff member's pgp_key: in the home when it is a fingerprint. */
static void check_staff_keys(const struct ticketd_config *cfg, const struct secure_keys *keys,
			     GPtrArray *problems, GPtrArray *notes)
{
	for (size_t i = 0; i < cfg->staff_count; i++) {
		const struct config_staff *st = &cfg->staff[i];
		char *armored = NULL, *error = NULL;

		if (st->pgp_key == NULL)
			continue;
		if (!whole_fingerprint(st->pgp_key)) {
			g_ptr_array_add(notes,
					g_strdup_printf("staff %s: pgp_key %s is a key id, not "
							"a whole fingerprint: notifications "
							"to %s go without encryption",
							st->login, st->pgp_key, st->login));
			continue;
		}
		if (pgp_export_public(keys->home, st->pgp_key, &armored, &error) < 0)
			g_ptr_array_add(problems,
					g_strdup_printf("staff %s: pgp_key: %s", st->login, error));
		g_free(armored);
		g_free(error);
	}
}

GPtrArray *secure_check_keys(const struct ticketd_config *cfg, const struct secure_keys *keys,
			     GPtrArray **notes_r)
{
	GPtrArray *problems = g_ptr_array_new_with_free_func(g_free);
	char *error = NULL;

	*notes_r = g_ptr_array_new_with_free_func(g_free);

	if (keys == NULL) {
		for (size_t i = 0; i < cfg->queue_count; i++)
			if (cfg->queues[i].pgp_key != NULL)
				g_ptr_array_add(
					problems,
					g_strdup_printf("queue %s: pgp.key needs pgp.gnupg_home",
							cfg->queues[i].name));
		if (cfg->pgp_key != NULL || cfg->passphrase_file != NULL)
			g_ptr_array_add(problems, g_strdup("pgp: key and passphrase_file need "
							   "gnupg_home"));
		return problems;
	}
	struct stat st;
	if (stat(keys->home, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (st.st_uid != geteuid())
			g_ptr_array_add(
				problems,
				g_strdup_printf("pgp: gnupg_home %s belongs to uid %u, not to "
						"ticketd's user (uid %u)",
						keys->home, (unsigned)st.st_uid,
						(unsigned)geteuid()));
		if ((st.st_mode & 077) != 0)
			g_ptr_array_add(
				problems,
				g_strdup_printf("pgp: gnupg_home %s has mode %04o: others can "
						"reach ticketd's secret keys (chmod 700)",
						keys->home, (unsigned)(st.st_mode & 07777)));
	}
	if (pgp_check_key(&keys->ring, cfg->pgp_key, &error) < 0) {
		g_ptr_array_add(problems, g_strdup_printf("pgp: %s", error));
		g_clear_pointer(&error, g_free);
	}
	for (size_t i = 0; i < cfg->queue_count; i++) {
		const struct config_queue *q = &cfg->queues[i];
		if (q->pgp_key == NULL)
			continue;
		if (pgp_check_key(&keys->ring, q->pgp_key, &error) < 0) {
			g_ptr_array_add(problems,
					g_strdup_printf("queue %s: pgp: %s", q->name, error));
			g_clear_pointer(&error, g_free);
		}
	}
	check_staff_keys(cfg, keys, problems, *notes_r);
	return problems;
}

/* needle (lower-case ASCII, starting with a letter) in data, ASCII case
 * ignored: one pass. */
static bool contains_nocase(const char *data, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; i + n <= len; i++)
		if ((data[i] | 0x20) == needle[0] && g_ascii_strncasecmp(data + i, needle, n) == 0)
			return true;
	return false;
}

bool secure_looks_signed(const char *data, size_t len)
{
	return memmem(data, len, "-----BEGIN PGP SIGNED MESSAGE-----", 34) != NULL ||
	       contains_nocase(data, len, "application/pgp-signature");
}

bool secure_has_sections(const struct parsed_message *msg)
{
	return msg->encrypted->len > 0 ||
	       (msg->text != NULL && strstr(msg->text, "-----BEGIN PGP MESSAGE-----") != NULL);
}

const char *secure_sig_name(enum pgp_sig_status status)
{
	switch (status) {
	case PGP_SIG_NONE:
		return NULL;
	case PGP_SIG_GOOD:
		return "good";
	case PGP_SIG_BAD:
		return "bad";
	case PGP_SIG_UNKNOWN_KEY:
		return "unknown-key";
	case PGP_SIG_EXPIRED:
		return "expired";
	case PGP_SIG_REVOKED:
		return "revoked";
	case PGP_SIG_ERROR:
	default:
		return "error";
	}
}

static void part_free(gpointer p)
{
	struct secure_part *part = p;
	gsize len;
	const void *data = g_bytes_get_data(part->content, &len);

	/* nobody else holds the plaintext: wipe it before it goes */
	if (data != NULL && len > 0)
		explicit_bzero((void *)data, len);
	g_bytes_unref(part->content);
	g_free(part->filename);
	g_free(part->content_type);
	g_free(part->sig_fingerprint);
	g_free(part);
}

static void failure_free(gpointer p)
{
	struct secure_failure *f = p;

	g_free(f->reason);
	g_free(f);
}

void secure_message_clear(struct secure_message *sm)
{
	if (sm->parts != NULL)
		g_ptr_array_unref(sm->parts);
	if (sm->failures != NULL)
		g_ptr_array_unref(sm->failures);
	pgp_signature_clear(&sm->sig);
	memset(sm, 0, sizeof(*sm));
}

static void add_failure(struct secure_message *sm, unsigned section, enum pgp_decrypt_status status,
			const char *reason)
{
	struct secure_failure *f = g_new0(struct secure_failure, 1);

	f->section = section;
	f->status = status;
	f->reason = g_strdup(reason != NULL ? reason : pgp_decrypt_status_text(status));
	g_ptr_array_add(sm->failures, f);
}

/* A new part of section, signed as sig says; content is taken. */
static struct secure_part *add_part(struct secure_message *sm, unsigned section, bool attachment,
				    const char *filename, const char *content_type, GBytes *content,
				    const struct pgp_signature *sig)
{
	struct secure_part *p = g_new0(struct secure_part, 1);
	unsigned next = 0;

	for (guint i = 0; i < sm->parts->len; i++) {
		const struct secure_part *q = g_ptr_array_index(sm->parts, i);
		if (q->section == section && q->part >= next)
			next = q->part + 1;
	}
	p->section = section;
	p->part = next;
	p->attachment = attachment;
	p->filename = g_strdup(filename);
	p->content_type = g_strdup(content_type);
	p->content = content;
	p->sig_status = sig->status;
	if (sig->primary_fingerprint != NULL || sig->fingerprint != NULL)
		p->sig_fingerprint =
			g_strdup(sig->primary_fingerprint != NULL ? sig->primary_fingerprint
								  : sig->fingerprint);
	g_ptr_array_add(sm->parts, p);
	return p;
}

/* The plaintext of an inline block: text when it is UTF-8, else kept as
 * it came, an attachment (a binary file armored by hand). */
static void add_inline(struct secure_message *sm, unsigned section, struct pgp_decrypted *d)
{
	gsize len;
	const char *data = g_bytes_get_data(d->plaintext, &len);

	if (data == NULL)
		data = "";
	if (memchr(data, '\0', len) == NULL && g_utf8_validate(data, (gssize)len, NULL))
		add_part(sm, section, false, NULL, "text/plain; charset=utf-8",
			 g_bytes_ref(d->plaintext), &d->sig);
	else
		add_part(sm, section, true, NULL, "application/octet-stream",
			 g_bytes_ref(d->plaintext), &d->sig);
}

/* The plaintext of a PGP/MIME part: a MIME entity, parsed again; its text
 * is part 0 and each attachment in it a part of its own. */
static void add_entity(struct secure_message *sm, unsigned section, struct pgp_decrypted *d,
		       const struct message_limits *limits, const char *home,
		       struct pgp_signature *whole_sig)
{
	gsize len;
	const char *data = g_bytes_get_data(d->plaintext, &len);
	struct parsed_message *inner = NULL;
	struct pgp_signature sig = { 0 };
	const struct pgp_signature *by = &d->sig;
	char *error = NULL;

	if (data == NULL)
		data = "";
	if (message_parse_entity(data, len, limits, &inner, &error) < 0) {
		/* not MIME after all: its bytes, as an inline block's */
		g_free(error);
		add_inline(sm, section, d);
		return;
	}
	/* signed, then encrypted (a multipart/signed inside): verified here */
	if (d->sig.status == PGP_SIG_NONE && secure_looks_signed(data, len) &&
	    pgp_verify(data, len, home, &sig, &error) == 0 && sig.status != PGP_SIG_NONE)
		by = &sig;
	g_free(error);
	add_part(sm, section, false, NULL, "text/plain; charset=utf-8",
		 g_bytes_new(inner->text, strlen(inner->text)), by);
	for (guint i = 0; i < inner->attachments->len; i++) {
		const struct mail_attachment *a = g_ptr_array_index(inner->attachments, i);
		/* the detached signature is no content of its own */
		if (g_ascii_strcasecmp(a->content_type, "application/pgp-signature") == 0)
			continue;
		add_part(sm, section, true, a->filename, a->content_type, g_bytes_ref(a->data), by);
	}
	if (whole_sig != NULL) {
		/* the signature inside is the whole message's */
		whole_sig->status = by->status;
		whole_sig->fingerprint = g_strdup(by->fingerprint);
		whole_sig->primary_fingerprint = g_strdup(by->primary_fingerprint);
		whole_sig->partial = false;
	}
	pgp_signature_clear(&sig);
	message_free(&inner);
}

/* A PGP/MIME part that did not decrypt: kept as it came. */
static void keep_encrypted(struct parsed_message *msg, GBytes *payload)
{
	struct mail_attachment *a = g_new0(struct mail_attachment, 1);

	a->filename = g_strdup("encrypted.asc");
	a->content_type = g_strdup("application/pgp-encrypted");
	a->data = g_bytes_ref(payload);
	g_ptr_array_add(msg->attachments, a);
}

void secure_open(struct parsed_message *msg, const char *data, size_t len,
		 const struct secure_keys *keys, const struct message_limits *limits,
		 struct secure_message *sm)
{
	const struct pgp_keyring *ring = secure_keyring(keys);
	const char *text = msg->text != NULL ? msg->text : "";
	size_t tlen = strlen(text);
	GArray *blocks = NULL;
	GString *out = NULL;
	size_t from = 0;
	char *error = NULL;
	gint64 t0 = g_get_monotonic_time();

	memset(sm, 0, sizeof(*sm));
	sm->parts = g_ptr_array_new_with_free_func(part_free);
	sm->failures = g_ptr_array_new_with_free_func(failure_free);

	if (keys != NULL && secure_looks_signed(data, len)) {
		if (pgp_verify(data, len, keys->home, &sm->sig, &error) < 0) {
			log_warning("cannot check a signature: %s", error);
			g_clear_pointer(&error, g_free);
		} else {
			sm->sig_checked = true;
		}
	}
	if (!secure_has_sections(msg))
		goto out;

	blocks = pgp_blocks_find(text, tlen);
	out = g_string_sized_new(tlen);
	for (guint i = 0; i < blocks->len; i++) {
		const struct pgp_block *b = &g_array_index(blocks, struct pgp_block, i);
		unsigned section = ++sm->sections;
		struct pgp_decrypted d = { 0 };

		if (ring == NULL) {
			add_failure(sm, section, PGP_DECRYPT_NO_KEY,
				    "no pgp.gnupg_home configured");
			continue;
		}
		if (pgp_decrypt_block(text, tlen, b, ring, &d, &error) < 0) {
			add_failure(sm, section, PGP_DECRYPT_ERROR, error);
			g_clear_pointer(&error, g_free);
			continue;
		}
		if (d.status != PGP_DECRYPT_OK) {
			add_failure(sm, section, d.status, d.reason);
		} else {
			if (d.is_mime)
				add_entity(sm, section, &d, limits, keys->home, NULL);
			else
				add_inline(sm, section, &d);
			g_string_append_len(out, text + from, (gssize)(b->start - from));
			g_string_append_printf(out, SECURE_PLACEHOLDER_FMT, section);
			from = b->end;
		}
		pgp_decrypted_clear(&d);
	}
	g_string_append_len(out, text + from, (gssize)(tlen - from));

	/* a PGP/MIME message with nothing around it: its section is the mail */
	bool whole =
		blocks->len == 0 && msg->encrypted->len == 1 && strspn(text, " \t\r\n") == tlen;
	for (guint i = 0; i < msg->encrypted->len; i++) {
		GBytes *payload = g_ptr_array_index(msg->encrypted, i);
		unsigned section = ++sm->sections;
		struct pgp_decrypted d = { 0 };
		gsize plen;
		const void *pdata = g_bytes_get_data(payload, &plen);

		if (ring == NULL) {
			add_failure(sm, section, PGP_DECRYPT_NO_KEY,
				    "no pgp.gnupg_home configured");
			keep_encrypted(msg, payload);
			continue;
		}
		if (pgp_decrypt(pdata != NULL ? pdata : "", plen, ring, &d, &error) < 0) {
			add_failure(sm, section, PGP_DECRYPT_ERROR, error);
			g_clear_pointer(&error, g_free);
			keep_encrypted(msg, payload);
			continue;
		}
		if (d.status != PGP_DECRYPT_OK) {
			add_failure(sm, section, d.status, d.reason);
			keep_encrypted(msg, payload);
		} else {
			bool take_sig = whole && sm->sig.status == PGP_SIG_NONE;
			if (take_sig)
				pgp_signature_clear(&sm->sig);
			add_entity(sm, section, &d, limits, keys->home, take_sig ? &sm->sig : NULL);
			if (take_sig)
				sm->sig_checked = sm->sig.status != PGP_SIG_NONE;
			if (whole)
				sm->whole = section;
			if (out->len > 0 && out->str[out->len - 1] != '\n')
				g_string_append_c(out, '\n');
			g_string_append_printf(out, SECURE_PLACEHOLDER_FMT "\n", section);
		}
		pgp_decrypted_clear(&d);
	}
	g_free(msg->text);
	msg->text = g_string_free(out, FALSE);
	g_array_unref(blocks);
out:
	sm->seconds = (double)(g_get_monotonic_time() - t0) / 1e6;
}

char *secure_section_text(const struct secure_message *sm, unsigned section)
{
	for (guint i = 0; sm != NULL && i < sm->parts->len; i++) {
		const struct secure_part *p = g_ptr_array_index(sm->parts, i);
		gsize len;
		const char *data;

		if (p->section != section || p->part != 0 || p->attachment)
			continue;
		data = g_bytes_get_data(p->content, &len);
		return g_strndup(data != NULL ? data : "", len);
	}
	return NULL;
}

char *secure_section_event(const struct secure_message *sm, unsigned section, const char *msgid,
			   const char **type_r)
{
	GString *v = g_string_new(NULL);

	g_string_append_printf(v, "section %u", section);
	if (msgid != NULL)
		g_string_append_printf(v, " of <%s>", msgid);
	for (guint i = 0; i < sm->failures->len; i++) {
		const struct secure_failure *f = g_ptr_array_index(sm->failures, i);
		if (f->section == section) {
			*type_r = "decrypt-failed";
			g_string_append_printf(v, ": %s", f->reason);
			return g_string_free(v, FALSE);
		}
	}
	*type_r = "decrypted";
	for (guint i = 0; i < sm->parts->len; i++) {
		const struct secure_part *p = g_ptr_array_index(sm->parts, i);
		const char *sig = secure_sig_name(p->sig_status);
		if (p->section != section)
			continue;
		if (sig != NULL)
			g_string_append_printf(v, ", signature %s", sig);
		if (sig != NULL && p->sig_fingerprint != NULL)
			g_string_append_printf(v, " by %s", p->sig_fingerprint);
		break;
	}
	return g_string_free(v, FALSE);
}

unsigned secure_placeholder_at(const char *text, size_t pos, size_t *len_r)
{
	static const char head[] = "[encrypted section ";
	const char *p = text + pos, *q = p + sizeof(head) - 1;
	unsigned n = 0;

	for (size_t i = pos; i > 0 && text[i - 1] != '\n'; i--)
		if (text[i - 1] != ' ' && text[i - 1] != '\t')
			return 0;
	if (strncmp(p, head, sizeof(head) - 1) != 0 || !g_ascii_isdigit(*q))
		return 0;
	for (; g_ascii_isdigit(*q); q++) /* saturates at G_MAXUINT */
		n = n > (G_MAXUINT - 9) / 10 ? G_MAXUINT : n * 10 + (unsigned)(*q - '0');
	if (*q != ']')
		return 0;
	*len_r = (size_t)(q + 1 - p);
	return n;
}

char *secure_fill_placeholders(const char *text, const struct secure_message *sm)
{
	GString *out = g_string_new(NULL);
	const char *base = text != NULL ? text : "", *p = base, *hit;

	while ((hit = strstr(p, "[encrypted section ")) != NULL) {
		size_t len = 0;
		unsigned n = secure_placeholder_at(base, (size_t)(hit - base), &len);
		const struct secure_part *found = NULL;

		for (guint i = 0; n > 0 && sm != NULL && i < sm->parts->len && found == NULL; i++) {
			const struct secure_part *part = g_ptr_array_index(sm->parts, i);
			if (part->section == n && part->part == 0 && !part->attachment)
				found = part;
		}
		if (found == NULL) {
			g_string_append_len(out, p, hit + 1 - p);
			p = hit + 1;
			continue;
		}
		gsize clen;
		const char *c = g_bytes_get_data(found->content, &clen);
		g_string_append_len(out, p, hit - p);
		if (c != NULL)
			g_string_append_len(out, c, (gssize)clen);
		p = hit + len;
	}
	g_string_append(out, p);
	return g_string_free(out, FALSE);
}
