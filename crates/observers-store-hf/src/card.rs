//! The dataset card (README.md): tells the dataset viewer and `datasets` where the shards are.

/// Where shards go in the repository.
pub(crate) const DATA_DIR: &str = "data";

/// The README.md of a dataset written by observers.
pub(crate) fn dataset_card(repo_id: &str) -> String {
    format!(
        r#"---
tags:
- observers
- llm-observability
configs:
- config_name: default
  data_files:
  - split: train
    path: {DATA_DIR}/train-*.parquet
---

# {repo_id}

Chat completions recorded with [observers](https://crates.io/crates/observers): one row per
call, with the request `messages` (the chat format TRL and other fine-tuning tools take), the
assistant's answer, token counts, tool calls, errors and latency.

```python
from datasets import load_dataset

ds = load_dataset("{repo_id}", split="train")
```

```sql
-- DuckDB
select model, count(*), avg(latency_ms) from 'hf://datasets/{repo_id}/{DATA_DIR}/*.parquet' group by model;
```

Shards are added as the application runs; each file is a complete Parquet file with the same
schema, so any subset can be read on its own.
"#
    )
}
