-- 002_lz4.sql - compress the large columns with lz4 instead of pglz: the
-- raw copy of every message, its text and its attachments are written once
-- per message on the intake's hot path, and pglz costs several times the CPU
-- of lz4 for them (mail is mostly base64 and text).  Values already stored
-- keep their compression.
ALTER TABLE raw_messages ALTER COLUMN raw SET COMPRESSION lz4;
ALTER TABLE messages ALTER COLUMN body SET COMPRESSION lz4;
ALTER TABLE attachments ALTER COLUMN content SET COMPRESSION lz4;
ALTER TABLE outbox ALTER COLUMN raw SET COMPRESSION lz4;
