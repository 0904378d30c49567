//! Keeping something read from coord current: read it with a watch, put it
//! in force, wait for the watch (or a timer, for a watch lost with a coord
//! session), read again; back off while coord cannot be read.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::watch;
use tracing::warn;

use super::MetadataError;

/// Resolves when what was read may have changed.
pub type Changed = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Calls `read` now and after every change it reports (or every `every`),
/// and `install` with each result, until `shutdown`.
pub async fn keep_loaded<T, F, Fut>(
    what: &str,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
    mut read: F,
    mut install: impl FnMut(T),
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(Changed, T), MetadataError>>,
{
    let mut backoff = Duration::from_millis(100);
    loop {
        let changed = match read().await {
            Ok((changed, value)) => {
                install(value);
                backoff = Duration::from_millis(100);
                changed
            }
            Err(e) => {
                warn!("reading {what} from coord: {e}");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        tokio::select! {
            _ = changed => {}
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}
