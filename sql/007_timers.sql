-- 007_timers.sql - what the timers (DESIGN §4, lib/timers.c) keep on a
-- ticket, so that every sweep is computed from timestamps and touches only
-- the tickets that are due.
--
-- escalate_from: the oldest customer message that no answer has followed
-- while the ticket is open (new, assigned, reopened); NULL when the clock
-- stands (answered, on-hold, resolved, closed).  base_priority: the
-- priority the clock started from, or the last manual change (NULL: the
-- priority itself).
-- escalate_next: when the sweep must look at the ticket again: -infinity
-- after any change (look now), infinity when its priority cannot grow.
ALTER TABLE tickets ADD COLUMN base_priority integer,
	ADD COLUMN escalate_from timestamptz,
	ADD COLUMN escalate_next timestamptz NOT NULL DEFAULT '-infinity';
-- the clock of an open ticket, as well as the old columns tell it
UPDATE tickets SET escalate_from = coalesce(last_customer_at, created)
	WHERE status IN ('new', 'assigned', 'reopened');

-- The rules each queue's tickets were last swept by ("every/step/cap"):
-- when a reload changes them, that queue's open tickets are looked at again.
ALTER TABLE queues ADD COLUMN escalation text;

-- The two sweeps' lookups; partial, so that the closed history costs
-- nothing, with the predicates the statements in lib/ticket.c spell out.
CREATE INDEX tickets_escalate_due ON tickets (escalate_next)
	WHERE escalate_from IS NOT NULL AND status IN ('new', 'assigned', 'reopened');
CREATE INDEX tickets_answered ON tickets (queue_id, last_answer_at)
	WHERE status = 'answered';
