//! [`DuckDbStore::reprice`]: the cost of every stored call, recomputed from a price table.

use duckdb::params;
use observers_core::pricing::Prices;

use super::DuckDbStore;
use crate::error::Result;

/// What [`DuckDbStore::reprice`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Repriced {
    /// Rows whose `cost_usd` changed.
    pub updated: u64,
    /// Rows that have a cost now.
    pub priced: u64,
    /// All rows.
    pub rows: u64,
    /// The models the table has no price for, with their number of rows, most rows first
    /// (`None`: rows without a model). Their rows' cost is NULL.
    pub unpriced_models: Vec<(Option<String>, u64)>,
}

/// The prices of the store's models, for the duration of one reprice.
const PRICES_TABLE: &str = "observers_reprice_prices";

/// [`Price::cost`](observers_core::pricing::Price::cost) in SQL, the same terms in the same
/// order (so the same doubles); NULL when a token count is unknown or negative.
const COST_SQL: &str = "CASE WHEN openai_records.prompt_tokens >= 0 AND openai_records.completion_tokens >= 0 THEN
    ((openai_records.prompt_tokens - least(greatest(coalesce(openai_records.cached_tokens, 0), 0), openai_records.prompt_tokens)) * p.input
     + least(greatest(coalesce(openai_records.cached_tokens, 0), 0), openai_records.prompt_tokens) * p.cached_input
     + openai_records.completion_tokens * p.output) / CAST(1e6 AS DOUBLE)
    END";

impl DuckDbStore {
    /// Recomputes `cost_usd` of every row from `prices` (after everything added before this
    /// call): rows of a model the table prices get its cost, all others NULL. Use it after
    /// a price change, or for rows recorded before costs were (schema version 1).
    ///
    /// # Example
    /// ```
    /// use observers_core::pricing::Prices;
    /// use observers_core::{ChatCompletionRecord, Store};
    /// use observers_store_duckdb::DuckDbStore;
    ///
    /// # tokio::runtime::Runtime::new()?.block_on(async {
    /// let store = DuckDbStore::open(":memory:")?;
    /// let mut record = ChatCompletionRecord::new("gpt-4o-mini");
    /// (record.prompt_tokens, record.completion_tokens) = (Some(1_000), Some(100));
    /// store.add(record).await?;
    /// let repriced = store.reprice(&Prices::shipped()).await?;
    /// assert_eq!((repriced.updated, repriced.priced), (1, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn reprice(&self, prices: &Prices) -> Result<Repriced> {
        let prices = prices.clone();
        self.run(move |conn| {
            let models: Vec<String> = conn
                .prepare("SELECT DISTINCT model FROM openai_records WHERE model IS NOT NULL")?
                .query_map([], |row| row.get(0))?
                .collect::<std::result::Result<_, _>>()?;
            let tx = conn.transaction()?;
            tx.execute_batch(&format!(
                "CREATE OR REPLACE TEMP TABLE {PRICES_TABLE} (model VARCHAR, input DOUBLE, cached_input DOUBLE, output DOUBLE)"
            ))?;
            {
                let mut insert = tx.prepare(&format!("INSERT INTO {PRICES_TABLE} VALUES (?, ?, ?, ?)"))?;
                for model in &models {
                    if let Some(price) = prices.get(model) {
                        let cached = price.cached_input.unwrap_or(price.input);
                        insert.execute(params![model, price.input, cached, price.output])?;
                    }
                }
            }
            let priced_rows = tx.execute(
                &format!(
                    "UPDATE openai_records SET cost_usd = {COST_SQL} FROM {PRICES_TABLE} p
                     WHERE openai_records.model = p.model AND openai_records.cost_usd IS DISTINCT FROM ({COST_SQL})"
                ),
                [],
            )?;
            let cleared = tx.execute(
                &format!(
                    "UPDATE openai_records SET cost_usd = NULL WHERE cost_usd IS NOT NULL
                     AND (model IS NULL OR model NOT IN (SELECT model FROM {PRICES_TABLE}))"
                ),
                [],
            )?;
            let unpriced_models = tx
                .prepare(&format!(
                    "SELECT model, count(*) FROM openai_records
                     WHERE model IS NULL OR model NOT IN (SELECT model FROM {PRICES_TABLE})
                     GROUP BY model ORDER BY count(*) DESC, model"
                ))?
                .query_map([], |row| Ok((row.get::<_, Option<String>>(0)?, row.get::<_, i64>(1)?)))?
                .map(|row| row.map(|(model, n)| (model, u64::try_from(n).unwrap_or_default())))
                .collect::<std::result::Result<_, _>>()?;
            let (priced, rows): (i64, i64) =
                tx.query_row("SELECT count(cost_usd), count(*) FROM openai_records", [], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?;
            tx.execute_batch(&format!("DROP TABLE {PRICES_TABLE}"))?;
            tx.commit()?;
            Ok(Repriced {
                updated: (priced_rows + cleared) as u64,
                priced: u64::try_from(priced).unwrap_or_default(),
                rows: u64::try_from(rows).unwrap_or_default(),
                unpriced_models,
            })
        })
        .await
    }
}
