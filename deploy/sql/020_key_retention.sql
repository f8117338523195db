-- Idempotency keys are kept router.key_days days (30 by default), not for
-- ever: a client's retry comes within minutes, while a city's keys grow by
-- tens of millions a year and every new key descends their index. The router
-- deletes older ones at start and every hour, in chunks, with
-- hl_prune_keys. BRIN indexes find them: a few pages, as rows arrive in time
-- order, and nearly free to keep up on insert.
CREATE INDEX intake_keys_created ON intake_keys USING brin (created_at);
CREATE INDEX action_keys_created ON action_keys USING brin (created_at);

-- Deletes up to max_rows intake keys and up to max_rows action keys created
-- more than `keep` ago; returns how many rows went (call again while it
-- returns max_rows or more). Rows another session holds are skipped.
CREATE FUNCTION hl_prune_keys(keep interval, max_rows integer)
RETURNS bigint LANGUAGE sql AS $$
    WITH i AS (
        DELETE FROM intake_keys WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM intake_keys WHERE created_at < now() - keep
            LIMIT max_rows FOR UPDATE SKIP LOCKED))
        RETURNING 1),
    a AS (
        DELETE FROM action_keys WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM action_keys WHERE created_at < now() - keep
            LIMIT max_rows FOR UPDATE SKIP LOCKED))
        RETURNING 1)
    SELECT (SELECT count(*) FROM i) + (SELECT count(*) FROM a)
$$;
