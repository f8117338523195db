-- 015: the figures by local day, for trend charts and daily reports.
--
-- hl_metric_counts and hl_metric_ruled with the local day (at p_offset_min
-- from UTC) of each event: the exact figures of a period per day and per
-- unit in one pass, and what rulings take out of each day's live cells.

CREATE FUNCTION hl_metric_counts_days(p_from timestamptz, p_to timestamptz, p_offset_min integer, p_unit text,
                                      p_category text, p_region text, p_channel text)
RETURNS TABLE (day date, unit text, counter text, n bigint)
LANGUAGE sql STABLE AS $$
    SELECT (m.at AT TIME ZONE 'UTC' + make_interval(mins => p_offset_min))::date, m.unit, m.counter, count(*)
    FROM hl_metric_matches(p_from, p_to) m
    LEFT JOIN (SELECT DISTINCT r.ticket_id, x.counter FROM metric_rulings r, unnest(r.counters) x (counter)) r
        ON r.ticket_id = m.ticket_id AND r.counter = m.counter
    WHERE r.ticket_id IS NULL
      AND (p_unit IS NULL OR m.unit = p_unit)
      AND (p_category IS NULL OR m.category = p_category OR m.category LIKE p_category || '.%')
      AND (p_region IS NULL OR m.region = p_region)
      AND (p_channel IS NULL OR m.channel = p_channel)
    GROUP BY 1, 2, 3
$$;

CREATE FUNCTION hl_metric_ruled_days(p_from timestamptz, p_to timestamptz, p_offset_min integer)
RETURNS TABLE (day date, unit text, counter text, category text, region text, channel text, n bigint)
LANGUAGE sql STABLE AS $$
    SELECT (m.at AT TIME ZONE 'UTC' + make_interval(mins => p_offset_min))::date, m.unit, m.counter, m.category,
           m.region, m.channel, count(*)
    FROM (SELECT DISTINCT ticket_id FROM metric_rulings) r
    CROSS JOIN LATERAL (SELECT * FROM hl_metric_matches(p_from, p_to) x WHERE x.ticket_id = r.ticket_id) m
    WHERE EXISTS (SELECT 1 FROM metric_rulings q WHERE q.ticket_id = r.ticket_id AND m.counter = ANY (q.counters))
    GROUP BY 1, 2, 3, 4, 5, 6
$$;

ALTER FUNCTION hl_metric_counts_days(timestamptz, timestamptz, integer, text, text, text, text) SET jit = off;
ALTER FUNCTION hl_metric_ruled_days(timestamptz, timestamptz, integer) SET jit = off;

