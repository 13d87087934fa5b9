/*
 * ticket-message.c - store messages and attachments; find the ticket a
 * Message-ID belongs to.
 */
#include "ticket-message.h"
#include "message.h"
#include "secure.h"
#include "util.h"

#include <string.h>

static const struct db_statement statements[] = {
	{ "ticket_message_insert",
	  "INSERT INTO messages (ticket_id, raw_id, direction, kind, message_id, in_reply_to, "
	  "refs, from_addr, from_name, to_addrs, cc_addrs, subject, body, created, sig_status, "
	  "sig_fingerprint) VALUES "
	  "($1, $2, $3, $4, $5, $6, $7::text[], $8, $9, $10, $11, $12, $13, $14, $15, $16)" },
	/* right after its message ($1 NULL), or on a stored one (decrypt-retry) */
	{ "ticket_secure_insert",
	  "INSERT INTO secure_parts (message_id, section, part, kind, filename, content_type, "
	  "size, content, sig_status, sig_fingerprint, created) VALUES "
	  "(COALESCE($1::bigint, currval('messages_id_seq')), $2, $3, $4, $5, $6, $7, $8, $9, "
	  "$10, $11) ON CONFLICT DO NOTHING" },
	/* right after its message, in the same session and module */
	{ "ticket_attachment_insert",
	  "INSERT INTO attachments (message_id, filename, content_type, size, content) "
	  "VALUES (currval('messages_id_seq'), $1, $2, $3, $4)" },
	{ "ticket_last_customer",
	  "SELECT message_id, array_to_string(refs, ' '), body FROM messages WHERE ticket_id = $1 "
	  "AND direction = 'in' "
	  "AND kind = 'customer' ORDER BY id DESC LIMIT 1" },
	{ "ticket_incoming_copy",
	  "SELECT ticket_id FROM messages WHERE message_id = $1 AND direction = 'in' "
	  "AND from_addr = $2 AND body = $3 LIMIT 1" },
};

enum db_status ticket_message_prepare(struct db *db, char **error_r)
{
	return db_prepare_all(db, statements, G_N_ELEMENTS(statements), error_r);
}

enum db_status ticket_message_ask_by_ids(struct db *db, GPtrArray *msgids, int *handle_r,
					 char **error_r)
{
	char *array = db_text_array(msgids);
	enum db_status st;

	/* Not a prepared statement: a generic plan made while the table was
	 * small (a scan and a sort) stayed in use as it grew, and made intake
	 * quadratic (2.3 ms a lookup after 10,000 messages).  Planned each
	 * time with the real values, it uses the message_id index; OFFSET 0
	 * keeps it from walking the whole table backwards by id instead.  The
	 * ticket is looked up by the id found (a join was planned as a hash
	 * of all tickets while the statistics were behind: 4.7 ms). */
	st = db_send_sql(db,
			 "SELECT " TICKET_INFO_COLUMNS " FROM " TICKET_INFO_FROM " WHERE t.id = "
			 "(SELECT ticket_id FROM (SELECT ticket_id, id FROM messages "
			 "WHERE message_id = ANY($1::text[]) OFFSET 0) m ORDER BY id DESC LIMIT 1)",
			 1, (const char *const[]){ array }, handle_r, error_r);
	g_free(array);
	return st;
}

enum db_status ticket_message_ask_incoming_copy(struct db *db, const char *message_id,
						const char *from_addr, const char *body,
						int *handle_r, char **error_r)
{
	return db_send(db, "ticket_incoming_copy", 3,
		       (const char *const[]){ message_id, from_addr, body }, NULL, 0, handle_r,
		       error_r);
}

enum db_status ticket_message_ask_last_customer(struct db *db, long long ticket_id, int *handle_r,
						char **error_r)
{
	char idtext[24];

	g_snprintf(idtext, sizeof(idtext), "%lld", ticket_id);
	return db_send(db, "ticket_last_customer", 1, (const char *const[]){ idtext }, NULL, 0,
		       handle_r, error_r);
}

GPtrArray *ticket_message_refs_parse(const char *text)
{
	/* a Message-ID holds no blank (RFC 5322 msg-id) */
	char **ids = g_strsplit(text, " ", -1);
	GPtrArray *refs = g_ptr_array_new_with_free_func(g_free);

	for (size_t i = 0; ids[i] != NULL; i++)
		if (ids[i][0] != '\0')
			g_ptr_array_add(refs, g_strdup(ids[i]));
	g_strfreev(ids);
	return refs;
}

bool ticket_message_last_result(struct db *db, int handle, struct ticket_message_ref *ref)
{
	PGresult *res = db_take(db, handle);
	bool found = res != NULL && PQntuples(res) == 1;

	memset(ref, 0, sizeof(*ref));
	if (found) {
		ref->message_id = PQgetisnull(res, 0, 0) ? NULL : g_strdup(PQgetvalue(res, 0, 0));
		ref->references = ticket_message_refs_parse(PQgetvalue(res, 0, 1));
		ref->body = g_strdup(PQgetvalue(res, 0, 2));
	}
	PQclear(res);
	return found;
}

void ticket_message_ref_clear(struct ticket_message_ref *ref)
{
	g_free(ref->message_id);
	if (ref->references != NULL)
		g_ptr_array_free(ref->references, TRUE);
	g_free(ref->body);
	memset(ref, 0, sizeof(*ref));
}

#define ATTACHMENT_COPY_THRESHOLD (1024 * 1024)

static enum db_status add_attachment(struct db *db, const struct mail_attachment *att,
				     char **error_r)
{
	gsize size;
	const char *data = g_bytes_get_data(att->data, &size);
	char sizetext[24], msg_id[24];
	const char *values[5] = { msg_id, att->filename, att->content_type, sizetext,
				  data != NULL ? data : "" };
	int lengths[4] = { 0, 0, 0, (int)size };
	enum db_status st;
	PGresult *res;

	g_snprintf(sizetext, sizeof(sizetext), "%zu", (size_t)size);
	if (size <= ATTACHMENT_COPY_THRESHOLD)
		return db_send(db, "ticket_attachment_insert", 4, values + 1, lengths, 1u << 3,
			       NULL, error_r);
	/* streamed: libpq would otherwise copy it whole once more */
	res = db_exec(db, "SELECT currval('messages_id_seq')", 0, NULL, &st, error_r);
	if (res == NULL)
		return st;
	g_strlcpy(msg_id, PQgetvalue(res, 0, 0), sizeof(msg_id));
	PQclear(res);
	size_t copy_lengths[5] = { 0, 0, 0, 0, size };
	return db_copy_row(db,
			   "COPY attachments (message_id, filename, content_type, size, content) "
			   "FROM STDIN",
			   5, values, copy_lengths, 1u << 4, error_r);
}

/* message_id: NULL for the message just inserted. */
static enum db_status add_secure(struct db *db, const char *message_id, const struct secure_part *p,
				 const char *now, char **error_r)
{
	gsize size;
	const char *data = g_bytes_get_data(p->content, &size);
	char section[16], part[16], sizetext[24];
	const char *values[11] = {
		message_id,
		section,
		part,
		p->attachment ? "attachment" : "text",
		p->filename,
		p->content_type,
		sizetext,
		data != NULL ? data : "",
		secure_sig_name(p->sig_status),
		p->sig_fingerprint,
		now,
	};
	int lengths[11] = { [7] = (int)size };

	g_snprintf(section, sizeof(section), "%u", p->section);
	g_snprintf(part, sizeof(part), "%u", p->part);
	g_snprintf(sizetext, sizeof(sizetext), "%zu", (size_t)size);
	return db_send(db, "ticket_secure_insert", 11, values, lengths, 1u << 7, NULL, error_r);
}

enum db_status ticket_message_add(struct db *db, const struct ticket_message *m, char **error_r)
{
	char ticket[24], raw[24];
	char *refs = db_text_array(m->references);
	enum db_status st;

	g_snprintf(ticket, sizeof(ticket), "%lld", m->ticket_id);
	g_snprintf(raw, sizeof(raw), "%lld", m->raw_id);
	st = db_send(db, "ticket_message_insert", 16,
		     (const char *const[]){
			     ticket, m->raw_id > 0 ? raw : NULL, m->direction,
			     message_kind_name(m->kind), m->message_id, m->in_reply_to, refs,
			     m->from_addr ? m->from_addr : "", m->from_name ? m->from_name : "",
			     m->to_addrs ? m->to_addrs : "", m->cc_addrs ? m->cc_addrs : "",
			     m->subject ? m->subject : "", m->body ? m->body : "", m->now,
			     m->sig_status, m->sig_fingerprint },
		     NULL, 0, NULL, error_r);
	g_free(refs);
	for (guint i = 0; st == DB_OK && m->attachments != NULL && i < m->attachments->len; i++)
		st = add_attachment(db, g_ptr_array_index(m->attachments, i), error_r);
	for (guint i = 0; st == DB_OK && m->secure_parts != NULL && i < m->secure_parts->len; i++)
		st = add_secure(db, NULL, g_ptr_array_index(m->secure_parts, i), m->now, error_r);
	return st;
}

enum db_status ticket_message_add_secure(struct db *db, long long message_id,
					 const struct secure_part *part, const char *now,
					 char **error_r)
{
	char id[24];

	g_snprintf(id, sizeof(id), "%lld", message_id);
	return add_secure(db, id, part, now, error_r);
}
