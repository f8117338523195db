-- 014: the figures over a large city's month.
--
-- Each event now records what its ticket had been through by then (marks:
-- 1 returned (an approved return), 2 reopened, 4 supervised, 8 merged; the
-- router knows at the event, as it knows the deadlines in force), so the
-- history rules of migration 013 need no look-up of the ticket's earlier
-- events. Events written before have no marks (NULL) and are judged from
-- the log as before; hl_metric_marks_check lists events whose marks the log
-- does not bear out. Counters are matched by a hash join on the event's
-- kind, and rulings by a hash anti-join, not row by row.
ALTER TABLE ticket_events ADD COLUMN marks smallint;
ALTER TABLE ticket_events ALTER COLUMN marks SET DEFAULT 0;

-- The marks of history counter names (return_approved 1, reopened 2,
-- supervised 4, merged 8: HL_FIGURES_* in include/hotline/figures.h).
CREATE FUNCTION hl_metric_bits(p_names text[]) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(sum(CASE n WHEN 'return_approved' THEN 1 WHEN 'reopened' THEN 2 WHEN 'supervised' THEN 4
                                WHEN 'merged' THEN 8 END), 0)::integer
    FROM unnest(p_names) n
$$;

CREATE OR REPLACE FUNCTION hl_metric_matches(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (ticket_id bigint, at timestamptz, counter text, unit text, category text, region text,
               channel text)
LANGUAGE sql STABLE AS $$
    SELECT e.ticket_id, e.at, c.name, coalesce(e.unit, ''), t.category, coalesce(t.region, ''), t.channel
    FROM ticket_events e
    JOIN (SELECT k.kind, m.*, hl_metric_bits(m.history_any) AS any_bits, hl_metric_bits(m.history_none) AS none_bits
          FROM metric_counters m, unnest(m.kinds) k (kind)) c ON c.kind = e.kind
    JOIN tickets t ON t.id = e.ticket_id
    WHERE e.at >= p_from AND e.at < p_to
      AND hl_metric_hit(c.kinds, c.to_states, c.payload_key, c.payload_values, c.on_time, e.kind, e.to_state,
                        e.payload, e.at, e.sign_due, e.contact_due, e.reply_due, e.callback_due)
      AND (c.anonymous IS NULL OR t.anonymous = c.anonymous)
      AND (c.history_any IS NULL OR CASE WHEN e.marks IS NULL
                                         THEN hl_metric_had(e.ticket_id, t.created_at, e.seq, e.at, c.history_any)
                                         ELSE e.marks & c.any_bits <> 0 END)
      AND (c.history_none IS NULL OR NOT CASE WHEN e.marks IS NULL
                                              THEN hl_metric_had(e.ticket_id, t.created_at, e.seq, e.at, c.history_none)
                                              ELSE e.marks & c.none_bits <> 0 END)
$$;

CREATE OR REPLACE FUNCTION hl_metric_counts(p_from timestamptz, p_to timestamptz, p_unit text, p_category text,
                                            p_region text, p_channel text)
RETURNS TABLE (unit text, counter text, n bigint)
LANGUAGE sql STABLE AS $$
    SELECT m.unit, m.counter, count(*)
    FROM hl_metric_matches(p_from, p_to) m
    LEFT JOIN (SELECT DISTINCT r.ticket_id, x.counter FROM metric_rulings r, unnest(r.counters) x (counter)) r
        ON r.ticket_id = m.ticket_id AND r.counter = m.counter
    WHERE r.ticket_id IS NULL
      AND (p_unit IS NULL OR m.unit = p_unit)
      AND (p_category IS NULL OR m.category = p_category OR m.category LIKE p_category || '.%')
      AND (p_region IS NULL OR m.region = p_region)
      AND (p_channel IS NULL OR m.channel = p_channel)
    GROUP BY 1, 2
$$;

-- Events in [p_from, p_to) whose recorded marks differ from what the
-- ticket's events up to them show (none when the router is right).
CREATE FUNCTION hl_metric_marks_check(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (ticket_id bigint, seq integer, kind text, marks smallint, from_log integer)
LANGUAGE sql STABLE AS $$
    SELECT e.ticket_id, e.seq, e.kind, e.marks, x.bits
    FROM ticket_events e
    JOIN tickets t ON t.id = e.ticket_id
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(DISTINCT hl_metric_bits(ARRAY[c.name])), 0)::integer AS bits
        FROM ticket_events p
        JOIN metric_counters c ON c.name IN ('return_approved', 'reopened', 'supervised', 'merged')
            AND hl_metric_hit(c.kinds, c.to_states, c.payload_key, c.payload_values, c.on_time, p.kind,
                              p.to_state, p.payload, p.at, p.sign_due, p.contact_due, p.reply_due, p.callback_due)
        WHERE p.ticket_id = e.ticket_id AND p.seq <= e.seq AND p.at >= t.created_at AND p.at <= e.at) x
    WHERE e.at >= p_from AND e.at < p_to AND e.marks IS NOT NULL AND e.marks <> x.bits
$$;

-- Predictable latency: JIT compiling these plans cost more (1.3 s) than it
-- saved, on a day's figures and on a month's.
ALTER FUNCTION hl_metric_counts(timestamptz, timestamptz, text, text, text, text) SET jit = off;
ALTER FUNCTION hl_metric_cells(date, date, integer) SET jit = off;
ALTER FUNCTION hl_metric_ruled(timestamptz, timestamptz) SET jit = off;
