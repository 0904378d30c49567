//! Log set-up shared by every Runnel binary.

use tracing_subscriber::EnvFilter;

/// Installs a `tracing` subscriber writing to stderr.
///
/// The filter comes from `RUST_LOG` when set, else `default_filter` (e.g. `"info"`).
/// Calling it twice is harmless: the second call keeps the first subscriber.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
