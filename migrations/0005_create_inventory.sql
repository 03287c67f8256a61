-- The posture inventory: typed edges between entities, image vulnerabilities
-- from Trivy, and the attack paths computed from both (issue 5).
-- docs/inventory.md describes the rules these tables serve.

-- source: 'alert' (derived from the entities an alert names together),
-- 'inventory' (POST /api/v1/inventory), 'trivy', 'agent' (cluster agents).
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

-- One row per scanned image: `digest` is the repository digest
-- (Metadata.RepoDigests), else the image id (Metadata.ImageID), else
-- 'ref:' and the image reference when the report has neither. A report of
-- the same digest replaces the row's vulnerabilities and counts.
CREATE TABLE image_scans (
    id INTEGER PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    artifact TEXT NOT NULL,
    image_id TEXT NOT NULL DEFAULT '',
    os TEXT NOT NULL DEFAULT '',
    report_time INTEGER NOT NULL DEFAULT 0, -- the report's CreatedAt (ms), 0 when absent
    scanned_at INTEGER NOT NULL,            -- when the server stored it (ms)
    critical INTEGER NOT NULL DEFAULT 0,
    high INTEGER NOT NULL DEFAULT 0,
    medium INTEGER NOT NULL DEFAULT 0,
    low INTEGER NOT NULL DEFAULT 0,
    unknown INTEGER NOT NULL DEFAULT 0
);

-- The current scan of each image entity (image:REPO:TAG). A tag that moves
-- to a new digest points at the new scan; scans no entity points at are
-- deleted.
CREATE TABLE image_scan_entities (
    entity_id INTEGER PRIMARY KEY REFERENCES entities (id),
    scan_id INTEGER NOT NULL REFERENCES image_scans (id) ON DELETE CASCADE
);
CREATE INDEX image_scan_entities_scan ON image_scan_entities (scan_id);

-- severity: 0 unknown, 1 low, 2 medium, 3 high, 4 critical.
CREATE TABLE image_vulnerabilities (
    scan_id INTEGER NOT NULL REFERENCES image_scans (id) ON DELETE CASCADE,
    vuln_id TEXT NOT NULL,
    package TEXT NOT NULL,
    installed TEXT NOT NULL DEFAULT '',
    fixed TEXT NOT NULL DEFAULT '',
    severity INTEGER NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (scan_id, vuln_id, package, installed)
) WITHOUT ROWID;
CREATE INDEX image_vulnerabilities_severity ON image_vulnerabilities (scan_id, severity, vuln_id);

-- An attack path: entry point to critical asset; steps is a JSON array of
-- {"entity","edge","risk_factors":[...],"remediation"}. path_key is a hash
-- of the entity ids and edge kinds in order, so recomputation keeps the id
-- of a path that did not change. risk: 0 low, 1 medium, 2 high, 3 critical;
-- score: the points the risk level comes from.
CREATE TABLE attack_paths (
    id INTEGER PRIMARY KEY,
    path_key BLOB NOT NULL UNIQUE,
    entry INTEGER NOT NULL REFERENCES entities (id),
    target INTEGER NOT NULL REFERENCES entities (id),
    risk INTEGER NOT NULL,
    score INTEGER NOT NULL,
    hops INTEGER NOT NULL,
    title TEXT NOT NULL,
    steps TEXT NOT NULL,
    computed_at INTEGER NOT NULL
);
CREATE INDEX attack_paths_entry ON attack_paths (entry);
CREATE INDEX attack_paths_risk ON attack_paths (risk, id);
CREATE INDEX attack_paths_target ON attack_paths (target, risk, id);

-- Which entities lie on some attack path (the blue badge), kept with the
-- paths.
CREATE TABLE attack_path_members (
    path_id INTEGER NOT NULL REFERENCES attack_paths (id) ON DELETE CASCADE,
    entity_id INTEGER NOT NULL REFERENCES entities (id),
    PRIMARY KEY (path_id, entity_id)
) WITHOUT ROWID;
CREATE INDEX attack_path_members_entity ON attack_path_members (entity_id);
