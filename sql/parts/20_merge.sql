-- merge: the aggregate (state = stacktree, held expanded while aggregating)
-- and the two-argument scalar form.

CREATE FUNCTION @extschema@.stacktree_merge_trans(@extschema@.stacktree, @extschema@.stacktree)
    RETURNS @extschema@.stacktree
    AS 'MODULE_PATHNAME', 'stacktree_merge_trans'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.stacktree_merge_final(@extschema@.stacktree)
    RETURNS @extschema@.stacktree
    AS 'MODULE_PATHNAME', 'stacktree_merge_final'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE @extschema@.merge(@extschema@.stacktree) (
    SFUNC = @extschema@.stacktree_merge_trans,
    STYPE = @extschema@.stacktree,
    FINALFUNC = @extschema@.stacktree_merge_final,
    COMBINEFUNC = @extschema@.stacktree_merge_trans,
    PARALLEL = SAFE
);

COMMENT ON AGGREGATE @extschema@.merge(@extschema@.stacktree) IS
    'merge stacktrees: values of equal stacks add up; columns aligned by name';

CREATE FUNCTION @extschema@.merge(a @extschema@.stacktree, b @extschema@.stacktree)
    RETURNS @extschema@.stacktree
    AS 'MODULE_PATHNAME', 'stacktree_merge2'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
