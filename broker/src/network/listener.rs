//! The accept loop: a connection limit (`max.connections`, a semaphore),
//! exponential backoff on accept errors, and shutdown by a watch channel.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tracing::{debug, error, warn};

use crate::server::Broker;

/// Accepts connections until `shutdown` turns true.
pub async fn run(broker: Arc<Broker>, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
    let limit = Arc::new(Semaphore::new(
        broker.config.max_connections.min(Semaphore::MAX_PERMITS),
    ));
    let mut backoff = Duration::from_millis(5);
    loop {
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
            _ = shutdown.changed() => return,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        match accepted {
            Ok((stream, addr)) => {
                backoff = Duration::from_millis(5);
                debug!(peer = %addr, "accepted connection");
                let broker = broker.clone();
                let shutdown = shutdown.clone();
                tokio::spawn(async move {
                    super::connection::serve(broker, stream, shutdown).await;
                    drop(permit);
                });
            }
            Err(e) => {
                // EMFILE and friends: wait and retry rather than spin or die.
                if backoff >= Duration::from_secs(1) {
                    error!("accept failed: {e}; retrying in {backoff:?}");
                } else {
                    warn!("accept failed: {e}; retrying in {backoff:?}");
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}
