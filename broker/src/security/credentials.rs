//! SCRAM credentials in coord, in Kafka's layout: `/config/users/<user>`
//! holds `{"version":1,"config":{"SCRAM-SHA-256":"salt=…,stored_key=…,
//! server_key=…,iterations=…"}}` — salted keys, never a password — and a
//! change is announced under `/config/changes` as for topic configs.
//!
//! A credential is read from coord when a client authenticates, so a
//! change made on any broker is in force on every broker at once.

use std::collections::BTreeMap;

use runnel_common::security::scram::{ScramCredential, ScramMechanism};
use tracing::warn;

use crate::metadata::store::MetadataError;
use crate::server::Broker;

/// Kafka's `ScramMechanism` type byte on the wire.
pub fn mechanism_from_byte(b: i8) -> Option<ScramMechanism> {
    match b {
        1 => Some(ScramMechanism::Sha256),
        2 => Some(ScramMechanism::Sha512),
        _ => None,
    }
}

pub fn mechanism_byte(m: ScramMechanism) -> i8 {
    match m {
        ScramMechanism::Sha256 => 1,
        ScramMechanism::Sha512 => 2,
    }
}

/// The user's credential for `mechanism`, if it has one.
pub async fn scram_credential(
    broker: &Broker,
    user: &str,
    mechanism: ScramMechanism,
) -> Result<Option<ScramCredential>, MetadataError> {
    let Some(config) = user_config(broker, user).await? else {
        return Ok(None);
    };
    Ok(config.get(mechanism.name()).and_then(|text| {
        match ScramCredential::from_kafka_string(text) {
            Ok(c) => Some(c),
            Err(e) => {
                warn!(
                    user,
                    mechanism = mechanism.name(),
                    "unreadable SCRAM credential: {e}"
                );
                None
            }
        }
    }))
}

/// Every SCRAM credential of a user: mechanism and iterations.
pub async fn describe(
    broker: &Broker,
    user: &str,
) -> Result<Vec<(ScramMechanism, u32)>, MetadataError> {
    let config = user_config(broker, user).await?.unwrap_or_default();
    Ok(ScramMechanism::ALL
        .into_iter()
        .filter_map(|m| {
            let text = config.get(m.name())?;
            let c = ScramCredential::from_kafka_string(text).ok()?;
            Some((m, c.iterations))
        })
        .collect())
}

/// The users with an entry under `/config/users`.
pub async fn users(broker: &Broker) -> Result<Vec<String>, MetadataError> {
    broker.metadata.entity_names("users").await
}

async fn user_config(
    broker: &Broker,
    user: &str,
) -> Result<Option<BTreeMap<String, String>>, MetadataError> {
    broker.metadata.entity_config("users", user).await
}

/// One change to a user's credentials.
pub enum Change {
    Upsert(ScramMechanism, ScramCredential),
    Delete(ScramMechanism),
}

/// Applies `changes` to one user in one write. `Ok(false)`: a deletion
/// named a credential the user does not have (nothing written).
pub async fn alter(
    broker: &Broker,
    user: &str,
    changes: Vec<Change>,
) -> Result<bool, MetadataError> {
    let mut config = user_config(broker, user).await?.unwrap_or_default();
    for change in changes {
        match change {
            Change::Upsert(m, c) => {
                config.insert(m.name().to_string(), c.to_kafka_string());
            }
            Change::Delete(m) => {
                if config.remove(m.name()).is_none() {
                    return Ok(false);
                }
            }
        }
    }
    broker
        .metadata
        .set_entity_config("users", user, &config)
        .await?;
    Ok(true)
}
