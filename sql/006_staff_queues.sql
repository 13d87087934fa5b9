-- 006_staff_queues.sql - what auto-assignment (DESIGN §4) asks of staff in
-- SQL: who is entitled to a queue (staff_queues) and who is available
-- (staff.available), both mirrored from the config by staff_sync().
CREATE TABLE staff_queues (
	staff_id integer NOT NULL REFERENCES staff ON DELETE CASCADE,
	queue_id integer NOT NULL REFERENCES queues ON DELETE CASCADE,
	-- queue first: the assignment looks up the staff of one queue
	PRIMARY KEY (queue_id, staff_id)
);
CREATE INDEX staff_queues_staff ON staff_queues (staff_id);
ALTER TABLE staff ADD COLUMN available boolean NOT NULL DEFAULT true;

-- A member's load: open tickets assigned to them.  Partial, so that a
-- million resolved and closed tickets cost nothing; the predicate is the
-- one staff_least_loaded spells out, or the planner cannot use it.
CREATE INDEX tickets_open_assignee ON tickets (assignee_id)
	WHERE status NOT IN ('resolved', 'closed');
-- "Waited longest": a member's latest assignment event, read backwards.
CREATE INDEX events_assign ON events (new, at) WHERE type = 'assign';
-- The visibility of ticketctl --as for support: their own tickets.
CREATE INDEX tickets_assignee ON tickets (assignee_id);
