-- Identity: permissions, roles as sets of permissions, users, browser
-- sessions, machine API tokens and login throttling (SPEC section 5).

CREATE TABLE permissions (
    name  TEXT PRIMARY KEY NOT NULL,  -- alerts:read ... admin
    bit   INTEGER NOT NULL UNIQUE,    -- the bit in a permission mask
    label TEXT NOT NULL               -- "Alerts: Read", shown in refusals
) STRICT;

INSERT INTO permissions (name, bit, label) VALUES
    ('alerts:read', 1, 'Alerts: Read'),
    ('alerts:manage', 2, 'Alerts: Manage'),
    ('response:read', 4, 'Response: Read'),
    ('response:manage', 8, 'Response: Manage'),
    ('admin', 16, 'Administration');

CREATE TABLE roles (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    builtin     INTEGER NOT NULL DEFAULT 0 CHECK (builtin IN (0, 1)),
    description TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE role_permissions (
    role_id    INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    permission TEXT NOT NULL REFERENCES permissions(name),
    PRIMARY KEY (role_id, permission)
) STRICT, WITHOUT ROWID;

INSERT INTO roles (id, name, builtin, description, created_at) VALUES
    (1, 'viewer', 1, 'Sees incidents and the Action center', 0),
    (2, 'analyst', 1, 'Triages incidents', 0),
    (3, 'responder', 1, 'Triages incidents and isolates or terminates pods', 0),
    (4, 'admin', 1, 'Everything, including users, roles, tokens and agents', 0);

INSERT INTO role_permissions (role_id, permission) VALUES
    (1, 'alerts:read'), (1, 'response:read'),
    (2, 'alerts:read'), (2, 'alerts:manage'), (2, 'response:read'),
    (3, 'alerts:read'), (3, 'alerts:manage'), (3, 'response:read'), (3, 'response:manage'),
    (4, 'alerts:read'), (4, 'alerts:manage'), (4, 'response:read'), (4, 'response:manage'),
    (4, 'admin');

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role_id       INTEGER NOT NULL REFERENCES roles(id),
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    last_login_at INTEGER
) STRICT;

-- Only the BLAKE2b-256 of a session token is stored, never the token.
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,   -- absolute expiry
    source_ip    TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,      -- first characters, to recognise a token
    permissions  INTEGER NOT NULL,   -- mask of permissions.bit
    cluster      TEXT,               -- ingestion bound to one cluster, or NULL
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,            -- NULL: never
    revoked_at   INTEGER,
    last_used_at INTEGER
) STRICT;

-- Failed logins per key ("user:NAME" or "ip:ADDR"): from the fifth failure
-- on, the key is blocked for 2, 4, 8... seconds, up to 15 minutes. Times in
-- milliseconds.
CREATE TABLE login_throttle (
    key             TEXT PRIMARY KEY NOT NULL,
    failures        INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL,
    blocked_until   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
