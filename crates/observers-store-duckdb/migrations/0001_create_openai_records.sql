-- The record table. Column order and types follow observers_core::schema(); a test checks
-- that they agree. Later migrations may only add nullable columns at the end.
CREATE TABLE openai_records (
    id VARCHAR PRIMARY KEY,
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
    time_to_first_token_ms DOUBLE
);
