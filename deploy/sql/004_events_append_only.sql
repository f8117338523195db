-- 004: the event log is append-only. Every deadline dispute is settled by
-- replaying events, so no statement may change or remove them. (Retention is
-- done by detaching whole monthly partitions, an administrator's act.)

CREATE FUNCTION hl_forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER ticket_events_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON ticket_events
    FOR EACH STATEMENT EXECUTE FUNCTION hl_forbid_change();
