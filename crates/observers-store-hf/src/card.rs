//! The dataset card (README.md): tells the dataset viewer and `datasets` where the shards are
//! and what their columns are.
//!
//! The features are declared (`dataset_info.features`, generated from the shard schema)
//! because `datasets` otherwise takes the columns of the first shard it reads: once the
//! schema gains a column, shards written before would then fail to load. With the features
//! declared, an older shard's missing columns read as null.

use observers_core::arrow::datatypes::{DataType, Field};

use crate::shard::shard_schema;

/// Where shards go in the repository.
pub(crate) const DATA_DIR: &str = "data";

/// The README.md of a dataset written by observers.
pub(crate) fn dataset_card(repo_id: &str) -> String {
    let features: String = shard_schema().fields().iter().map(|f| feature_yaml(f, 2)).collect();
    format!(
        r#"---
tags:
- observers
- llm-observability
dataset_info:
  features:
{features}configs:
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

/// One feature of `dataset_info.features`, in the YAML `datasets` writes, indented by
/// `indent` spaces.
fn feature_yaml(field: &Field, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let head = format!("{pad}- name: {}\n", field.name());
    match field.data_type() {
        DataType::List(item) => match item.data_type() {
            DataType::Struct(fields) => {
                let inner: String = fields.iter().map(|f| feature_yaml(f, indent + 2)).collect();
                format!("{head}{pad}  list:\n{inner}")
            }
            other => format!("{head}{pad}  list: {}\n", dtype(other)),
        },
        other => format!("{head}{pad}  dtype: {}\n", dtype(other)),
    }
}

/// The `datasets` dtype of an Arrow type of the record schema.
fn dtype(data_type: &DataType) -> String {
    match data_type {
        DataType::Utf8 => "string".into(),
        DataType::Int32 => "int32".into(),
        DataType::Int64 => "int64".into(),
        DataType::Float64 => "float64".into(),
        DataType::Timestamp(unit, None) => {
            let unit = match unit {
                observers_core::arrow::datatypes::TimeUnit::Second => "s",
                observers_core::arrow::datatypes::TimeUnit::Millisecond => "ms",
                observers_core::arrow::datatypes::TimeUnit::Microsecond => "us",
                observers_core::arrow::datatypes::TimeUnit::Nanosecond => "ns",
            };
            format!("timestamp[{unit}]")
        }
        // Not in the record schema; a test checks every column maps to a real dtype.
        other => format!("unsupported ({other})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_is_declared_with_a_real_dtype() {
        let card = dataset_card("me/logs");
        assert!(!card.contains("unsupported"), "{card}");
        for field in shard_schema().fields() {
            assert!(card.contains(&format!("- name: {}\n", field.name())), "{}", field.name());
        }
        assert!(
            card.contains("  - name: messages\n    list:\n    - name: role\n      dtype: string\n"),
            "{card}"
        );
        assert!(card.contains("  - name: tags\n    list: string\n"), "{card}");
    }
}
