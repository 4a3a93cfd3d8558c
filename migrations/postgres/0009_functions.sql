-- Functions: Rhai scripts admins save; every save is a new version.
CREATE TABLE functions (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    -- The `invoke` rule of an http function (who may call it).
    invoke TEXT,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE function_versions (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    invoke TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

-- Every run of a function: its outcome, duration, logs and error.
CREATE TABLE executions (
    id TEXT PRIMARY KEY,
    function TEXT NOT NULL,
    version BIGINT NOT NULL,
    trigger TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    duration_us BIGINT NOT NULL,
    logs TEXT NOT NULL,
    error TEXT
);
CREATE INDEX executions_function ON executions (function, id);
