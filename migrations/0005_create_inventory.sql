-- The posture inventory: typed edges between entities, image vulnerabilities
-- from Trivy, and the attack paths computed from both (issue 5).

-- source: 'alert' (derived from the entities an alert names together),
-- 'inventory' (POST /api/v1/inventory), 'agent' (cluster agents).
CREATE TABLE edges (
    id INTEGER PRIMARY KEY,
    src INTEGER NOT NULL REFERENCES entities (id),
    dst INTEGER NOT NULL REFERENCES entities (id),
    kind TEXT NOT NULL,
    props TEXT NOT NULL DEFAULT '{}',
    source TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    UNIQUE (src, dst, kind)
);
CREATE INDEX edges_dst ON edges (dst, kind);

-- One row per image digest (or image reference when no digest is known).
CREATE TABLE image_scans (
    image_key TEXT PRIMARY KEY,
    artifact TEXT NOT NULL,
    digest TEXT NOT NULL DEFAULT '',
    os TEXT NOT NULL DEFAULT '',
    scanned_at INTEGER NOT NULL,
    critical INTEGER NOT NULL DEFAULT 0,
    high INTEGER NOT NULL DEFAULT 0,
    medium INTEGER NOT NULL DEFAULT 0,
    low INTEGER NOT NULL DEFAULT 0,
    unknown INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE image_vulnerabilities (
    image_key TEXT NOT NULL REFERENCES image_scans (image_key),
    vuln_id TEXT NOT NULL,
    package TEXT NOT NULL,
    installed TEXT NOT NULL DEFAULT '',
    fixed TEXT NOT NULL DEFAULT '',
    severity TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (image_key, vuln_id, package)
) WITHOUT ROWID;

-- An attack path: entry point to critical asset; steps is a JSON array of
-- {"entity","edge","risk_factors":[...],"remediation"}. path_key is a hash of
-- the entity ids in order, so recomputation replaces rows in place.
CREATE TABLE attack_paths (
    id INTEGER PRIMARY KEY,
    path_key BLOB NOT NULL UNIQUE,
    entry INTEGER NOT NULL REFERENCES entities (id),
    target INTEGER NOT NULL REFERENCES entities (id),
    risk INTEGER NOT NULL,
    hops INTEGER NOT NULL,
    title TEXT NOT NULL,
    steps TEXT NOT NULL,
    computed_at INTEGER NOT NULL
);
CREATE INDEX attack_paths_entry ON attack_paths (entry);
CREATE INDEX attack_paths_risk ON attack_paths (risk, id);

-- Which entities lie on some attack path (the blue badge), kept with the
-- paths.
CREATE TABLE attack_path_members (
    path_id INTEGER NOT NULL REFERENCES attack_paths (id) ON DELETE CASCADE,
    entity_id INTEGER NOT NULL REFERENCES entities (id),
    PRIMARY KEY (path_id, entity_id)
) WITHOUT ROWID;
CREATE INDEX attack_path_members_entity ON attack_path_members (entity_id);
