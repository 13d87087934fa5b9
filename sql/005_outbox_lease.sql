-- 005_outbox_lease.sql - a sender leases a few due rows at a time instead
-- of holding one row's lock for the length of its SMTP exchange: the
-- lease is one short transaction, and each row's outcome its own small
-- one, queued without waiting.  A leased row is left alone by other
-- senders while the lease runs (leased_until) and its holder's database
-- session (leased_by, the backend's pid) is alive: the rows of a sender
-- that died are taken again at once.
ALTER TABLE outbox ADD COLUMN leased_until timestamptz, ADD COLUMN leased_by integer;
