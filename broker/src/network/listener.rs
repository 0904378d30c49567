//! The accept loop of one listener: the connection quotas of
//! [`crate::quota::connections`] (broker-wide, per-listener and per-address
//! counts and rates), exponential backoff on accept errors, and shutdown
//! by a watch channel. Each accepted socket goes
//! through its listener's security (TLS handshake, SASL authentication)
//! before its first ordinary request is read.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use super::connection::Identity;
use crate::quota::connections::Activity;
use crate::quota::Admission;
use crate::security::listener::ListenerRuntime;
use crate::security::sasl_server;
use crate::server::Broker;

/// Accepts connections until `shutdown` turns true.
pub async fn run(
    broker: Arc<Broker>,
    listener: TcpListener,
    security: Arc<ListenerRuntime>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(5);
    let name = security.name.to_ascii_uppercase();
    loop {
        tokio::select! {
            _ = broker.connections.wait_for_slot(&name) => {}
            _ = shutdown.changed() => return,
        }
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        match accepted {
            Ok((stream, addr)) => {
                backoff = Duration::from_millis(5);
                debug!(peer = %addr, "accepted connection");
                let delay = broker.connections.listener_delay(&name);
                if !delay.is_zero() {
                    debug!(listener = %security.name, "connection rate over max.connection.creation.rate: accepting again in {delay:?}");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = shutdown.changed() => return,
                    }
                }
                let slot = match broker.connections.admit(addr.ip(), &name) {
                    Admission::Accepted(slot) => slot,
                    Admission::TooMany { limit } => {
                        info!(peer = %addr, listener = %security.name, "Rejected connection from {}, address already has the configured maximum of {limit} connections.", addr.ip());
                        broker.metrics.ip_connections_refused.inc();
                        continue;
                    }
                    Admission::Throttled(delay) => {
                        debug!(peer = %addr, "connection rate of {} over its quota: closing in {delay:?}", addr.ip());
                        broker.metrics.ip_connections_throttled.inc();
                        tokio::spawn(async move {
                            tokio::time::sleep(delay).await;
                            drop(stream);
                        });
                        continue;
                    }
                };
                let broker = broker.clone();
                let shutdown = shutdown.clone();
                let security = security.clone();
                tokio::spawn(async move {
                    open(broker, stream, security, addr, slot.activity(), shutdown).await;
                    drop(slot);
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

/// TLS, then SASL, then the connection's requests.
async fn open(
    broker: Arc<Broker>,
    tcp: tokio::net::TcpStream,
    security: Arc<ListenerRuntime>,
    addr: std::net::SocketAddr,
    activity: Arc<Activity>,
    shutdown: watch::Receiver<bool>,
) {
    if let Err(e) = tcp.set_nodelay(true) {
        debug!(peer = %addr, "set_nodelay: {e}");
    }
    let mut stream = match security.accept(tcp).await {
        Ok(s) => s,
        Err(e) => {
            // A plaintext client on a TLS port, an unknown CA, a stalled
            // handshake: Kafka logs these at INFO on the listener.
            info!(peer = %addr, listener = %security.name, "TLS handshake failed: {e}");
            return;
        }
    };
    let (principal, unread, session) = match &security.sasl {
        // PLAINTEXT and SSL: the client certificate's subject, if it sent one.
        None => match security.certificate_principal(&stream) {
            Ok(p) => (p, BytesMut::new(), None),
            Err(e) => {
                info!(peer = %addr, listener = %security.name, "failed authentication: {e}");
                return;
            }
        },
        Some(sasl) => match sasl_server::authenticate(&broker, &mut stream, sasl).await {
            Ok(done) => (
                format!("User:{}", done.session.user),
                done.unread,
                Some(done.session),
            ),
            Err(e) => {
                info!(peer = %addr, listener = %security.name, "failed authentication: {e}");
                return;
            }
        },
    };
    debug!(peer = %addr, listener = %security.name, %principal, "connection ready");
    let identity = Identity {
        listener: security.name.as_str().into(),
        principal: principal.into(),
        session,
        security,
        activity,
    };
    super::connection::serve(broker, stream, identity, unread, shutdown).await;
}
