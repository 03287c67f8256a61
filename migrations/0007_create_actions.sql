-- Response actions and what the cluster agents report (docs/actions.md,
-- docs/agents.md). Times are milliseconds since the epoch.

-- One row per action an analyst (or the isolation timer) asked for.
CREATE TABLE actions (
    id             INTEGER PRIMARY KEY,
    type           TEXT NOT NULL CHECK (type IN ('isolate', 'terminate', 'release')),
    cluster        TEXT NOT NULL,
    namespace      TEXT NOT NULL,
    pod            TEXT NOT NULL,
    entity_id      INTEGER REFERENCES entities(id),
    incident_id    INTEGER REFERENCES incidents(id),
    status         TEXT NOT NULL CHECK (status IN ('awaiting_approval', 'pending', 'dispatched',
                                                   'succeeded', 'failed', 'cancelled')),
    origin         TEXT NOT NULL DEFAULT 'user' CHECK (origin IN ('user', 'timer')),
    requested_by   TEXT NOT NULL,
    comment        TEXT NOT NULL,
    isolate_for_s  INTEGER NOT NULL DEFAULT 0,  -- isolate only; 0: until released
    approved_by    TEXT NOT NULL DEFAULT '',    -- two-person rule
    decided_by     TEXT NOT NULL DEFAULT '',    -- who cancelled or rejected
    created_at     INTEGER NOT NULL,
    dispatched_at  INTEGER NOT NULL DEFAULT 0,
    acked_at       INTEGER NOT NULL DEFAULT 0,
    finished_at    INTEGER NOT NULL DEFAULT 0,
    expires_at     INTEGER NOT NULL,            -- undelivered by then: failed, agent offline
    failure_reason TEXT NOT NULL DEFAULT '',
    result         TEXT NOT NULL DEFAULT '{}'   -- the agent's details (JSON object)
) STRICT;
CREATE INDEX actions_status ON actions(status, id);
CREATE INDEX actions_cluster ON actions(cluster, status, id);
CREATE INDEX actions_target ON actions(cluster, namespace, pod, id);
CREATE INDEX actions_incident ON actions(incident_id, id) WHERE incident_id IS NOT NULL;

CREATE TABLE action_comments (
    id        INTEGER PRIMARY KEY,
    action_id INTEGER NOT NULL REFERENCES actions(id),
    ts        INTEGER NOT NULL,
    author    TEXT NOT NULL,
    text      TEXT NOT NULL
) STRICT;
CREATE INDEX action_comments_action ON action_comments(action_id, id);

-- What a terminate captured before deleting the pod (manifest, status, logs).
CREATE TABLE action_evidence (
    action_id INTEGER PRIMARY KEY REFERENCES actions(id),
    content   TEXT NOT NULL,     -- JSON object
    bytes     INTEGER NOT NULL,
    sha256    TEXT NOT NULL
) STRICT;

-- Pods isolated by Stockade, and until when (0: until released).
CREATE TABLE isolations (
    cluster   TEXT NOT NULL,
    namespace TEXT NOT NULL,
    pod       TEXT NOT NULL,
    action_id INTEGER NOT NULL REFERENCES actions(id),
    since     INTEGER NOT NULL,
    until     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (cluster, namespace, pod)
) STRICT, WITHOUT ROWID;
CREATE INDEX isolations_until ON isolations(until) WHERE until > 0;

-- The latest facts each cluster's agent reported.
CREATE TABLE cluster_facts (
    cluster            TEXT PRIMARY KEY,
    agent_id           INTEGER NOT NULL,
    agent_version      TEXT NOT NULL DEFAULT '',
    kubernetes_version TEXT NOT NULL DEFAULT '',
    cloud              TEXT NOT NULL DEFAULT '',
    np_plugin          TEXT NOT NULL DEFAULT 'none',
    np_version         TEXT NOT NULL DEFAULT '',
    pods               INTEGER NOT NULL DEFAULT 0,
    truncated          INTEGER NOT NULL DEFAULT 0,  -- the agent left pods out (frame limit)
    reported_at        INTEGER NOT NULL DEFAULT 0,
    connected          INTEGER NOT NULL DEFAULT 0,
    last_seen_at       INTEGER NOT NULL DEFAULT 0,
    address            TEXT NOT NULL DEFAULT ''
) STRICT, WITHOUT ROWID;

CREATE TABLE cluster_pods (
    cluster   TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name      TEXT NOT NULL,
    phase     TEXT NOT NULL,
    labels    TEXT NOT NULL DEFAULT '{}',
    isolated  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (cluster, namespace, name)
) STRICT, WITHOUT ROWID;
