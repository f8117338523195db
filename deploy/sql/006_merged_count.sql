-- 006: how many tickets are merged into each ticket (并单), so closing a
-- ticket looks for children to close only when it has some (the look-up by
-- parent_id cannot be pruned to a partition).
ALTER TABLE tickets ADD COLUMN merged_count integer NOT NULL DEFAULT 0;
UPDATE tickets p SET merged_count = c.n
FROM (SELECT parent_id, count(*) AS n FROM tickets WHERE state = 'MERGED' GROUP BY parent_id) c
WHERE p.id = c.parent_id;
