//! AlterClientQuotas (KIP-546): sets and removes quotas of users, client
//! ids, user/client-id pairs and IPs in coord; every broker puts them in force
//! from the change notification. Needs AlterConfigs on the cluster.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_client_quotas_request::EntryData as RequestEntry;
use kafka_protocol::messages::alter_client_quotas_response::{EntityData, EntryData};
use kafka_protocol::messages::{AlterClientQuotasRequest, AlterClientQuotasResponse};
use kafka_protocol::protocol::StrBytes;

use crate::network::frame::Request;
use crate::quota::{QuotaEntity, QuotaKind};
use crate::security::acl::Operation;
use crate::server::Broker;

/// One entry's entity and changes, checked as Kafka checks them.
struct Change {
    entity: QuotaEntity,
    set: Vec<(QuotaKind, f64)>,
    remove: Vec<QuotaKind>,
}

fn parse(entry: &RequestEntry) -> Result<Change, String> {
    let entity = QuotaEntity::from_components(
        entry
            .entity
            .iter()
            .map(|e| (e.entity_type.as_str(), e.entity_name.as_deref())),
    )?;
    let mut change = Change {
        entity,
        set: Vec::new(),
        remove: Vec::new(),
    };
    for op in &entry.ops {
        let Some(kind) = QuotaKind::from_key(&op.key).filter(|k| change.entity.takes(*k)) else {
            return Err(format!("Invalid configuration key {}", op.key.as_str()));
        };
        if change.set.iter().any(|(k, _)| *k == kind) || change.remove.contains(&kind) {
            return Err(format!("Duplicate quota key {}", op.key.as_str()));
        }
        if op.remove {
            change.remove.push(kind);
            continue;
        }
        if !op.value.is_finite() || op.value <= 0.0 {
            return Err(format!("{} must be a positive number", kind.key()));
        }
        if kind.is_whole() && op.value.fract() != 0.0 {
            return Err(format!(
                "Configuration {} must be a {} value",
                kind.key(),
                kind.whole_type()
            ));
        }
        change.set.push((kind, op.value));
    }
    Ok(change)
}

pub async fn handle(
    broker: &Broker,
    req: &Request,
    request: AlterClientQuotasRequest,
) -> AlterClientQuotasResponse {
    let allowed = super::cluster_allowed(broker, req, Operation::AlterConfigs);
    let mut entries = Vec::with_capacity(request.entries.len());
    for entry in &request.entries {
        let result = if !allowed {
            Err((
                ResponseError::ClusterAuthorizationFailed,
                "Cluster authorization failed.".to_string(),
            ))
        } else {
            match parse(entry) {
                Err(message) => Err((ResponseError::InvalidRequest, message)),
                Ok(_) if request.validate_only => Ok(()),
                Ok(c) => broker
                    .metadata
                    .alter_quotas(&c.entity, &c.set, &c.remove)
                    .await
                    .map_err(|e| (ResponseError::UnknownServerError, e.to_string())),
            }
        };
        let (code, message) = match result {
            Ok(()) => (0, None),
            Err((e, m)) => (e.code(), Some(StrBytes::from_string(m))),
        };
        entries.push(
            EntryData::default()
                .with_error_code(code)
                .with_error_message(message)
                .with_entity(
                    entry
                        .entity
                        .iter()
                        .map(|e| {
                            EntityData::default()
                                .with_entity_type(e.entity_type.clone())
                                .with_entity_name(e.entity_name.clone())
                        })
                        .collect(),
                ),
        );
    }
    AlterClientQuotasResponse::default().with_entries(entries)
}
