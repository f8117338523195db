-- 005: what the ticket lifecycle needs (router/lifecycle.c has the rules).

-- Ticket columns. A clock's start is kept so a watcher can place its
-- warnings at a share of the limit; sla_progress holds, per clock (sign,
-- contact, reply, callback: one byte each, lowest first), the last deadline
-- notice sent for the deadline in force (1 warning, 2 reminder, 3 overdue,
-- 4.. supervision level 1..); it restarts when that deadline changes.
ALTER TABLE tickets
    ADD COLUMN dispatched_at     timestamptz,
    ADD COLUMN reply_start       timestamptz,
    ADD COLUMN callback_start    timestamptz,
    ADD COLUMN callback_due      timestamptz,
    ADD COLUMN signed_at         timestamptz,
    ADD COLUMN contacted_at      timestamptz,
    ADD COLUMN replied_at        timestamptz,
    ADD COLUMN closed_at         timestamptz,
    ADD COLUMN previous_state    text,
    ADD COLUMN excluded_units    text[] NOT NULL DEFAULT '{}',
    ADD COLUMN binding           boolean NOT NULL DEFAULT false,
    ADD COLUMN parent_id         bigint,
    ADD COLUMN callback_attempts smallint NOT NULL DEFAULT 0,
    ADD COLUMN resolution        text,
    ADD COLUMN satisfaction      text,
    ADD COLUMN extension_days    integer,
    ADD COLUMN sla_progress      integer NOT NULL DEFAULT 0,
    ADD COLUMN last_seq          integer NOT NULL DEFAULT 1;

-- A unit's open tickets; merged children of a parent.
CREATE INDEX tickets_unit_open ON tickets (unit, state)
    WHERE state NOT IN ('CLOSED', 'ARCHIVED', 'CLOSED_DIRECT', 'NOT_ACCEPTED', 'TRANSFERRED_OUT',
                        'WITHDRAWN', 'MERGED');
CREATE INDEX tickets_parent ON tickets (parent_id) WHERE parent_id IS NOT NULL;

-- The details of an action (rating, reply, notice, requested extension ...),
-- and the callback deadline in force.
ALTER TABLE ticket_events ADD COLUMN payload jsonb, ADD COLUMN callback_due timestamptz;

-- Emergency transfers to 110/119/120/122 (linkage records, both ways).
CREATE TABLE emergency_linkages (
    ticket_id   bigint NOT NULL,
    service     text NOT NULL CHECK (service IN ('110', '119', '120', '122')),
    at          timestamptz NOT NULL,
    actor       text NOT NULL,
    note        text NOT NULL DEFAULT '',
    PRIMARY KEY (ticket_id, at)
);

-- Idempotent actions: a retried action with the same key gets the first
-- outcome (the ticket's state then), never a second change.
CREATE TABLE action_keys (
    key         text PRIMARY KEY,
    ticket_id   bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The lifecycle's limits, per policy row.
ALTER TABLE deadline_policy
    ADD COLUMN callback_limit    integer NOT NULL DEFAULT 3 CHECK (callback_limit > 0),
    ADD COLUMN callback_unit     text NOT NULL DEFAULT 'working_days'
        CHECK (callback_unit IN ('minutes', 'hours', 'natural_days', 'working_days')),
    ADD COLUMN max_returns       smallint NOT NULL DEFAULT 2,
    ADD COLUMN max_reopens       smallint NOT NULL DEFAULT 2,
    ADD COLUMN callback_attempts smallint NOT NULL DEFAULT 3;

-- Outbox rows of action batches (dispatches) take negative ids: intake
-- batches use their first ticket id. created_at is the earliest creation
-- time of the row's tickets (where the sweep finds them); queued_at tells its
-- age.
ALTER TABLE outbox ADD COLUMN queued_at timestamptz NOT NULL DEFAULT now();
CREATE SEQUENCE outbox_action_seq INCREMENT BY -1 START WITH -1 MINVALUE -9223372036854775807 MAXVALUE -1;
