-- 003_outbox_order.sql - the sender claims the next due row with
-- ORDER BY next_attempt, id LIMIT 1.  With an index on next_attempt alone
-- PostgreSQL read and sorted every due row for each claim: sending N queued
-- mails cost O(N^2).  This index gives the rows in claim order.
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (next_attempt, id) WHERE status = 'pending';
