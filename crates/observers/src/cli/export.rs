//! `observers export --otlp [URL]`: an existing store's records, sent to an OpenTelemetry
//! collector as GenAI spans, resumably.

use std::io::IsTerminal;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use observers_core::Store;
use observers_store_otel::{OtelStore, OtelStoreBuilder};

use super::open_existing;
use crate::export::{export_unexported, ExportEvent, DEFAULT_PAGE_SIZE};

/// Arguments of `observers export`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Send to an OpenTelemetry collector over OTLP/HTTP. The URL is the collector's, as in
    /// OTEL_EXPORTER_OTLP_ENDPOINT (`/v1/traces` is added when it has no path; Phoenix:
    /// http://localhost:6006); without one, the OTEL_EXPORTER_OTLP_* variables say, else
    /// http://localhost:4318.
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "", required = true)]
    otlp: Option<String>,
    /// The local store.
    #[arg(long, default_value = "store.db")]
    db: PathBuf,
    /// Also send what was said (`gen_ai.input.messages`, `gen_ai.output.messages`): off by
    /// default, as the GenAI conventions ask (or
    /// OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true).
    #[arg(long)]
    capture_content: bool,
    /// Records sent before each flush and mark.
    #[arg(long, default_value_t = DEFAULT_PAGE_SIZE)]
    page_size: usize,
}

/// The collector's traces URL for `--otlp URL`: a bare collector address gets the OTLP/HTTP
/// path, as the `OTEL_EXPORTER_OTLP_ENDPOINT` variable does.
fn traces_url(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    let path = trimmed.split_once("://").map_or(trimmed, |(_, rest)| rest);
    if path.contains('/') {
        trimmed.to_string()
    } else {
        format!("{trimmed}/v1/traces")
    }
}

fn collector(args: &Args) -> Result<OtelStore, String> {
    let mut builder = OtelStoreBuilder::from_env().map_err(|e| e.to_string())?;
    if let Some(url) = args.otlp.as_deref().filter(|url| !url.is_empty()) {
        builder = builder.endpoint(traces_url(url));
    }
    if args.capture_content {
        builder = builder.capture_content(true);
    }
    builder.build().map_err(|e| e.to_string())
}

pub(crate) async fn run(args: Args) -> Result<(), String> {
    let collector = collector(&args)?;
    let store = open_existing(&args.db)?;
    let terminal = std::io::stderr().is_terminal();
    let bar = ProgressBar::hidden();
    let result = export_unexported(&store, &collector, args.page_size, |event| match event {
        ExportEvent::Planned { records } => {
            if terminal {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                bar.set_length(records);
                bar.set_style(
                    ProgressStyle::with_template("exporting [{bar:40}] {pos}/{len} records ({per_sec})")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
            } else {
                eprintln!("{records} records to export to {}", collector.endpoint());
            }
        }
        ExportEvent::Page { records } => bar.inc(records),
    })
    .await;
    bar.finish_and_clear();
    let closed = collector.close().await;
    let report = result.map_err(|e| e.to_string())?;
    closed.map_err(|e| format!("closing the OpenTelemetry exporter: {e}"))?;
    println!(
        "exported {} records from {} to {} in {:.1} s",
        report.records,
        args.db.display(),
        collector.endpoint(),
        report.elapsed.as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::traces_url;

    #[test]
    fn a_bare_collector_address_gets_the_traces_path() {
        assert_eq!(traces_url("http://localhost:6006"), "http://localhost:6006/v1/traces");
        assert_eq!(traces_url("http://localhost:6006/"), "http://localhost:6006/v1/traces");
        assert_eq!(traces_url("http://collector:4318/v1/traces"), "http://collector:4318/v1/traces");
        assert_eq!(
            traces_url("https://otlp.example.com/otlp/v1/traces"),
            "https://otlp.example.com/otlp/v1/traces"
        );
    }
}
