-- Legato's SQLite schema, version 1: state machines, executions, history events,
-- activities and tags. Later migrations add versions and aliases (0002), then
-- task tokens and map runs; each file is applied once, in order, and recorded in
-- schema_version.

-- Definitions are kept once per distinct text: every execution refers to the
-- definition it started with, and most executions share one.
CREATE TABLE definitions (
    hash TEXT PRIMARY KEY,
    text TEXT NOT NULL
) WITHOUT ROWID;

-- Creation order is rowid order; an update keeps the row (and so the order).
CREATE TABLE state_machines (
    arn TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    definition_hash TEXT NOT NULL REFERENCES definitions (hash),
    role_arn TEXT NOT NULL,
    type TEXT NOT NULL,
    creation_date REAL NOT NULL,
    update_date REAL,
    description TEXT,
    revision_id TEXT NOT NULL,
    logging_configuration TEXT NOT NULL,
    tracing_configuration TEXT NOT NULL,
    encryption_configuration TEXT NOT NULL,
    last_version INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE executions (
    arn TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    state_machine_arn TEXT NOT NULL,
    state_machine_name TEXT NOT NULL,
    type TEXT NOT NULL,
    input_text TEXT NOT NULL,
    start_date REAL NOT NULL,
    definition_hash TEXT NOT NULL REFERENCES definitions (hash),
    role_arn TEXT NOT NULL,
    state_machine_update_date REAL NOT NULL,
    revision_id TEXT NOT NULL,
    logging_configuration TEXT NOT NULL,
    tracing_configuration TEXT NOT NULL,
    encryption_configuration TEXT NOT NULL,
    trace_header TEXT,
    status TEXT NOT NULL,
    stop_date REAL,
    output_text TEXT,
    error TEXT,
    cause TEXT,
    state_machine_version_arn TEXT,
    state_machine_alias_arn TEXT,
    redrive_count INTEGER NOT NULL DEFAULT 0,
    redrive_date REAL
);

CREATE INDEX executions_by_machine ON executions (state_machine_arn);
CREATE INDEX executions_running ON executions (status) WHERE status = 'RUNNING';

-- One row per history event, the event dict as JSON (internal "_" keys included).
CREATE TABLE events (
    execution_arn TEXT NOT NULL,
    id INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (execution_arn, id)
) WITHOUT ROWID;

CREATE TABLE activities (
    arn TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    creation_date REAL NOT NULL,
    encryption_configuration TEXT NOT NULL
);

-- A resource's tags in the order they were set.
CREATE TABLE tags (
    resource_arn TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (resource_arn, key)
);
