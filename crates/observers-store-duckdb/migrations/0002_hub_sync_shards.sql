-- Rows assigned to a Hub shard by `observers sync`, kept until the shard is on the Hub and
-- the rows are marked synced. A sync stopped at any point resumes from here: the same rows
-- go to the same shard name, so nothing is pushed twice and nothing is skipped.
CREATE TABLE hub_sync_shards (
    id VARCHAR PRIMARY KEY,
    shard VARCHAR NOT NULL
);
CREATE INDEX hub_sync_shards_shard ON hub_sync_shards (shard);
