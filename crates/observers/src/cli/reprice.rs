//! `observers reprice`: the cost of every stored call, recomputed from a price table.

use std::path::PathBuf;

use observers_core::pricing::Prices;

use super::open_existing_with;
use super::query::int;
use super::stats::READ_MEMORY_LIMIT;

/// Arguments of `observers reprice`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The local store.
    #[arg(long, default_value = "store.db")]
    db: PathBuf,
    /// A price table (JSON, the format of the shipped one: see the README) whose prices
    /// replace the shipped ones for the models it names.
    #[arg(long)]
    prices: Option<PathBuf>,
}

/// The shipped table, with `file`'s prices on top.
pub(crate) fn prices(file: Option<&PathBuf>) -> Result<Prices, String> {
    match file {
        Some(path) => Ok(Prices::shipped().merge(Prices::from_path(path).map_err(|e| e.to_string())?)),
        None => Ok(Prices::shipped()),
    }
}

pub(crate) async fn run(args: Args) -> Result<(), String> {
    // The table first: a bad file is reported before the store is opened (and migrated).
    let prices = prices(args.prices.as_ref())?;
    // An UPDATE of every row: the same cap as the summaries, not the sync's.
    let store = open_existing_with(&args.db, READ_MEMORY_LIMIT)?;
    let done =
        store.reprice(&prices).await.map_err(|e| format!("could not reprice {}: {e}", args.db.display()))?;
    println!(
        "repriced {}: {} of {} calls have a cost; {} changed",
        args.db.display(),
        int(done.priced as i64),
        int(done.rows as i64),
        int(done.updated as i64)
    );
    if !done.unpriced_models.is_empty() {
        let models: Vec<String> = done
            .unpriced_models
            .iter()
            .take(20)
            .map(|(model, n)| format!("{} ({})", model.as_deref().unwrap_or("(no model)"), int(*n as i64)))
            .collect();
        let more = done.unpriced_models.len().saturating_sub(20);
        println!(
            "no price for: {}{}; their calls have no cost (add them to a --prices file)",
            models.join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() }
        );
    }
    Ok(())
}
