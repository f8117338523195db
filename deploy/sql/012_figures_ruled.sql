-- 012: what rulings take out of the live figures.
--
-- The live cells count every event; a ruling (metric_rulings) takes its
-- ticket out of some counters. Reading live figures for a period, the
-- gateway subtracts these cells: the matches of the ruled tickets' events
-- only (found through each ticket's events, not a scan of the period).
CREATE FUNCTION hl_metric_ruled(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (unit text, counter text, category text, region text, channel text, n bigint)
LANGUAGE sql STABLE AS $$
    SELECT m.unit, m.counter, m.category, m.region, m.channel, count(*)
    FROM (SELECT DISTINCT ticket_id FROM metric_rulings) r
    CROSS JOIN LATERAL (SELECT * FROM hl_metric_matches(p_from, p_to) x WHERE x.ticket_id = r.ticket_id) m
    WHERE EXISTS (SELECT 1 FROM metric_rulings q WHERE q.ticket_id = r.ticket_id AND m.counter = ANY (q.counters))
    GROUP BY 1, 2, 3, 4, 5
$$;
