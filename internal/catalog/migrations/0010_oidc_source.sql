-- Schema 10 (issue 7): accounts provisioned by an OpenID Connect provider
-- (source 'oidc'; external_id "oidc:<issuer>#<subject>").
--
-- Only the users table's CHECK on source widens. A rebuild of the table is not
-- possible here: foreign keys are on and users is the parent of sessions,
-- roles, addresses, tokens and recovery codes (DROP TABLE would cascade). So
-- the table's definition is edited in place, as SQLite documents for loosening
-- a constraint (lang_altertable.html, "otheralter"): existing rows satisfy the
-- new CHECK, and the on-disk format does not change. The migration step then
-- bumps schema_version so every connection reloads the schema.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql, 'CHECK (source IN (''local'', ''ldap''))', 'CHECK (source IN (''local'', ''ldap'', ''oidc''))')
 WHERE type = 'table' AND name = 'users';
PRAGMA writable_schema = OFF;
