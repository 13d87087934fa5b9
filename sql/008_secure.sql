-- 008_secure.sql - the secure parts (DESIGN §1): the decrypted plaintext of
-- a message's encrypted sections, kept apart from its text, and the
-- signatures of incoming mail.
--
-- A message's text shows "[encrypted section N]" where its Nth encrypted
-- section was (N counts every PGP block of the text in order, PGP/MIME is
-- section 1); a block that could not be decrypted stays in the text as it
-- came.  Its plaintext is one secure part (part 0, kind 'text'); a PGP/MIME
-- section's attachments are parts 1, 2 ... of it.  Messages stay append-
-- only: "ticketctl decrypt-retry" only adds the parts that are missing.
--
-- sig_status: NULL when unsigned, else 'good', 'bad', 'unknown-key',
-- 'expired', 'revoked' or 'error' (lib/secure.c); sig_fingerprint: the
-- signing key's fingerprint as GnuPG reports it.
ALTER TABLE messages ADD COLUMN sig_status text, ADD COLUMN sig_fingerprint text;

CREATE TABLE secure_parts (
	message_id bigint NOT NULL REFERENCES messages ON DELETE CASCADE,
	section integer NOT NULL CHECK (section > 0),
	part integer NOT NULL CHECK (part >= 0),
	kind text NOT NULL CHECK (kind IN ('text', 'attachment')),
	filename text,
	content_type text NOT NULL,
	size integer NOT NULL,
	content bytea NOT NULL,
	sig_status text,
	sig_fingerprint text,
	created timestamptz NOT NULL,
	PRIMARY KEY (message_id, section, part)
);
