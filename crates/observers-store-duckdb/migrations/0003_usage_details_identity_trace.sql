-- Schema version 2 of observers_core::schema(): token details and cost, who the call was
-- for, and the OpenTelemetry trace it ran in. Nullable, at the end: rows written before
-- read them as NULL.
ALTER TABLE openai_records ADD COLUMN cached_tokens INTEGER;
ALTER TABLE openai_records ADD COLUMN reasoning_tokens INTEGER;
ALTER TABLE openai_records ADD COLUMN cost_usd DOUBLE;
ALTER TABLE openai_records ADD COLUMN user_id VARCHAR;
ALTER TABLE openai_records ADD COLUMN session_id VARCHAR;
ALTER TABLE openai_records ADD COLUMN trace_id VARCHAR;
ALTER TABLE openai_records ADD COLUMN span_id VARCHAR;
ALTER TABLE openai_records ADD COLUMN parent_span_id VARCHAR;
