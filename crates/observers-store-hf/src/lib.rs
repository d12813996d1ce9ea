//! Store writing records as Parquet shards pushed to a Hugging Face Hub dataset (not
//! implemented yet: nothing here works so far).
