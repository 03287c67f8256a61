-- Cluster agents and the one-time tokens that enroll them (docs/agents.md,
-- "Enrollment"). Times are seconds since the epoch.

-- Only the BLAKE2b-256 of a token's secret is stored, never the secret.
CREATE TABLE agent_enroll_tokens (
    id            INTEGER PRIMARY KEY,
    secret_hash   TEXT NOT NULL UNIQUE,
    cluster       TEXT NOT NULL,
    created_by    TEXT NOT NULL,             -- "alice", "token:ci", "cli:root"
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER,                   -- single use: set in the enrolling transaction
    used_by_agent INTEGER REFERENCES agents(id)
) STRICT;

-- One row per certificate issued; an agent that enrolls again is a new row.
CREATE TABLE agents (
    id              INTEGER PRIMARY KEY,
    cluster         TEXT NOT NULL,
    cert_serial     TEXT NOT NULL UNIQUE,    -- lower-case hex, as the gateway sees it
    cert_sha256     TEXT NOT NULL,           -- of the certificate's DER
    cert_expires_at INTEGER NOT NULL,
    agent_version   TEXT NOT NULL DEFAULT '',
    enroll_token_id INTEGER NOT NULL REFERENCES agent_enroll_tokens(id),
    enrolled_by     TEXT NOT NULL,           -- who made the token
    enrolled_from   TEXT NOT NULL,           -- IP:PORT the enrollment came from
    enrolled_at     INTEGER NOT NULL,
    revoked_at      INTEGER,
    revoked_by      TEXT,
    connected       INTEGER NOT NULL DEFAULT 0 CHECK (connected IN (0, 1)),
    last_seen_at    INTEGER,
    last_address    TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX agents_cluster ON agents(cluster, id);
-- The gateway polls for revocations every second.
CREATE INDEX agents_revoked ON agents(revoked_at) WHERE revoked_at IS NOT NULL;
