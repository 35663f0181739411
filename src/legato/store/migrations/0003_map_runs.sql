-- Map Runs of Distributed Map states (DescribeMapRun, ListMapRuns).
-- body: the JSON document of the MapRunRecord's fields.

CREATE TABLE map_runs (
    arn TEXT NOT NULL UNIQUE,
    execution_arn TEXT NOT NULL,
    body TEXT NOT NULL
);

CREATE INDEX map_runs_by_execution ON map_runs (execution_arn);
