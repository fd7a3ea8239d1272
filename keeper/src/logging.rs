//! The binary's log: `tracing` events as text lines or JSON objects, on standard output.

use std::io::IsTerminal;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// The filter when `RUST_LOG` is unset: one line per landed or failed crank, not each scan.
pub const DEFAULT_FILTER: &str = "info";

/// A subscriber writing `format` through `writer`, colouring text only when `ansi`.
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> Box<dyn tracing::Subscriber + Send + Sync + 'static>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    match format {
        LogFormat::Text => Box::new(builder.with_ansi(ansi).finish()),
        // One object per line; the event's fields (account, market, ...) at the top level, next
        // to `timestamp`, `level`, `message` and `target`.
        LogFormat::Json => {
            Box::new(builder.json().flatten_event(true).with_current_span(false).with_span_list(false).finish())
        }
    }
}

/// Colour only for a person: standard output (the stream written) is a terminal and `NO_COLOR`
/// is unset or empty.
pub fn stdout_wants_colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Install the process's subscriber: `format` on standard output, level from `RUST_LOG`.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    // The stream checked for a terminal is the stream written.
    let subscriber = subscriber(format, filter, std::io::stdout, stdout_wants_colour());
    tracing::subscriber::set_global_default(subscriber).expect("the log is set up once");
}
