-- 019: long values compressed with lz4.
--
-- PostgreSQL compresses a row's long values (TOAST: long bodies, event
-- texts) with pglz unless told otherwise; at saturation that was ~16 % of
-- the database's CPU per ticket. lz4 compresses several times faster at a
-- similar size (PostgreSQL 14 and later, when built with it, as Debian's
-- is). The setting is the database's, so every new session of the router,
-- gateway and workers writes lz4; values written before stay pglz, and both
-- read alike. A server without lz4, or a migration role that does not own
-- the database, keeps pglz and says so: a DBA can run the ALTER DATABASE
-- below by hand.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_settings
                   WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        RAISE NOTICE 'this PostgreSQL has no lz4: long values stay pglz-compressed';
        RETURN;
    END IF;
    EXECUTE format('ALTER DATABASE %I SET default_toast_compression = lz4', current_database());
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'not the owner of database %: long values stay pglz-compressed (ALTER DATABASE % SET default_toast_compression = lz4)',
        current_database(), current_database();
END $$;
