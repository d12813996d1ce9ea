-- The record table again, without the PRIMARY KEY on id. DuckDB keeps a primary key as an ART
-- index that it writes out whole at every checkpoint, and checkpoints come every few hundred
-- records: with 100,000 rows in the store each one took about a second of CPU, so recording a
-- call cost milliseconds that grew with the store. Ids are UUIDv7s made by the wrapper, unique
-- by construction, and every reader pages or filters by id range, which DuckDB answers from
-- its min/max statistics without an index. DuckDB cannot drop a constraint, so the rows are
-- copied into a new table in the order they were written.
CREATE TABLE openai_records_v5 (
    id VARCHAR NOT NULL,
    model VARCHAR,
    timestamp TIMESTAMP NOT NULL,
    messages STRUCT(role VARCHAR, content VARCHAR, name VARCHAR, tool_call_id VARCHAR, tool_calls JSON)[],
    assistant_message VARCHAR,
    completion_tokens INTEGER,
    prompt_tokens INTEGER,
    total_tokens INTEGER,
    finish_reason VARCHAR,
    tool_calls JSON,
    function_call JSON,
    tags VARCHAR[],
    properties JSON,
    error VARCHAR,
    raw_response JSON,
    synced_at TIMESTAMP,
    arguments JSON,
    response_id VARCHAR,
    latency_ms DOUBLE,
    time_to_first_token_ms DOUBLE,
    cached_tokens INTEGER,
    reasoning_tokens INTEGER,
    cost_usd DOUBLE,
    user_id VARCHAR,
    session_id VARCHAR,
    trace_id VARCHAR,
    span_id VARCHAR,
    parent_span_id VARCHAR
);
-- The store's connection does not preserve insertion order (for its scans); the copy must,
-- so that id ranges stay apart in the file and reads by id range skip what they do not need.
SET SESSION preserve_insertion_order = true;
INSERT INTO openai_records_v5 SELECT * FROM openai_records;
RESET SESSION preserve_insertion_order;
DROP TABLE openai_records;
ALTER TABLE openai_records_v5 RENAME TO openai_records;
