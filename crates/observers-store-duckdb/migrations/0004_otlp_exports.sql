-- Records `observers export --otlp` has sent to an OpenTelemetry collector, one row each,
-- appended once the collector took them. An export stopped at any point resumes with the
-- records not listed here: none is sent twice, none is skipped. Append-only and without an
-- index, so marking costs the rows sent, not the size of the store.
CREATE TABLE otlp_exports (
    id VARCHAR NOT NULL,
    exported_at TIMESTAMP NOT NULL
);
