-- State machine versions (PublishStateMachineVersion) and aliases.

CREATE TABLE versions (
    arn TEXT NOT NULL UNIQUE,
    state_machine_arn TEXT NOT NULL,
    number INTEGER NOT NULL,
    name TEXT NOT NULL,
    definition_hash TEXT NOT NULL REFERENCES definitions (hash),
    role_arn TEXT NOT NULL,
    type TEXT NOT NULL,
    creation_date REAL NOT NULL,
    revision_id TEXT NOT NULL,
    logging_configuration TEXT NOT NULL,
    tracing_configuration TEXT NOT NULL,
    encryption_configuration TEXT NOT NULL,
    description TEXT
);

CREATE INDEX versions_by_machine ON versions (state_machine_arn);

-- routing: the JSON list of {"stateMachineVersionArn", "weight"} items.
CREATE TABLE aliases (
    arn TEXT NOT NULL UNIQUE,
    state_machine_arn TEXT NOT NULL,
    name TEXT NOT NULL,
    routing TEXT NOT NULL,
    creation_date REAL NOT NULL,
    description TEXT,
    update_date REAL
);

CREATE INDEX aliases_by_machine ON aliases (state_machine_arn);
