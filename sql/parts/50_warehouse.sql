-- The warehouse: the profiles table (partitioned by day on ts, with a
-- DEFAULT partition so that no insert ever fails for lack of a partition),
-- partition management, thin query helpers, and the psql-only ingest path
-- (the inbox table).  Reference: docs/warehouse.md.

-- ---------------------------------------------------------------- profiles
CREATE TABLE @extschema@.profiles (
    id            bigint GENERATED ALWAYS AS IDENTITY,
    ts            timestamptz NOT NULL,
    duration      interval NOT NULL DEFAULT '0',
    service       text NOT NULL,
    labels        jsonb NOT NULL DEFAULT '{}',
    profile_type  text NOT NULL,
    tree          @extschema@.stacktree NOT NULL,
    source_count  integer NOT NULL DEFAULT 1,
    CONSTRAINT profiles_labels_object CHECK (jsonb_typeof(labels) = 'object'),
    CONSTRAINT profiles_source_count_positive CHECK (source_count >= 1)
) PARTITION BY RANGE (ts);

COMMENT ON TABLE @extschema@.profiles IS
    'one row per (profile, label set); partitioned by day on ts (UTC), see docs/warehouse.md';

-- catches every row whose day has no partition of its own
CREATE TABLE @extschema@.profiles_default PARTITION OF @extschema@.profiles DEFAULT;

-- time range + service (+ type); label selectors; plain time ranges
CREATE INDEX profiles_service_type_ts_idx
    ON @extschema@.profiles (service, profile_type, ts);
CREATE INDEX profiles_labels_idx
    ON @extschema@.profiles USING gin (labels jsonb_path_ops);
CREATE INDEX profiles_ts_brin_idx
    ON @extschema@.profiles USING brin (ts);

-- pg_dump: keep user rows of extension-created tables (partitions made later
-- by ensure_partitions are ordinary tables and are dumped anyway)
SELECT pg_catalog.pg_extension_config_dump('@extschema@.profiles_default', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.profiles_id_seq', '');

-- ---------------------------------------------------------------- partitions
-- Name of the daily partition holding day d (UTC): profiles_pYYYYMMDD.
CREATE FUNCTION @extschema@.partition_name(d date)
    RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN 'profiles_p' || pg_catalog.to_char(d, 'YYYYMMDD');

-- Create the daily partition for day d (UTC) unless it exists; rows already
-- in the DEFAULT partition for that day are moved into it (PostgreSQL
-- refuses to attach a partition whose range the default partition holds
-- rows for).  Returns true if it created the partition.  Caller must own
-- stackhouse.profiles.  Not SECURITY DEFINER.
CREATE FUNCTION @extschema@.create_partition(d date)
    RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    nsp   text := '@extschema@';
    part  text := @extschema@.partition_name(d);
    lo    timestamptz := (d::timestamp AT TIME ZONE 'UTC');
    hi    timestamptz := ((d + 1)::timestamp AT TIME ZONE 'UTC');
    moved bigint;
BEGIN
    IF to_regclass(format('%I.%I', nsp, part)) IS NOT NULL THEN
        RETURN false;           -- fast path, no lock
    END IF;
    -- EXCLUSIVE on the parent waits for inserts in flight and holds new ones
    -- until we commit: an insert that had already routed a row to the
    -- DEFAULT partition would otherwise fail with "violates partition
    -- constraint" once the new partition is attached.  It also serializes
    -- partition management.  Lock order: parent, then default.
    EXECUTE format('LOCK TABLE %I.profiles IN EXCLUSIVE MODE', nsp);
    IF to_regclass(format('%I.%I', nsp, part)) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('LOCK TABLE %I.profiles_default IN ACCESS EXCLUSIVE MODE', nsp);
    EXECUTE format('CREATE TABLE %I.%I (LIKE %I.profiles INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                   nsp, part, nsp);
    EXECUTE format('WITH m AS (DELETE FROM %I.profiles_default WHERE ts >= $1 AND ts < $2 RETURNING *)
                    INSERT INTO %I.%I SELECT * FROM m', nsp, nsp, part)
        USING lo, hi;
    GET DIAGNOSTICS moved = ROW_COUNT;
    EXECUTE format('ALTER TABLE %I.profiles ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)',
                   nsp, nsp, part, lo, hi);
    IF moved > 0 THEN
        RAISE NOTICE 'stackhouse: moved % rows from profiles_default into %', moved, part;
    END IF;
    RETURN true;
END
$fn$;

-- Create daily partitions from yesterday to now() + ahead, plus one for
-- every day the DEFAULT partition holds rows for (those rows are moved).
-- Returns the number of partitions created.  Safe to call at any time and
-- concurrently with inserts; callers: the ingest CLI (--ensure-partitions),
-- the retention worker, cron.  Caller must own stackhouse.profiles.
CREATE FUNCTION @extschema@.ensure_partitions(ahead interval DEFAULT '7 days',
                                              include_default boolean DEFAULT true)
    RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    d       date;
    created integer := 0;
    first   date := ((now() AT TIME ZONE 'UTC') - interval '1 day')::date;
    last    date := ((now() + ahead) AT TIME ZONE 'UTC')::date;
BEGIN
    IF ahead IS NULL OR ahead < interval '0' OR ahead > interval '3660 days' THEN
        RAISE EXCEPTION 'stackhouse.ensure_partitions: ahead must be between 0 and 3660 days, got %', ahead
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR d IN SELECT g::date FROM generate_series(first::timestamp, last::timestamp, interval '1 day') g LOOP
        IF @extschema@.create_partition(d) THEN
            created := created + 1;
        END IF;
    END LOOP;
    IF include_default THEN
        FOR d IN SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date
                   FROM @extschema@.profiles_default ORDER BY 1 LOOP
            IF @extschema@.create_partition(d) THEN
                created := created + 1;
            END IF;
        END LOOP;
    END IF;
    RETURN created;
END
$fn$;

-- The partitions of stackhouse.profiles with their ranges and row estimates.
CREATE VIEW @extschema@.partitions AS
SELECT c.oid::regclass AS partition,
       pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS bound,
       c.reltuples::bigint AS estimated_rows,
       pg_catalog.pg_total_relation_size(c.oid) AS bytes
  FROM pg_catalog.pg_inherits i
  JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = '@extschema@.profiles'::regclass;

-- ---------------------------------------------------------------- helpers
-- The rows of one service (optionally one profile type) in [from_ts, to_ts)
-- whose labels contain selector (jsonb containment, uses the GIN index).
CREATE FUNCTION @extschema@.select_profiles(service text, from_ts timestamptz, to_ts timestamptz,
                                            selector jsonb DEFAULT '{}',
                                            profile_type text DEFAULT NULL)
    RETURNS SETOF @extschema@.profiles
    LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT * FROM @extschema@.profiles p
     WHERE p.service = select_profiles.service
       AND p.ts >= select_profiles.from_ts AND p.ts < select_profiles.to_ts
       AND p.labels @> select_profiles.selector
       AND (select_profiles.profile_type IS NULL OR p.profile_type = select_profiles.profile_type);
END;

-- merge() of those rows: one tree for a time range and label selector.
CREATE FUNCTION @extschema@.merged_profile(service text, from_ts timestamptz, to_ts timestamptz,
                                           selector jsonb DEFAULT '{}',
                                           profile_type text DEFAULT NULL)
    RETURNS @extschema@.stacktree
    LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT @extschema@.merge(p.tree) FROM @extschema@.profiles p
     WHERE p.service = merged_profile.service
       AND p.ts >= merged_profile.from_ts AND p.ts < merged_profile.to_ts
       AND p.labels @> merged_profile.selector
       AND (merged_profile.profile_type IS NULL OR p.profile_type = merged_profile.profile_type);
END;

-- ---------------------------------------------------------------- decoding
-- Decode profile bytes (pprof gzipped or raw, or folded stacks, detected by
-- content) into the rows the ingest paths store: one per distinct
-- combination of the split_keys sample labels.  split_keys NULL = every
-- string label key the profile's samples use; '{}' = no split.  ts/duration
-- are NULL when the profile does not carry them.  source_name, if given,
-- is named in the context of any error (e.g. the file name).
CREATE FUNCTION @extschema@.decode_profile(data bytea, split_keys text[] DEFAULT NULL,
                                           source_name text DEFAULT NULL)
    RETURNS TABLE (ts timestamptz, duration interval, profile_type text,
                   labels jsonb, tree @extschema@.stacktree)
    AS 'MODULE_PATHNAME', 'stackhouse_decode_profile'
    LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 4;

-- pprof bytes split by sample labels: (labels, tree) per label set.
CREATE FUNCTION @extschema@.pprof_split(data bytea, keys text[] DEFAULT NULL)
    RETURNS TABLE (labels jsonb, tree @extschema@.stacktree)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT d.labels, d.tree FROM @extschema@.decode_profile(pprof_split.data, pprof_split.keys) d;
END;

-- ---------------------------------------------------------------- inbox
-- The psql-only ingest path: COPY (or INSERT) rows into stackhouse.inbox;
-- a BEFORE INSERT trigger decodes each one into stackhouse.profiles rows in
-- the same statement and stores nothing in the inbox itself.  A row that
-- does not decode fails the statement with an error naming the row's name.
CREATE TABLE @extschema@.inbox (
    name          text,                       -- file name, for error messages
    service       text NOT NULL,
    labels        jsonb NOT NULL DEFAULT '{}',-- override the profile's own labels
    data          bytea NOT NULL,             -- pprof (gzipped or raw) or folded stacks
    ts            timestamptz,                -- NULL: the profile's time, else now()
    duration      interval,                   -- NULL: the profile's duration, else 0
    profile_type  text,                       -- NULL: derived from the sample types
    split_keys    text[]                      -- NULL: all string label keys; '{}': none
);

COMMENT ON TABLE @extschema@.inbox IS
    'COPY profiles here (psql-only ingest); rows are decoded into stackhouse.profiles on insert and never stored';

CREATE FUNCTION @extschema@.inbox_insert()
    RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NEW.labels IS NULL OR jsonb_typeof(NEW.labels) <> 'object' THEN
        RAISE EXCEPTION 'stackhouse inbox: labels of "%" must be a JSON object', coalesce(NEW.name, '(unnamed)')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO @extschema@.profiles (ts, duration, service, labels, profile_type, tree, source_count)
    SELECT coalesce(NEW.ts, d.ts, now()),
           coalesce(NEW.duration, d.duration, interval '0'),
           NEW.service,
           d.labels || NEW.labels,
           coalesce(NEW.profile_type, d.profile_type),
           d.tree, 1
      FROM @extschema@.decode_profile(NEW.data, NEW.split_keys,
                                      coalesce(NEW.name, '(unnamed inbox row)')) d;
    RETURN NULL;                -- nothing is kept in the inbox
END
$fn$;

CREATE TRIGGER inbox_insert BEFORE INSERT ON @extschema@.inbox
    FOR EACH ROW EXECUTE FUNCTION @extschema@.inbox_insert();
