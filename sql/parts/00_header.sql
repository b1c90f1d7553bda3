-- stackhouse: install script, assembled from sql/parts/*.sql by make.
-- Every object is created in the extension's schema and every reference is
-- schema-qualified, so a hostile search_path cannot redirect a call.

\echo Use "CREATE EXTENSION stackhouse" to load this file. \quit
