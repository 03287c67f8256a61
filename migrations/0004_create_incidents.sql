-- Entities, alerts, incidents and the hunting tables (issue 4).
-- Enumerations are stored as small integers (server/alert.h names them):
-- severity 0 informational .. 3 high; incident status 0 active,
-- 1 in_progress, 2 resolved, 3 merged (hidden from the queue); provider and
-- tactic sets are bitmasks of 1 << value.

CREATE TABLE entities (
    id INTEGER PRIMARY KEY,
    kind INTEGER NOT NULL,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    cluster TEXT NOT NULL DEFAULT '',
    props TEXT NOT NULL DEFAULT '{}',
    critical INTEGER NOT NULL DEFAULT 0,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
);
CREATE INDEX entities_kind_name ON entities (kind, name);

CREATE TABLE incidents (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    severity INTEGER NOT NULL,
    status INTEGER NOT NULL DEFAULT 0,
    assignee TEXT NOT NULL DEFAULT '',
    classification INTEGER NOT NULL DEFAULT 0,
    determination TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    sources INTEGER NOT NULL DEFAULT 0,
    tactics INTEGER NOT NULL DEFAULT 0,
    high_impact INTEGER NOT NULL DEFAULT 0,
    alert_count INTEGER NOT NULL DEFAULT 0,
    entity_count INTEGER NOT NULL DEFAULT 0,
    -- The entity the title names: best kind rank, then most alerts, then
    -- smallest key (deterministic whatever the arrival order).
    main_entity INTEGER REFERENCES entities (id),
    main_count INTEGER NOT NULL DEFAULT 0,
    clusters TEXT NOT NULL DEFAULT '[]',
    first_ts INTEGER NOT NULL,
    last_ts INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    merged_into INTEGER REFERENCES incidents (id)
);
CREATE INDEX incidents_status_activity ON incidents (status, last_ts, id);
CREATE INDEX incidents_status_severity ON incidents (status, severity, last_ts, id);
CREATE INDEX incidents_status_alerts ON incidents (status, alert_count, id);
CREATE INDEX incidents_activity ON incidents (last_ts, id);

-- Counters behind the queue's per-filter counts, kept by triggers so that a
-- request sums a few hundred rows instead of counting the incidents.
CREATE TABLE incident_cube (
    status INTEGER NOT NULL,
    severity INTEGER NOT NULL,
    classification INTEGER NOT NULL,
    assignee TEXT NOT NULL,
    sources INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (status, severity, classification, assignee, sources)
) WITHOUT ROWID;

CREATE TRIGGER incidents_cube_insert AFTER INSERT ON incidents
BEGIN
    INSERT INTO incident_cube (status, severity, classification, assignee, sources, n)
    VALUES (new.status, new.severity, new.classification, new.assignee, new.sources, 1)
    ON CONFLICT (status, severity, classification, assignee, sources) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER incidents_cube_update
AFTER UPDATE OF status, severity, classification, assignee, sources ON incidents
WHEN old.status IS NOT new.status OR old.severity IS NOT new.severity
    OR old.classification IS NOT new.classification OR old.assignee IS NOT new.assignee
    OR old.sources IS NOT new.sources
BEGIN
    UPDATE incident_cube SET n = n - 1
    WHERE status = old.status AND severity = old.severity
        AND classification = old.classification AND assignee = old.assignee
        AND sources = old.sources;
    INSERT INTO incident_cube (status, severity, classification, assignee, sources, n)
    VALUES (new.status, new.severity, new.classification, new.assignee, new.sources, 1)
    ON CONFLICT (status, severity, classification, assignee, sources) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER incidents_cube_delete AFTER DELETE ON incidents
BEGIN
    UPDATE incident_cube SET n = n - 1
    WHERE status = old.status AND severity = old.severity
        AND classification = old.classification AND assignee = old.assignee
        AND sources = old.sources;
END;

CREATE TABLE incident_entities (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    entity_id INTEGER NOT NULL REFERENCES entities (id),
    alert_count INTEGER NOT NULL,
    PRIMARY KEY (incident_id, entity_id)
) WITHOUT ROWID;
CREATE INDEX incident_entities_entity ON incident_entities (entity_id, incident_id);

-- ikey: 8 bytes of big-endian activity time, then the 16-byte idempotency
-- hash, so that inserts land near the end of the index.
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    ikey BLOB NOT NULL UNIQUE,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    provider INTEGER NOT NULL,
    rule TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    severity INTEGER NOT NULL,
    tactic INTEGER NOT NULL,
    technique TEXT NOT NULL DEFAULT '',
    first_ts INTEGER NOT NULL,
    last_ts INTEGER NOT NULL,
    cluster TEXT NOT NULL DEFAULT '',
    evidence TEXT NOT NULL DEFAULT '{}',
    -- Set when an analyst moved or split the alert: correlation no longer
    -- uses it as a link and merges do not pull it back.
    pinned INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX alerts_incident ON alerts (incident_id, first_ts, id);

-- corr = 1 while the alert may link new alerts to its incident (not pinned,
-- incident not resolved).
CREATE TABLE alert_entities (
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    entity_id INTEGER NOT NULL REFERENCES entities (id),
    ts INTEGER NOT NULL,
    corr INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (alert_id, entity_id)
) WITHOUT ROWID;
CREATE INDEX alert_entities_link ON alert_entities (entity_id, corr, ts);

CREATE TABLE incident_history (
    id INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    ts INTEGER NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    summary TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX incident_history_incident ON incident_history (incident_id, id);

CREATE TABLE incident_comments (
    id INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    ts INTEGER NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX incident_comments_incident ON incident_comments (incident_id, id);

-- Behaviours already seen, for rules that flag what an identity is not used
-- to doing (alert_in.novelty).
CREATE TABLE behaviour_seen (
    key TEXT PRIMARY KEY,
    first_ts INTEGER NOT NULL
) WITHOUT ROWID;

-- Hunting tables (SPEC section 3), named as analysts query them.
CREATE TABLE CloudProcessEvents (
    id INTEGER PRIMARY KEY,
    ikey BLOB NOT NULL UNIQUE,
    Timestamp INTEGER NOT NULL,
    ClusterName TEXT NOT NULL,
    KubernetesNamespace TEXT NOT NULL,
    KubernetesPodName TEXT NOT NULL,
    ContainerName TEXT NOT NULL,
    ContainerId TEXT NOT NULL,
    ContainerImageName TEXT NOT NULL,
    ProcessId INTEGER,
    ProcessName TEXT NOT NULL,
    ProcessCommandLine TEXT NOT NULL,
    FolderPath TEXT NOT NULL,
    FileName TEXT NOT NULL,
    ParentProcessId INTEGER,
    ParentProcessName TEXT NOT NULL,
    AccountName TEXT NOT NULL,
    IsBinaryDrift INTEGER NOT NULL
);
CREATE INDEX CloudProcessEvents_time ON CloudProcessEvents (Timestamp);

CREATE TABLE CloudAuditEvents (
    id INTEGER PRIMARY KEY,
    ikey BLOB NOT NULL UNIQUE,
    Timestamp INTEGER NOT NULL,
    ClusterName TEXT NOT NULL,
    OperationName TEXT NOT NULL,
    Verb TEXT NOT NULL,
    ResourceKind TEXT NOT NULL,
    ResourceNamespace TEXT NOT NULL,
    ResourceName TEXT NOT NULL,
    UserName TEXT NOT NULL,
    UserGroups TEXT NOT NULL,
    SourceIPs TEXT NOT NULL,
    UserAgent TEXT NOT NULL,
    ResponseCode INTEGER,
    RawEventData TEXT NOT NULL
);
CREATE INDEX CloudAuditEvents_time ON CloudAuditEvents (Timestamp);
