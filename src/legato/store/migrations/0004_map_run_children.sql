-- Standard child executions of Distributed Map Runs are durable executions: each row
-- names the Map Run that started it and how many items it processed (ListExecutions
-- with mapRunArn), so a Map Run can be listed and resumed after a restart.

ALTER TABLE executions ADD COLUMN map_run_arn TEXT;
ALTER TABLE executions ADD COLUMN item_count INTEGER;

CREATE INDEX executions_by_map_run ON executions (map_run_arn) WHERE map_run_arn IS NOT NULL;
