-- 018: the figures filtered by a category, region or channel.
--
-- Sealed days also keep their sums per counter, unit and one of category,
-- region or channel (as the live figures keep hl:mdc/r/h:DAY for a day
-- over): the exact figures of a long period filtered by one of those read
-- a few thousand rows a day instead of every cell. Days sealed before this
-- migration have none (dims_summed false) and are read whole until sealed
-- again.
--
-- A region filter takes the region and every region within it (a district
-- its streets, the city all of them), as a category filter takes its
-- subcategories; a code that is not in regions matches itself only.

CREATE FUNCTION hl_regions_within(p_region text) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE w (code) AS (
        SELECT p_region
        UNION
        SELECT r.code FROM regions r JOIN w ON r.parent = w.code
    )
    SELECT code FROM w
$$;

ALTER TABLE metric_days_sealed ADD COLUMN dims_summed boolean NOT NULL DEFAULT false;

CREATE TABLE metric_days_dims (
    day       date NOT NULL,
    dim       "char" NOT NULL CHECK (dim IN ('c', 'r', 'h')),  -- category, region, channel
    counter   text NOT NULL,
    unit      text NOT NULL,
    value     text NOT NULL,
    n         bigint NOT NULL,
    PRIMARY KEY (day, dim, counter, unit, value)
);

CREATE OR REPLACE FUNCTION hl_metric_seal(p_day date, p_offset_min integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    written integer;
BEGIN
    DELETE FROM metric_days WHERE day = p_day;
    DELETE FROM metric_days_units WHERE day = p_day;
    DELETE FROM metric_days_dims WHERE day = p_day;
    INSERT INTO metric_days (day, counter, unit, category, region, channel, n)
    SELECT p_day, m.counter, m.unit, m.category, m.region, m.channel, count(*)
    FROM hl_metric_matches((p_day::timestamp - make_interval(mins => p_offset_min)) AT TIME ZONE 'UTC',
                           ((p_day + 1)::timestamp - make_interval(mins => p_offset_min)) AT TIME ZONE 'UTC') m
    GROUP BY 2, 3, 4, 5, 6;
    GET DIAGNOSTICS written = ROW_COUNT;
    INSERT INTO metric_days_units (day, counter, unit, n)
    SELECT p_day, counter, unit, sum(n) FROM metric_days WHERE day = p_day GROUP BY 2, 3;
    INSERT INTO metric_days_dims (day, dim, counter, unit, value, n)
    SELECT p_day, 'c', counter, unit, category, sum(n) FROM metric_days WHERE day = p_day GROUP BY 3, 4, 5
    UNION ALL
    SELECT p_day, 'r', counter, unit, region, sum(n) FROM metric_days WHERE day = p_day GROUP BY 3, 4, 5
    UNION ALL
    SELECT p_day, 'h', counter, unit, channel, sum(n) FROM metric_days WHERE day = p_day GROUP BY 3, 4, 5;
    INSERT INTO metric_days_sealed (day, offset_min, cells, units_summed, dims_summed)
    VALUES (p_day, p_offset_min, written, true, true)
    ON CONFLICT (day) DO UPDATE SET offset_min = excluded.offset_min, cells = excluded.cells, units_summed = true,
                                    dims_summed = true, sealed_at = now();
    RETURN written;
END
$$;

-- The region filter, as in hl_metric_counts (014) and hl_metric_counts_days
-- (015) otherwise. Two branches, one of which p_region turns off: without
-- a region the query is 014's and 015's word for word (a sub-plan in its
-- WHERE changed the generic plan's estimates, and PostgreSQL then joined
-- every event to its ticket by index: a large city's month went from 4 to
-- over 10 minutes); with one, the regions within it are read once and
-- hashed.
CREATE OR REPLACE FUNCTION hl_metric_counts(p_from timestamptz, p_to timestamptz, p_unit text, p_category text,
                                            p_region text, p_channel text)
RETURNS TABLE (unit text, counter text, n bigint)
LANGUAGE sql STABLE AS $$
    SELECT m.unit, m.counter, count(*)
    FROM hl_metric_matches(p_from, p_to) m
    LEFT JOIN (SELECT DISTINCT r.ticket_id, x.counter FROM metric_rulings r, unnest(r.counters) x (counter)) r
        ON r.ticket_id = m.ticket_id AND r.counter = m.counter
    WHERE r.ticket_id IS NULL AND p_region IS NULL
      AND (p_unit IS NULL OR m.unit = p_unit)
      AND (p_category IS NULL OR m.category = p_category OR m.category LIKE p_category || '.%')
      AND (p_region IS NULL OR m.region = p_region)
      AND (p_channel IS NULL OR m.channel = p_channel)
    GROUP BY 1, 2
    UNION ALL
    SELECT m.unit, m.counter, count(*)
    FROM hl_metric_matches(p_from, p_to) m
    LEFT JOIN (SELECT DISTINCT r.ticket_id, x.counter FROM metric_rulings r, unnest(r.counters) x (counter)) r
        ON r.ticket_id = m.ticket_id AND r.counter = m.counter
    WHERE r.ticket_id IS NULL AND p_region IS NOT NULL
      AND (p_unit IS NULL OR m.unit = p_unit)
      AND (p_category IS NULL OR m.category = p_category OR m.category LIKE p_category || '.%')
      AND m.region IN (SELECT hl_regions_within(p_region))
      AND (p_channel IS NULL OR m.channel = p_channel)
    GROUP BY 1, 2
$$;

CREATE OR REPLACE FUNCTION hl_metric_counts_days(p_from timestamptz, p_to timestamptz, p_offset_min integer,
                                                 p_unit text, p_category text, p_region text, p_channel text)
RETURNS TABLE (day date, unit text, counter text, n bigint)
LANGUAGE sql STABLE AS $$
    SELECT (m.at AT TIME ZONE 'UTC' + make_interval(mins => p_offset_min))::date, m.unit, m.counter, count(*)
    FROM hl_metric_matches(p_from, p_to) m
    LEFT JOIN (SELECT DISTINCT r.ticket_id, x.counter FROM metric_rulings r, unnest(r.counters) x (counter)) r
        ON r.ticket_id = m.ticket_id AND r.counter = m.counter
    WHERE r.ticket_id IS NULL AND p_region IS NULL
      AND (p_unit IS NULL OR m.unit = p_unit)
      AND (p_category IS NULL OR m.category = p_category OR m.category LIKE p_category || '.%')
      AND (p_region IS NULL OR m.region = p_region)
      AND (p_channel IS NULL OR m.channel = p_channel)
    GROUP BY 1, 2, 3
    UNION ALL
    SELECT (m.at AT TIME ZONE 'UTC' + make_interval(mins => p_offset_min))::date, m.unit, m.counter, count(*)
    FROM hl_metric_matches(p_from, p_to) m
    LEFT JOIN (SELECT DISTINCT r.ticket_id, x.counter FROM metric_rulings r, unnest(r.counters) x (counter)) r
        ON r.ticket_id = m.ticket_id AND r.counter = m.counter
    WHERE r.ticket_id IS NULL AND p_region IS NOT NULL
      AND (p_unit IS NULL OR m.unit = p_unit)
      AND (p_category IS NULL OR m.category = p_category OR m.category LIKE p_category || '.%')
      AND m.region IN (SELECT hl_regions_within(p_region))
      AND (p_channel IS NULL OR m.channel = p_channel)
    GROUP BY 1, 2, 3
$$;

-- As hl_metric_counts_sealed (017), reading the sums per counter, unit and
-- category, region or channel of the days that have them when exactly one
-- of those filters is given, regions within as above.
CREATE OR REPLACE FUNCTION hl_metric_counts_sealed(p_from date, p_to date, p_offset_min integer, p_unit text,
                                                   p_category text, p_region text, p_channel text)
RETURNS TABLE (day date, unit text, counter text, n bigint)
LANGUAGE sql STABLE AS $$
    WITH q AS (
        SELECT p_category IS NULL AND p_region IS NULL AND p_channel IS NULL AS none,
               CASE WHEN p_region IS NULL AND p_channel IS NULL THEN 'c'
                    WHEN p_category IS NULL AND p_channel IS NULL THEN 'r'
                    WHEN p_category IS NULL AND p_region IS NULL THEN 'h' END::"char" AS dim
    )
    SELECT x.day, x.unit, x.counter, sum(x.n)::bigint
    FROM (SELECT d.day, d.unit, d.counter, d.category, d.region, d.channel, d.n
          FROM metric_days d JOIN metric_days_sealed s ON s.day = d.day AND s.offset_min = p_offset_min, q
          WHERE d.day >= p_from AND d.day < p_to
            AND NOT (s.units_summed AND q.none) AND NOT (s.dims_summed AND NOT q.none AND q.dim IS NOT NULL)
          UNION ALL
          SELECT u.day, u.unit, u.counter, '', '', '', u.n
          FROM metric_days_units u JOIN metric_days_sealed s ON s.day = u.day AND s.offset_min = p_offset_min, q
          WHERE u.day >= p_from AND u.day < p_to AND s.units_summed AND q.none
          UNION ALL
          SELECT g.day, g.unit, g.counter, CASE g.dim WHEN 'c' THEN g.value ELSE '' END,
                 CASE g.dim WHEN 'r' THEN g.value ELSE '' END, CASE g.dim WHEN 'h' THEN g.value ELSE '' END, g.n
          FROM metric_days_dims g JOIN metric_days_sealed s ON s.day = g.day AND s.offset_min = p_offset_min, q
          WHERE g.day >= p_from AND g.day < p_to AND s.dims_summed AND NOT q.none AND g.dim = q.dim
          UNION ALL
          SELECT r.day, r.unit, r.counter, r.category, r.region, r.channel, -r.n
          FROM hl_metric_ruled_days((p_from::timestamp - make_interval(mins => p_offset_min)) AT TIME ZONE 'UTC',
                                    (p_to::timestamp - make_interval(mins => p_offset_min)) AT TIME ZONE 'UTC',
                                    p_offset_min) r
          JOIN metric_days_sealed s ON s.day = r.day AND s.offset_min = p_offset_min) x
    WHERE (p_unit IS NULL OR x.unit = p_unit)
      AND (p_category IS NULL OR x.category = p_category OR x.category LIKE p_category || '.%')
      AND (p_region IS NULL OR x.region IN (SELECT hl_regions_within(p_region)))
      AND (p_channel IS NULL OR x.channel = p_channel)
    GROUP BY 1, 2, 3
$$;
ALTER FUNCTION hl_metric_seal(date, integer) SET jit = off;
ALTER FUNCTION hl_metric_counts(timestamptz, timestamptz, text, text, text, text) SET jit = off;
ALTER FUNCTION hl_metric_counts_days(timestamptz, timestamptz, integer, text, text, text, text) SET jit = off;
ALTER FUNCTION hl_metric_counts_sealed(date, date, integer, text, text, text, text) SET jit = off;
