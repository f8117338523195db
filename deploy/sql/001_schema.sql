-- 001: core schema of the hotline system of record.
--
-- Reference data (regions, units, categories, catalogue, deadline policy,
-- calendar) is small and read into the router's memory; changes reach running
-- routers through NOTIFY hotline_reference. Tickets and their events are
-- append-heavy and partitioned by local (Asia/Shanghai) month.

-- Administrative divisions: city (1) > district/county (2) > street/town (3).
CREATE TABLE regions (
    code        text PRIMARY KEY CHECK (code ~ '^[0-9]{6,12}$'),
    name        text NOT NULL,
    parent      text REFERENCES regions (code),
    level       smallint NOT NULL CHECK (level BETWEEN 1 AND 5)
);

-- Handling units (承办单位) and the office itself.
CREATE TABLE units (
    code        text PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9_]{1,31}$'),
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('office', 'department', 'district', 'street', 'utility')),
    region      text REFERENCES regions (code),
    active      boolean NOT NULL DEFAULT true
);

-- Request categories, hierarchical dotted codes ("construction.gas").
-- keywords: phrases that refine a parent category to this one (rule layer).
CREATE TABLE categories (
    code        text PRIMARY KEY CHECK (code ~ '^[a-z]+(\.[a-z_]+)*$' AND length(code) <= 63),
    name        text NOT NULL,
    parent      text REFERENCES categories (code),
    keywords    text[] NOT NULL DEFAULT '{}'
);

-- 派单目录: category x region -> lead unit (主办) and assisting units (协办).
-- Lookup walks the region up to the city, then the category up to its parent.
CREATE TABLE catalogue (
    category        text NOT NULL REFERENCES categories (code),
    region          text NOT NULL REFERENCES regions (code),
    lead_unit       text NOT NULL REFERENCES units (code),
    assisting_units text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (category, region)
);

-- Deadline policy: (request type, urgency, region) -> limits. '*' matches any.
-- Limits are (amount, unit); unit is minutes, hours, natural_days or working_days.
CREATE TABLE deadline_policy (
    request_type     text NOT NULL DEFAULT '*',
    urgency          text NOT NULL DEFAULT '*',
    region           text NOT NULL DEFAULT '*',
    sign_limit       integer NOT NULL CHECK (sign_limit > 0),
    sign_unit        text NOT NULL,
    contact_limit    integer NOT NULL CHECK (contact_limit > 0),
    contact_unit     text NOT NULL,
    reply_limit      integer NOT NULL CHECK (reply_limit > 0),
    reply_unit       text NOT NULL,
    max_extensions   smallint NOT NULL DEFAULT 1,
    extension_limit  integer NOT NULL DEFAULT 10,
    extension_unit   text NOT NULL DEFAULT 'working_days',
    return_window    integer NOT NULL DEFAULT 2,
    return_unit      text NOT NULL DEFAULT 'working_days',
    PRIMARY KEY (request_type, urgency, region),
    CHECK (request_type IN ('*', 'consultation', 'help', 'complaint', 'report', 'suggestion', 'praise', 'other')),
    CHECK (urgency IN ('*', 'normal', 'urgent', 'critical')),
    CHECK (sign_unit IN ('minutes', 'hours', 'natural_days', 'working_days')),
    CHECK (contact_unit IN ('minutes', 'hours', 'natural_days', 'working_days')),
    CHECK (reply_unit IN ('minutes', 'hours', 'natural_days', 'working_days')),
    CHECK (extension_unit IN ('minutes', 'hours', 'natural_days', 'working_days')),
    CHECK (return_unit IN ('minutes', 'hours', 'natural_days', 'working_days'))
);

-- Working-day calendar: only the exceptions to "Monday-Friday work".
-- kind = holiday (a weekday off) or workday (a weekend make-up day, 调休上班).
-- region '*' is national; a region code adds local days.
CREATE TABLE calendar_days (
    region  text NOT NULL DEFAULT '*',
    day     date NOT NULL,
    kind    text NOT NULL CHECK (kind IN ('holiday', 'workday')),
    name    text NOT NULL DEFAULT '',
    PRIMARY KEY (region, day)
);

-- Years the calendar is complete for; deadlines beyond them fall back to the
-- weekend rule and the router logs a warning.
CREATE TABLE calendar_years (
    region  text NOT NULL DEFAULT '*',
    year    integer NOT NULL,
    source  text NOT NULL,
    PRIMARY KEY (region, year)
);

-- Ticket ids come in blocks: a router takes nextval() and owns the next
-- INCREMENT ids, so several routers never share an id.
CREATE SEQUENCE ticket_id_seq INCREMENT BY 1000 START WITH 1000;

-- Tickets. ticket_no is yyyymmdd (local date of acceptance) followed by the
-- id padded to 8 digits, so the number alone finds the partition.
CREATE TABLE tickets (
    id               bigint NOT NULL,
    created_at       timestamptz NOT NULL,
    ticket_no        text NOT NULL,
    state            text NOT NULL,
    version          integer NOT NULL DEFAULT 1,
    channel          text NOT NULL,
    request_type     text NOT NULL,
    urgency          text NOT NULL,
    category         text NOT NULL,
    confidence       real NOT NULL,
    classifier       text NOT NULL,
    unit             text,
    assisting_units  text[] NOT NULL DEFAULT '{}',
    region           text,
    title            text NOT NULL DEFAULT '',
    body             text NOT NULL,
    address          text NOT NULL DEFAULT '',
    lat              double precision,
    lon              double precision,
    anonymous        boolean NOT NULL DEFAULT false,
    confidential     boolean NOT NULL DEFAULT false,
    received_at      timestamptz NOT NULL,
    sign_due         timestamptz,
    contact_due      timestamptz,
    reply_due        timestamptz,
    idempotency_key  text NOT NULL,
    return_count     smallint NOT NULL DEFAULT 0,
    reopen_count     smallint NOT NULL DEFAULT 0,
    extension_count  smallint NOT NULL DEFAULT 0,
    supervision      smallint NOT NULL DEFAULT 0,
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

-- Append-only event log: every state change, with the deadlines in force
-- after it, so any deadline dispute can be replayed from events alone.
CREATE TABLE ticket_events (
    ticket_id    bigint NOT NULL,
    seq          integer NOT NULL,
    at           timestamptz NOT NULL,
    kind         text NOT NULL,
    from_state   text,
    to_state     text NOT NULL,
    actor_role   text NOT NULL,
    actor_unit   text,
    actor_id     text,
    reason_code  text,
    reason       text,
    unit         text,
    sign_due     timestamptz,
    contact_due  timestamptz,
    reply_due    timestamptz
) PARTITION BY RANGE (at);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, seq);

-- Personal data, kept apart from tickets; every read is logged.
CREATE TABLE pii_vault (
    ticket_id   bigint PRIMARY KEY,
    created_at  timestamptz NOT NULL,
    name        text NOT NULL DEFAULT '',
    phone       text NOT NULL DEFAULT '',
    id_number   text NOT NULL DEFAULT '',
    address     text NOT NULL DEFAULT ''
);

CREATE TABLE pii_access_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    who        text NOT NULL,
    ticket_id  bigint NOT NULL,
    fields     text[] NOT NULL,
    why        text NOT NULL
);

-- Idempotency: one row per intake key; a retried intake finds its ticket here.
-- (Tickets are partitioned, so the key cannot be unique there.)
CREATE TABLE intake_keys (
    key         text PRIMARY KEY,
    ticket_id   bigint NOT NULL,
    created_at  timestamptz NOT NULL
);

-- Outbox: one row per committed batch, deleted once every ticket of the batch
-- is in its unit stream. Rows older than a few seconds are re-sent by a sweep.
CREATE TABLE outbox (
    batch_id    bigint PRIMARY KEY,
    router      text NOT NULL,
    ticket_ids  bigint[] NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Creates the monthly partitions of tickets and ticket_events covering
-- `months` months from the local month of `start` (idempotent). Returns the
-- number of partitions created.
CREATE FUNCTION hl_ensure_partitions(start timestamptz, months integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    first_month date := date_trunc('month', start AT TIME ZONE 'Asia/Shanghai')::date;
    m           date;
    parent      text;
    part        text;
    created     integer := 0;
BEGIN
    FOR i IN 0 .. months - 1 LOOP
        m := (first_month + make_interval(months => i))::date;
        FOREACH parent IN ARRAY ARRAY['tickets', 'ticket_events'] LOOP
            part := parent || '_' || to_char(m, 'YYYYMM');
            IF to_regclass(part) IS NULL THEN
                EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                               part, parent,
                               m::timestamp AT TIME ZONE 'Asia/Shanghai',
                               (m + interval '1 month')::timestamp AT TIME ZONE 'Asia/Shanghai');
                created := created + 1;
            END IF;
        END LOOP;
    END LOOP;
    RETURN created;
END $$;

SELECT hl_ensure_partitions('2025-01-01 00:00+08', 36);

-- Reference-data changes wake the routers (LISTEN hotline_reference).
CREATE FUNCTION hl_notify_reference() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hotline_reference', TG_TABLE_NAME);
    RETURN NULL;
END $$;

CREATE TRIGGER regions_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON regions
    FOR EACH STATEMENT EXECUTE FUNCTION hl_notify_reference();
CREATE TRIGGER units_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON units
    FOR EACH STATEMENT EXECUTE FUNCTION hl_notify_reference();
CREATE TRIGGER categories_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON categories
    FOR EACH STATEMENT EXECUTE FUNCTION hl_notify_reference();
CREATE TRIGGER catalogue_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON catalogue
    FOR EACH STATEMENT EXECUTE FUNCTION hl_notify_reference();
CREATE TRIGGER deadline_policy_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON deadline_policy
    FOR EACH STATEMENT EXECUTE FUNCTION hl_notify_reference();
CREATE TRIGGER calendar_days_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON calendar_days
    FOR EACH STATEMENT EXECUTE FUNCTION hl_notify_reference();
