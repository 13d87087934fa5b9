-- 004_fk_indexes.sql - indexes behind the foreign keys that had none, so
-- that deleting a ticket or a raw message does not scan the outbox or the
-- messages table once per row.
CREATE INDEX outbox_ticket ON outbox (ticket_id);
CREATE INDEX outbox_message ON outbox (message_id);
CREATE INDEX messages_raw ON messages (raw_id);
