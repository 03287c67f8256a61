-- Tamper-evident audit log: each entry's hash is BLAKE2b-256 over its own
-- fields and the previous entry's hash (server/svc_audit.c has the exact
-- encoding). Entries are only ever appended.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    ts         INTEGER NOT NULL,      -- milliseconds since the epoch
    actor      TEXT NOT NULL,         -- user name, token:NAME, cli:USER, system
    actor_kind TEXT NOT NULL,         -- user | token | cli | system | anonymous
    source_ip  TEXT NOT NULL,
    action     TEXT NOT NULL,         -- auth.login, user.create, ...
    target     TEXT NOT NULL,
    outcome    TEXT NOT NULL,         -- success | failure | denied
    details    TEXT NOT NULL,         -- JSON object
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
) STRICT;
CREATE INDEX audit_log_actor ON audit_log(actor, id);
CREATE INDEX audit_log_action ON audit_log(action, id);
CREATE INDEX audit_log_ts ON audit_log(ts);
