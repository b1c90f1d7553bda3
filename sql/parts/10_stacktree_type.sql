-- The stacktree datatype: text form = folded stacks, binary form = the
-- stored form (validated on receive).

CREATE TYPE @extschema@.stacktree;

CREATE FUNCTION @extschema@.stacktree_in(cstring) RETURNS @extschema@.stacktree
    AS 'MODULE_PATHNAME', 'stacktree_in'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.stacktree_out(@extschema@.stacktree) RETURNS cstring
    AS 'MODULE_PATHNAME', 'stacktree_out'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.stacktree_recv(internal) RETURNS @extschema@.stacktree
    AS 'MODULE_PATHNAME', 'stacktree_recv'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.stacktree_send(@extschema@.stacktree) RETURNS bytea
    AS 'MODULE_PATHNAME', 'stacktree_send'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE @extschema@.stacktree (
    INPUT = @extschema@.stacktree_in,
    OUTPUT = @extschema@.stacktree_out,
    RECEIVE = @extschema@.stacktree_recv,
    SEND = @extschema@.stacktree_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = int4,
    -- the value is zstd-compressed already: TOAST must not compress it again
    STORAGE = external
);

COMMENT ON TYPE @extschema@.stacktree IS
    'a compressed call tree of profile samples with named value columns';

CREATE FUNCTION @extschema@.stacktree_eq(@extschema@.stacktree, @extschema@.stacktree)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'stacktree_eq'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.stacktree_ne(@extschema@.stacktree, @extschema@.stacktree)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'stacktree_ne'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR @extschema@.= (
    LEFTARG = @extschema@.stacktree, RIGHTARG = @extschema@.stacktree,
    FUNCTION = @extschema@.stacktree_eq,
    COMMUTATOR = OPERATOR(@extschema@.=), NEGATOR = OPERATOR(@extschema@.<>)
);

CREATE OPERATOR @extschema@.<> (
    LEFTARG = @extschema@.stacktree, RIGHTARG = @extschema@.stacktree,
    FUNCTION = @extschema@.stacktree_ne,
    COMMUTATOR = OPERATOR(@extschema@.<>), NEGATOR = OPERATOR(@extschema@.=)
);
