-- 009: which knowledge-base answers were given, and what came of them.
--
-- An answer at first contact (close_direct) or a unit's reply may cite
-- entries: the event's payload names them (kb_entry "12,40", optionally
-- kb_version "3,1"; the router checks the form). A trigger on the event log
-- records each cited entry version that exists (without a version: the
-- last published one) as one use, so uses cannot be forgotten by a writer
-- and cost nothing for events that cite none.
CREATE TABLE kb_uses (
    ticket_id   bigint NOT NULL,
    entry_id    bigint NOT NULL REFERENCES kb_entries (id),
    version     integer NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('direct', 'reply')),
    at          timestamptz NOT NULL,
    seq         integer NOT NULL,        -- the event's
    unit        text,                    -- the replying unit (NULL: at first contact)
    PRIMARY KEY (ticket_id, seq, entry_id)
);
CREATE INDEX kb_uses_at ON kb_uses (at);

CREATE FUNCTION hl_kb_use() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Each cited entry at the version named, or (none named) the last one
    -- published; the CASEs keep a malformed number from being cast.
    INSERT INTO kb_uses (ticket_id, entry_id, version, kind, at, seq, unit)
    SELECT NEW.ticket_id, v.entry_id, v.version, CASE NEW.kind WHEN 'close_direct' THEN 'direct' ELSE 'reply' END,
           NEW.at, NEW.seq, NEW.actor_unit
    FROM unnest(string_to_array(NEW.payload->>'kb_entry', ','),
                coalesce(string_to_array(NEW.payload->>'kb_version', ','), '{}'::text[])) AS c(entry, ver)
    JOIN LATERAL (
        SELECT kv.entry_id, kv.version FROM kb_versions kv
        WHERE kv.entry_id = CASE WHEN c.entry ~ '^[1-9][0-9]{0,17}$' THEN c.entry::bigint END
          AND CASE WHEN c.ver IS NULL THEN kv.status = 'published'
                   WHEN c.ver ~ '^[1-9][0-9]{0,8}$' THEN kv.version = c.ver::integer
                   ELSE false END
        ORDER BY kv.version DESC LIMIT 1) v ON true
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER ticket_events_kb_use AFTER INSERT ON ticket_events
    FOR EACH ROW WHEN (NEW.kind IN ('close_direct', 'reply') AND NEW.payload ? 'kb_entry')
    EXECUTE FUNCTION hl_kb_use();

-- How the answers worked, for uses in [p_from, p_to): per entry (category
-- NULL) and per ticket category (entry_id NULL). Counts are of tickets:
--   uses          tickets answered from the entry (direct + reply, once each)
--   direct        closed at first contact with it
--   replies       answered by a unit's reply citing it
--   identified    uses whose requester is known (a phone number, not anonymous):
--                 the denominator of repeats; anonymous requests are left out
--                 because who called again cannot be known
--   repeats       identified uses after which the same phone number came back
--                 with a ticket of the same category within p_window (the
--                 answer did not settle it)
--   rated, satisfied, basically, dissatisfied, resolved, unresolved
--                 the ratings of those tickets (callback or 一次一评)
CREATE FUNCTION hl_kb_effectiveness(p_from timestamptz, p_to timestamptz, p_window interval)
RETURNS TABLE (entry_id bigint, category text, uses bigint, direct bigint, replies bigint, identified bigint,
               repeats bigint, rated bigint, satisfied bigint, basically bigint, dissatisfied bigint,
               resolved bigint, unresolved bigint)
LANGUAGE sql STABLE AS $$
    WITH u AS (
        SELECT DISTINCT ON (ku.ticket_id, ku.entry_id) ku.ticket_id, ku.entry_id, ku.kind, ku.at
        FROM kb_uses ku WHERE ku.at >= p_from AND ku.at < p_to
        ORDER BY ku.ticket_id, ku.entry_id, ku.at
    ), t AS (
        SELECT u.*, tk.category, tk.created_at, tk.satisfaction, tk.resolution,
               CASE WHEN tk.anonymous THEN NULL ELSE nullif(pv.phone, '') END AS phone
        FROM u JOIN tickets tk ON tk.id = u.ticket_id
        LEFT JOIN pii_vault pv ON pv.ticket_id = u.ticket_id
    ), rep AS (
        -- uses after which the same phone came back on the same category:
        -- the vault scanned once against the uses' phones (hashed), the
        -- matches' tickets read by id, limited to the period's span
        SELECT DISTINCT t.ticket_id, t.entry_id
        FROM t JOIN pii_vault lp ON lp.phone = t.phone
        JOIN tickets l ON l.id = lp.ticket_id AND l.category = t.category
        WHERE l.id <> t.ticket_id AND NOT l.anonymous
          AND l.created_at > t.at AND l.created_at <= t.at + p_window
          AND l.created_at > (SELECT min(at) FROM t) AND l.created_at <= (SELECT max(at) FROM t) + p_window
    ), r AS (
        SELECT t.*, rep.ticket_id IS NOT NULL AS repeated
        FROM t LEFT JOIN rep ON rep.ticket_id = t.ticket_id AND rep.entry_id = t.entry_id
    )
    SELECT r.entry_id, r.category,
           count(DISTINCT r.ticket_id),
           count(DISTINCT r.ticket_id) FILTER (WHERE r.kind = 'direct'),
           count(DISTINCT r.ticket_id) FILTER (WHERE r.kind = 'reply'),
           count(DISTINCT r.ticket_id) FILTER (WHERE r.phone IS NOT NULL),
           count(DISTINCT r.ticket_id) FILTER (WHERE r.repeated),
           count(DISTINCT r.ticket_id) FILTER (WHERE r.satisfaction IS NOT NULL),
           count(DISTINCT r.ticket_id) FILTER (WHERE r.satisfaction = 'satisfied'),
           count(DISTINCT r.ticket_id) FILTER (WHERE r.satisfaction = 'basically'),
           count(DISTINCT r.ticket_id) FILTER (WHERE r.satisfaction = 'dissatisfied'),
           count(DISTINCT r.ticket_id) FILTER (WHERE r.resolution = 'resolved'),
           count(DISTINCT r.ticket_id) FILTER (WHERE r.resolution = 'unresolved')
    FROM r
    GROUP BY GROUPING SETS ((r.entry_id), (r.category))
$$;
