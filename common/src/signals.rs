//! How a server learns it should stop: SIGTERM (an operator's `kill`,
//! scripts' stop commands) or SIGINT (Ctrl-C in a terminal).

use anyhow::Context;

/// Returns once SIGTERM or SIGINT arrives; errs only if the handlers
/// cannot be installed.
pub async fn wait_for_stop() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    Ok(())
}
