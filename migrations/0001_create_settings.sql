-- Server-wide settings that change at run time (for example the two-person
-- rule for terminate). Start-up configuration lives in config, not here.
CREATE TABLE settings (
    key        TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
