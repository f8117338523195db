-- 007: what the HTTP gateway needs.

-- Bearer tokens and Open311 api keys. Only a SHA-256 of each is kept; the
-- token itself is shown once, when `hotline-token create` makes it.
CREATE TABLE tokens (
    id          bigserial PRIMARY KEY,
    hash        text NOT NULL UNIQUE,       -- hex SHA-256 of the token
    prefix      text NOT NULL,              -- its first 8 characters, to recognise it in lists
    role        text NOT NULL CHECK (role IN ('agent', 'office', 'supervisor', 'admin', 'unit', 'open311')),
    unit        text REFERENCES units (code),
    name        text NOT NULL DEFAULT '',   -- whose it is
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    revoked_at  timestamptz,
    rate_per_s  integer CHECK (rate_per_s > 0),  -- NULL: the gateway's default
    CHECK ((role = 'unit') = (unit IS NOT NULL))
);

-- Gateways keep the valid tokens in memory and reload them on this NOTIFY.
CREATE FUNCTION hl_notify_tokens() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hotline_tokens', '');
    RETURN NULL;
END $$;
CREATE TRIGGER tokens_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tokens
    FOR EACH STATEMENT EXECUTE FUNCTION hl_notify_tokens();

-- When a ticket last changed (NULL: never since intake).
ALTER TABLE tickets ADD COLUMN updated_at timestamptz;

-- Open tickets by place and category, newest first: where an agent's new
-- call is compared with what is already being handled (duplicates, 并单).
CREATE INDEX tickets_open_place ON tickets (category, region, created_at)
    WHERE state NOT IN ('CLOSED', 'ARCHIVED', 'CLOSED_DIRECT', 'NOT_ACCEPTED', 'TRANSFERRED_OUT',
                        'WITHDRAWN', 'MERGED');
