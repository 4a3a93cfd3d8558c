-- Functions: Rhai scripts admins save; every save is a new version.
CREATE TABLE functions (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    -- The `invoke` rule of an http function (who may call it).
    invoke TEXT,
    version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE function_versions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    invoke TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (name, version)
);

-- Every run of a function: its outcome, duration, logs and error.
CREATE TABLE executions (
    id TEXT PRIMARY KEY,
    function TEXT NOT NULL,
    version INTEGER NOT NULL,
    trigger TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    duration_us INTEGER NOT NULL,
    logs TEXT NOT NULL,
    error TEXT
);
CREATE INDEX executions_function ON executions (function, id);
