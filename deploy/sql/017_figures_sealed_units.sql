-- 017: sealed days also keep their sums per counter and unit, as the live
-- figures do (hl:mu:DAY): the exact figures of a long period without a
-- category, region or channel filter read a few hundred rows a day instead
-- of every cell (a large city's day has ~250,000). Days sealed before this
-- migration have no sums (units_summed false) and are read whole until
-- sealed again.

ALTER TABLE metric_days_sealed ADD COLUMN units_summed boolean NOT NULL DEFAULT false;

CREATE TABLE metric_days_units (
    day       date NOT NULL,
    counter   text NOT NULL,
    unit      text NOT NULL,
    n         bigint NOT NULL,
    PRIMARY KEY (day, counter, unit)
);

CREATE OR REPLACE FUNCTION hl_metric_seal(p_day date, p_offset_min integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    written integer;
BEGIN
    DELETE FROM metric_days WHERE day = p_day;
    DELETE FROM metric_days_units WHERE day = p_day;
    INSERT INTO metric_days (day, counter, unit, category, region, channel, n)
    SELECT p_day, m.counter, m.unit, m.category, m.region, m.channel, count(*)
    FROM hl_metric_matches((p_day::timestamp - make_interval(mins => p_offset_min)) AT TIME ZONE 'UTC',
                           ((p_day + 1)::timestamp - make_interval(mins => p_offset_min)) AT TIME ZONE 'UTC') m
    GROUP BY 2, 3, 4, 5, 6;
    GET DIAGNOSTICS written = ROW_COUNT;
    INSERT INTO metric_days_units (day, counter, unit, n)
    SELECT p_day, counter, unit, sum(n) FROM metric_days WHERE day = p_day GROUP BY 2, 3;
    INSERT INTO metric_days_sealed (day, offset_min, cells, units_summed) VALUES (p_day, p_offset_min, written, true)
    ON CONFLICT (day) DO UPDATE SET offset_min = excluded.offset_min, cells = excluded.cells, units_summed = true,
                                    sealed_at = now();
    RETURN written;
END
$$;

-- As hl_metric_counts_sealed (016), reading the sums per counter and unit
-- of the days that have them when no category, region or channel filter
-- asks for the cells.
CREATE OR REPLACE FUNCTION hl_metric_counts_sealed(p_from date, p_to date, p_offset_min integer, p_unit text,
                                                   p_category text, p_region text, p_channel text)
RETURNS TABLE (day date, unit text, counter text, n bigint)
LANGUAGE sql STABLE AS $$
    SELECT x.day, x.unit, x.counter, sum(x.n)::bigint
    FROM (SELECT d.day, d.unit, d.counter, d.category, d.region, d.channel, d.n
          FROM metric_days d JOIN metric_days_sealed s ON s.day = d.day AND s.offset_min = p_offset_min
          WHERE d.day >= p_from AND d.day < p_to
            AND NOT (s.units_summed AND p_category IS NULL AND p_region IS NULL AND p_channel IS NULL)
          UNION ALL
          SELECT u.day, u.unit, u.counter, '', '', '', u.n
          FROM metric_days_units u JOIN metric_days_sealed s ON s.day = u.day AND s.offset_min = p_offset_min
          WHERE u.day >= p_from AND u.day < p_to
            AND s.units_summed AND p_category IS NULL AND p_region IS NULL AND p_channel IS NULL
          UNION ALL
          SELECT r.day, r.unit, r.counter, r.category, r.region, r.channel, -r.n
          FROM hl_metric_ruled_days((p_from::timestamp - make_interval(mins => p_offset_min)) AT TIME ZONE 'UTC',
                                    (p_to::timestamp - make_interval(mins => p_offset_min)) AT TIME ZONE 'UTC',
                                    p_offset_min) r
          JOIN metric_days_sealed s ON s.day = r.day AND s.offset_min = p_offset_min) x
    WHERE (p_unit IS NULL OR x.unit = p_unit)
      AND (p_category IS NULL OR x.category = p_category OR x.category LIKE p_category || '.%')
      AND (p_region IS NULL OR x.region = p_region)
      AND (p_channel IS NULL OR x.channel = p_channel)
    GROUP BY 1, 2, 3
$$;
ALTER FUNCTION hl_metric_seal(date, integer) SET jit = off;
ALTER FUNCTION hl_metric_counts_sealed(date, date, integer, text, text, text, text) SET jit = off;
