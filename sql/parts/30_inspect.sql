-- Looking inside a stacktree.

CREATE FUNCTION @extschema@.total(t @extschema@.stacktree, column_name text DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'stacktree_total'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.node_count(t @extschema@.stacktree)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'stacktree_node_count'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.sample_types(t @extschema@.stacktree)
    RETURNS TABLE (idx integer, type text, unit text, is_default boolean)
    AS 'MODULE_PATHNAME', 'stacktree_sample_types'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 4;

CREATE FUNCTION @extschema@.stacks(t @extschema@.stacktree, column_name text DEFAULT NULL)
    RETURNS TABLE (frames text[], value bigint, "values" bigint[])
    AS 'MODULE_PATHNAME', 'stacktree_stacks'
    LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 1000;

CREATE FUNCTION @extschema@.top_functions(t @extschema@.stacktree, n integer DEFAULT 20,
                                          column_name text DEFAULT NULL)
    RETURNS TABLE (function text, self bigint, total bigint,
                   self_pct double precision, total_pct double precision)
    AS 'MODULE_PATHNAME', 'stacktree_top_functions'
    LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 20;

CREATE FUNCTION @extschema@.stacktree_from_pprof(data bytea, granularity text DEFAULT 'functions')
    RETURNS @extschema@.stacktree
    AS 'MODULE_PATHNAME', 'stacktree_from_pprof'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
