-- Rows assigned to a Hub shard by `observers sync`, kept until the shard is on the Hub and
-- the rows are marked synced. A sync stopped at any point resumes from here: the same rows
-- go to the same shard name, so nothing is pushed twice and nothing is skipped.
-- No key or index: a row is assigned once (the assignment skips assigned ids), and an index
-- would hold every id in memory during a large sync.
CREATE TABLE hub_sync_shards (
    id VARCHAR NOT NULL,
    shard VARCHAR NOT NULL
);
