-- Diffing and filtering: functions that take trees and return trees, and
-- the fast scalar questions ("how much of this is in gzip?").
-- Regular expressions are PostgreSQL's (ARE syntax, as ~), matched against
-- frame names.

CREATE FUNCTION @extschema@.diff(base @extschema@.stacktree, test @extschema@.stacktree,
                                 column_name text DEFAULT NULL)
    RETURNS @extschema@.stacktree
    AS 'MODULE_PATHNAME', 'stacktree_diff'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.diff(@extschema@.stacktree, @extschema@.stacktree, text) IS
    'two-column (base, test) tree over the union of both trees, raw values (as pprof -diff_base)';

CREATE FUNCTION @extschema@.diff_normalized(base @extschema@.stacktree, test @extschema@.stacktree,
                                            column_name text DEFAULT NULL)
    RETURNS @extschema@.stacktree
    AS 'MODULE_PATHNAME', 'stacktree_diff_normalized'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.diff_normalized(@extschema@.stacktree, @extschema@.stacktree, text) IS
    'like diff, with the test side scaled to the base total (as pprof -normalize -diff_base)';

CREATE FUNCTION @extschema@.focus(t @extschema@.stacktree, regex text, reroot boolean DEFAULT false)
    RETURNS @extschema@.stacktree
    AS 'MODULE_PATHNAME', 'stacktree_focus'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.focus(@extschema@.stacktree, text, boolean) IS
    'keep stacks through a frame matching regex (pprof -focus); reroot: start them there (pprof -show_from)';

CREATE FUNCTION @extschema@.ignore(t @extschema@.stacktree, regex text)
    RETURNS @extschema@.stacktree
    AS 'MODULE_PATHNAME', 'stacktree_ignore'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.ignore(@extschema@.stacktree, text) IS
    'drop stacks through a frame matching regex (pprof -ignore)';

CREATE FUNCTION @extschema@.prune(t @extschema@.stacktree, min_fraction double precision,
                                  column_name text DEFAULT NULL)
    RETURNS @extschema@.stacktree
    AS 'MODULE_PATHNAME', 'stacktree_prune'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.prune(@extschema@.stacktree, double precision, text) IS
    'fold nodes below min_fraction of the total into their parent (totals unchanged)';

CREATE FUNCTION @extschema@.scale(t @extschema@.stacktree, factor double precision)
    RETURNS @extschema@.stacktree
    AS 'MODULE_PATHNAME', 'stacktree_scale'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.scale(@extschema@.stacktree, double precision) IS
    'every value times factor, rounded to the nearest integer';

CREATE FUNCTION @extschema@.self_of(t @extschema@.stacktree, regex text, column_name text DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'stacktree_self_of'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.self_of(@extschema@.stacktree, text, text) IS
    'sum of self values of frames matching regex';

CREATE FUNCTION @extschema@.total_of(t @extschema@.stacktree, regex text, column_name text DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'stacktree_total_of'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.total_of(@extschema@.stacktree, text, text) IS
    'sum of the samples whose stack has a frame matching regex (each sample once)';

CREATE FUNCTION @extschema@.top_functions_diff(t @extschema@.stacktree, n integer DEFAULT 20)
    RETURNS TABLE (function text, base_self bigint, base_total bigint,
                   test_self bigint, test_total bigint,
                   delta_self bigint, delta_total bigint, ratio double precision)
    AS 'MODULE_PATHNAME', 'stacktree_top_functions_diff'
    LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 20;

COMMENT ON FUNCTION @extschema@.top_functions_diff(@extschema@.stacktree, integer) IS
    'per-function self/total of both sides of a diff tree, largest |delta_self| first; ratio = test_total / base_total';
