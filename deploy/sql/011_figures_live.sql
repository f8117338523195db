-- 011: the figures counted live and checked against the event log.
--
-- The router counts every committed event in Redis as it happens (one hash
-- per local day, "hl:m:2026-11-22"; one field per counter and dimensions:
-- "counter|unit|category|region|channel", '|' inside a value written '/').
-- hl_metric_cells gives the same cells from ticket_events, so the live
-- figures can be checked and, after a loss, rebuilt. Rulings are not in the
-- cells: they apply when figures are read.

-- Every (event, counter) the definitions match in [p_from, p_to), with the
-- event's dimensions: the one place the matching rules are written in SQL
-- (router/figures.c is the other, in C).
CREATE FUNCTION hl_metric_matches(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (ticket_id bigint, at timestamptz, counter text, unit text, category text, region text,
               channel text)
LANGUAGE sql STABLE AS $$
    SELECT e.ticket_id, e.at, c.name, coalesce(e.unit, ''), t.category, coalesce(t.region, ''), t.channel
    FROM ticket_events e
    JOIN tickets t ON t.id = e.ticket_id
    JOIN metric_counters c ON e.kind = ANY (c.kinds)
        AND (c.to_states IS NULL OR e.to_state = ANY (c.to_states))
        AND (c.payload_key IS NULL OR CASE WHEN c.payload_values IS NULL THEN e.payload ? c.payload_key
                                           ELSE e.payload->>c.payload_key = ANY (c.payload_values) END)
        AND (c.on_time IS NULL OR e.at <= CASE c.on_time WHEN 'sign' THEN e.sign_due
                                                         WHEN 'contact' THEN e.contact_due
                                                         WHEN 'reply' THEN e.reply_due
                                                         ELSE e.callback_due END)
    WHERE e.at >= p_from AND e.at < p_to
$$;

CREATE OR REPLACE FUNCTION hl_metric_counts(p_from timestamptz, p_to timestamptz, p_unit text, p_category text,
                                            p_region text, p_channel text)
RETURNS TABLE (unit text, counter text, n bigint)
LANGUAGE sql STABLE AS $$
    SELECT m.unit, m.counter, count(*)
    FROM hl_metric_matches(p_from, p_to) m
    WHERE (p_unit IS NULL OR m.unit = p_unit)
      AND (p_category IS NULL OR m.category = p_category OR m.category LIKE p_category || '.%')
      AND (p_region IS NULL OR m.region = p_region)
      AND (p_channel IS NULL OR m.channel = p_channel)
      AND NOT EXISTS (SELECT 1 FROM metric_rulings r WHERE r.ticket_id = m.ticket_id AND m.counter = ANY (r.counters))
    GROUP BY 1, 2
$$;

-- The live cells of the local days [p_from, p_to) at p_offset_min from UTC.
CREATE FUNCTION hl_metric_cells(p_from date, p_to date, p_offset_min integer)
RETURNS TABLE (day date, field text, n bigint)
LANGUAGE sql STABLE AS $$
    SELECT (m.at AT TIME ZONE 'UTC' + make_interval(mins => p_offset_min))::date,
           replace(m.counter, '|', '/') || '|' || replace(m.unit, '|', '/') || '|' || replace(m.category, '|', '/')
           || '|' || replace(m.region, '|', '/') || '|' || replace(m.channel, '|', '/'),
           count(*)
    FROM hl_metric_matches((p_from::timestamp - make_interval(mins => p_offset_min)) AT TIME ZONE 'UTC',
                           (p_to::timestamp - make_interval(mins => p_offset_min)) AT TIME ZONE 'UTC') m
    GROUP BY 1, 2
$$;
