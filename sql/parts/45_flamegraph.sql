-- Outputs people look at: Grafana flame graph rows, an interactive SVG,
-- and a gzipped pprof profile.

-- Rows in the data-frame shape of Grafana's flame graph panel (nested set:
-- depth-first pre-order, root "total" at level 0, value cumulative).
CREATE FUNCTION @extschema@.flamegraph(t @extschema@.stacktree, column_name text DEFAULT NULL)
    RETURNS TABLE (level integer, value bigint, self bigint, label text)
    AS 'MODULE_PATHNAME', 'stacktree_flamegraph'
    LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 1000;

-- The same for a diff tree: value/self = base (left), valueRight/selfRight
-- = test (right), the field names Grafana's diff flame graph reads.
CREATE FUNCTION @extschema@.flamegraph_diff(t @extschema@.stacktree)
    RETURNS TABLE (level integer, value bigint, self bigint, label text,
                   "valueRight" bigint, "selfRight" bigint)
    AS 'MODULE_PATHNAME', 'stacktree_flamegraph_diff'
    LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 1000;

CREATE FUNCTION @extschema@.flamegraph_svg(t @extschema@.stacktree, title text DEFAULT NULL,
                                           width integer DEFAULT 1200,
                                           column_name text DEFAULT NULL,
                                           min_width double precision DEFAULT 0.1)
    RETURNS text
    AS 'MODULE_PATHNAME', 'stacktree_flamegraph_svg'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.flamegraph_svg(@extschema@.stacktree, text, integer, text, double precision) IS
    'self-contained interactive SVG flame graph (a diff tree is coloured red/blue by change)';

CREATE FUNCTION @extschema@.stacktree_to_pprof(t @extschema@.stacktree)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'stacktree_to_pprof'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.stacktree_to_pprof(@extschema@.stacktree) IS
    'gzipped pprof profile (go tool pprof, speedscope) with sample types and units preserved';
