-- Saved rules-playground cases: a request against one collection's rule,
-- with the outcome the admin expects, run again after every rule edit.
CREATE TABLE rule_cases (
    collection TEXT NOT NULL,
    name TEXT NOT NULL,
    operation TEXT NOT NULL,
    -- How the caller was described ("anonymous", an email, "custom claims").
    caller TEXT NOT NULL,
    -- {auth, doc, data, request} as JSON.
    input TEXT NOT NULL,
    expect_allowed BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (collection, name)
);
