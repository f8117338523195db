-- 016: sealed days. A completed local day's figures, counted once from the
-- event log and kept: the exact figures of a long period read the sealed
-- days' rows and count only the rest from ticket_events (a month of a
-- large city is 15 M events). The router stamps every event with the time
-- it commits it, so a day that has ended gets no more events; a day can be
-- sealed again (hotline-figures seal --from DAY --to DAY) after the log was
-- corrected by hand. Rulings are not in these rows: they apply when read,
-- as for the live cells.

CREATE TABLE metric_days (
    day       date NOT NULL,
    counter   text NOT NULL,
    unit      text NOT NULL,
    category  text NOT NULL,
    region    text NOT NULL,
    channel   text NOT NULL,
    n         bigint NOT NULL,
    PRIMARY KEY (day, counter, unit, category, region, channel)
);

CREATE TABLE metric_days_sealed (
    day         date PRIMARY KEY,
    offset_min  integer NOT NULL,      -- the local time the day was counted in
    cells       integer NOT NULL,
    sealed_at   timestamptz NOT NULL DEFAULT now()
);

-- Count the local day p_day (at p_offset_min from UTC) into metric_days;
-- returns the rows written.
CREATE FUNCTION hl_metric_seal(p_day date, p_offset_min integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    written integer;
BEGIN
    DELETE FROM metric_days WHERE day = p_day;
    INSERT INTO metric_days (day, counter, unit, category, region, channel, n)
    SELECT p_day, m.counter, m.unit, m.category, m.region, m.channel, count(*)
    FROM hl_metric_matches((p_day::timestamp - make_interval(mins => p_offset_min)) AT TIME ZONE 'UTC',
                           ((p_day + 1)::timestamp - make_interval(mins => p_offset_min)) AT TIME ZONE 'UTC') m
    GROUP BY 2, 3, 4, 5, 6;
    GET DIAGNOSTICS written = ROW_COUNT;
    INSERT INTO metric_days_sealed (day, offset_min, cells) VALUES (p_day, p_offset_min, written)
    ON CONFLICT (day) DO UPDATE SET offset_min = excluded.offset_min, cells = excluded.cells, sealed_at = now();
    RETURN written;
END
$$;
ALTER FUNCTION hl_metric_seal(date, integer) SET jit = off;

-- The sealed days' figures per day, unit and counter, filtered as
-- hl_metric_counts filters, rulings taken out.
CREATE FUNCTION hl_metric_counts_sealed(p_from date, p_to date, p_offset_min integer, p_unit text,
                                        p_category text, p_region text, p_channel text)
RETURNS TABLE (day date, unit text, counter text, n bigint)
LANGUAGE sql STABLE AS $$
    SELECT x.day, x.unit, x.counter, sum(x.n)::bigint
    FROM (SELECT d.day, d.unit, d.counter, d.category, d.region, d.channel, d.n
          FROM metric_days d JOIN metric_days_sealed s ON s.day = d.day AND s.offset_min = p_offset_min
          WHERE d.day >= p_from AND d.day < p_to
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
ALTER FUNCTION hl_metric_counts_sealed(date, date, integer, text, text, text, text) SET jit = off;
