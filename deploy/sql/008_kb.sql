-- 008: the knowledge base (咨询问答知识库): entries with their full history.
--
-- One row per entry holds its current version; every insert and update is
-- copied whole into kb_versions by a trigger (who, when, what changed), so
-- the history cannot be skipped. Writers bump version with
-- `WHERE id = $1 AND version = $expected` (a concurrent edit finds no row: a
-- conflict). Only published entries inside their validity window are served;
-- gateways keep them in memory and refresh one entry on NOTIFY hotline_kb.
CREATE TABLE kb_entries (
    id            bigserial PRIMARY KEY,
    version       integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    status        text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'retired')),
    title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 512),   -- the question
    variants      text[] NOT NULL DEFAULT '{}',                           -- other phrasings of it
    answer        text NOT NULL CHECK (length(answer) BETWEEN 1 AND 20000),
    legal_basis   text NOT NULL DEFAULT '' CHECK (length(legal_basis) <= 4000),
    category      text REFERENCES categories (code),
    unit          text REFERENCES units (code),                           -- the owner
    valid_from    timestamptz,
    valid_to      timestamptz CHECK (valid_to IS NULL OR valid_from IS NULL OR valid_to > valid_from),
    review_at     date,                                                   -- next review due
    source_ticket text,                                                   -- a draft made from this ticket's reply
    import_key    text UNIQUE,                                            -- where an imported entry came from
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    updated_by    text NOT NULL,                                          -- role/name of the token, or the tool
    change        text NOT NULL CHECK (change IN ('create', 'update', 'publish', 'retire', 'import'))
);
CREATE INDEX kb_entries_unit ON kb_entries (unit, status);

CREATE TABLE kb_versions (
    entry_id      bigint NOT NULL REFERENCES kb_entries (id),
    version       integer NOT NULL,
    status        text NOT NULL,
    title         text NOT NULL,
    variants      text[] NOT NULL,
    answer        text NOT NULL,
    legal_basis   text NOT NULL,
    category      text,
    unit          text,
    valid_from    timestamptz,
    valid_to      timestamptz,
    review_at     date,
    changed_at    timestamptz NOT NULL,
    changed_by    text NOT NULL,
    change        text NOT NULL,
    PRIMARY KEY (entry_id, version)
);

CREATE FUNCTION hl_kb_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.version <> OLD.version + 1 THEN
        RAISE EXCEPTION 'kb_entries: version must go up by one (% -> %)', OLD.version, NEW.version;
    END IF;
    INSERT INTO kb_versions VALUES (NEW.id, NEW.version, NEW.status, NEW.title, NEW.variants, NEW.answer,
        NEW.legal_basis, NEW.category, NEW.unit, NEW.valid_from, NEW.valid_to, NEW.review_at, NEW.updated_at,
        NEW.updated_by, NEW.change);
    PERFORM pg_notify('hotline_kb', NEW.id::text);
    RETURN NULL;
END $$;
CREATE TRIGGER kb_entries_changed AFTER INSERT OR UPDATE ON kb_entries
    FOR EACH ROW EXECUTE FUNCTION hl_kb_changed();

-- History is never rewritten, and entries are retired, never deleted.
CREATE FUNCTION hl_kb_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%: rows are never deleted or rewritten (retire an entry instead)', TG_TABLE_NAME;
END $$;
CREATE TRIGGER kb_versions_frozen BEFORE UPDATE OR DELETE ON kb_versions
    FOR EACH ROW EXECUTE FUNCTION hl_kb_frozen();
CREATE TRIGGER kb_entries_no_delete BEFORE DELETE ON kb_entries
    FOR EACH ROW EXECUTE FUNCTION hl_kb_frozen();
