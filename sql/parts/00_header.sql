-- stackhouse: install script, assembled from sql/parts/*.sql by make.
-- Every object is created in the extension's schema and every reference is
-- schema-qualified, so a hostile search_path cannot redirect a call.

\echo Use "CREATE EXTENSION stackhouse" to load this file. \quit

-- Frame names are UTF-8 (validated by every decoder): refuse other
-- database encodings instead of storing text the database cannot show.
-- And refuse a pre-existing schema owned by another role: its owner could
-- replace the functions that superusers and the retention worker call.
DO $check$
BEGIN
    IF pg_catalog.getdatabaseencoding() OPERATOR(pg_catalog.<>) 'UTF8' THEN
        RAISE EXCEPTION 'stackhouse needs a UTF8 database, not %', pg_catalog.getdatabaseencoding()
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Create the database with ENCODING ''UTF8'' (and TEMPLATE template0).';
    END IF;
    IF (SELECT n.nspowner FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) '@extschema@')
       OPERATOR(pg_catalog.<>) (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER) THEN
        RAISE EXCEPTION 'schema "@extschema@" is owned by another role'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Let CREATE EXTENSION create the schema, or create it as the role that creates the extension.';
    END IF;
END
$check$;
