-- 001_core.sql - the model of DESIGN §1: queues, staff, tickets, messages,
-- raw messages, attachments, events, outbox.  Indexes cover every lookup
-- the intake makes (Message-ID, requestor, status/queue, mailbox identity).

CREATE TABLE queues (
	id serial PRIMARY KEY,
	name text NOT NULL UNIQUE,
	address text NOT NULL,
	is_default boolean NOT NULL DEFAULT false,
	created timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE staff (
	id serial PRIMARY KEY,
	login text NOT NULL UNIQUE,
	name text NOT NULL,
	email text NOT NULL,
	role text NOT NULL CHECK (role IN ('admin', 'support')),
	description text NOT NULL DEFAULT '',
	active boolean NOT NULL DEFAULT true
);
CREATE INDEX staff_email ON staff (lower(email));

CREATE TABLE tickets (
	id bigserial PRIMARY KEY,
	queue_id integer NOT NULL REFERENCES queues,
	subject text NOT NULL DEFAULT '',
	requestor text NOT NULL,
	requestor_name text NOT NULL DEFAULT '',
	status text NOT NULL DEFAULT 'new' CHECK (status IN
		('new', 'assigned', 'answered', 'on-hold', 'reopened', 'resolved', 'closed')),
	priority integer NOT NULL CHECK (priority BETWEEN 1 AND 99),
	assignee_id integer REFERENCES staff,
	sticky boolean NOT NULL DEFAULT false,
	origin text NOT NULL DEFAULT 'email' CHECK (origin IN ('email', 'cli')),
	created timestamptz NOT NULL,
	updated timestamptz NOT NULL,
	last_customer_at timestamptz,
	last_answer_at timestamptz,
	closed_at timestamptz
);
CREATE INDEX tickets_status_queue ON tickets (status, queue_id);
CREATE INDEX tickets_requestor ON tickets (requestor);

CREATE TABLE ticket_cc (
	ticket_id bigint NOT NULL REFERENCES tickets ON DELETE CASCADE,
	address text NOT NULL,
	PRIMARY KEY (ticket_id, address)
);

CREATE TABLE ticket_tags (
	ticket_id bigint NOT NULL REFERENCES tickets ON DELETE CASCADE,
	tag text NOT NULL,
	PRIMARY KEY (ticket_id, tag)
);

CREATE TABLE ticket_links (
	ticket_id bigint NOT NULL REFERENCES tickets ON DELETE CASCADE,
	other_id bigint NOT NULL REFERENCES tickets ON DELETE CASCADE,
	PRIMARY KEY (ticket_id, other_id)
);

-- Every incoming message exactly as it arrived.  (source, source_uid) is the
-- identity of the copy in its mailbox, so a message stored but not yet
-- removed from its mailbox (a crash between COMMIT and the move) is
-- recognised and not stored twice.
CREATE TABLE raw_messages (
	id bigserial PRIMARY KEY,
	source text NOT NULL,
	source_uid text NOT NULL,
	queue_id integer REFERENCES queues,
	received timestamptz NOT NULL,
	sha256 bytea NOT NULL,
	size integer NOT NULL,
	raw bytea NOT NULL,
	status text NOT NULL CHECK (status IN ('stored', 'duplicate', 'failed', 'retried')),
	reason text,
	header_message_id text,
	UNIQUE (source, source_uid)
);
CREATE INDEX raw_messages_failed ON raw_messages (id) WHERE status = 'failed';

CREATE TABLE messages (
	id bigserial PRIMARY KEY,
	ticket_id bigint NOT NULL REFERENCES tickets ON DELETE CASCADE,
	raw_id bigint REFERENCES raw_messages ON DELETE SET NULL,
	direction text NOT NULL CHECK (direction IN ('in', 'out')),
	kind text NOT NULL CHECK (kind IN ('customer', 'automatic', 'staff-answer', 'internal-note',
		'auto-response', 'notification', 'system')),
	message_id text,
	in_reply_to text,
	refs text[] NOT NULL DEFAULT '{}',
	from_addr text NOT NULL DEFAULT '',
	from_name text NOT NULL DEFAULT '',
	to_addrs text NOT NULL DEFAULT '',
	cc_addrs text NOT NULL DEFAULT '',
	subject text NOT NULL DEFAULT '',
	body text NOT NULL DEFAULT '',
	created timestamptz NOT NULL
);
CREATE INDEX messages_message_id ON messages (message_id);
CREATE INDEX messages_ticket ON messages (ticket_id, id);

CREATE TABLE attachments (
	id bigserial PRIMARY KEY,
	message_id bigint NOT NULL REFERENCES messages ON DELETE CASCADE,
	filename text,
	content_type text NOT NULL,
	size integer NOT NULL,
	content bytea NOT NULL
);
CREATE INDEX attachments_message ON attachments (message_id);

CREATE TABLE events (
	id bigserial PRIMARY KEY,
	ticket_id bigint NOT NULL REFERENCES tickets ON DELETE CASCADE,
	at timestamptz NOT NULL,
	actor text NOT NULL,
	type text NOT NULL,
	old text,
	new text
);
CREATE INDEX events_ticket ON events (ticket_id, id);

-- Mail to send, written in the transaction of the change that caused it.
CREATE TABLE outbox (
	id bigserial PRIMARY KEY,
	ticket_id bigint REFERENCES tickets ON DELETE CASCADE,
	message_id bigint REFERENCES messages ON DELETE CASCADE,
	kind text NOT NULL,
	envelope_from text NOT NULL,
	recipient text NOT NULL,
	raw bytea NOT NULL,
	created timestamptz NOT NULL,
	status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
	attempts integer NOT NULL DEFAULT 0,
	next_attempt timestamptz NOT NULL,
	last_error text,
	sent_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (next_attempt) WHERE status = 'pending';
-- The auto-response rate limit counts recent auto-responses per recipient.
CREATE INDEX outbox_recipient ON outbox (recipient, created) WHERE kind = 'auto-response';
