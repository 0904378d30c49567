//! Topic administration shared by CreateTopics, Metadata's auto-creation,
//! DeleteTopics and CreatePartitions: validation with Kafka's error codes,
//! the coord write, then the replica manager catching up so the response
//! reflects the new state.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use rand::Rng;

use crate::api::topic_names;
use crate::metadata::assignment::{self, AssignmentError};
use crate::metadata::{MetadataError, NewTopic};
use crate::quota::{MutationQuota, QuotaExceeded};
use crate::server::Broker;
use crate::topic_config::{self, TopicConfig};

/// A refused admin operation: the Kafka error and its message.
#[derive(Debug, Clone)]
pub struct AdminError {
    pub error: ResponseError,
    pub message: String,
}

impl From<QuotaExceeded> for AdminError {
    fn from(_: QuotaExceeded) -> AdminError {
        // Kafka's message for THROTTLING_QUOTA_EXCEEDED.
        AdminError::new(
            ResponseError::ThrottlingQuotaExceeded,
            "The throttling quota has been exceeded.",
        )
    }
}

impl AdminError {
    pub fn new(error: ResponseError, message: impl Into<String>) -> AdminError {
        AdminError {
            error,
            message: message.into(),
        }
    }

    pub fn code(&self) -> i16 {
        self.error.code()
    }
}

impl From<MetadataError> for AdminError {
    fn from(e: MetadataError) -> AdminError {
        let error = match &e {
            MetadataError::TopicExists(_) => ResponseError::TopicAlreadyExists,
            MetadataError::NoTopic(_) => ResponseError::UnknownTopicOrPartition,
            MetadataError::Conflict { .. } => ResponseError::ConcurrentTransactions,
            _ => ResponseError::UnknownServerError,
        };
        AdminError::new(error, e.to_string())
    }
}

/// What a client asked to create.
#[derive(Debug, Clone)]
pub struct CreateSpec {
    pub name: String,
    /// -1: `num.partitions`.
    pub num_partitions: i32,
    /// -1: `default.replication.factor`.
    pub replication_factor: i16,
    /// Explicit replica assignment (then both counts must be -1).
    pub assignment: Option<BTreeMap<i32, Vec<i32>>>,
    pub configs: BTreeMap<String, String>,
}

/// The topic as created (for CreateTopics v5+ responses).
#[derive(Debug, Clone)]
pub struct Created {
    pub num_partitions: i32,
    pub replication_factor: i16,
    pub config: TopicConfig,
}

/// The live brokers, read again from coord when the cached list is shorter
/// than `needed`: a broker that registered a moment ago may not have
/// reached this broker's cache yet (a cluster just started, a broker just
/// restarted), and refusing INVALID_REPLICATION_FACTOR then would be wrong.
async fn live_at_least(broker: &Broker, live: Vec<i32>, needed: usize) -> Vec<i32> {
    if live.len() >= needed {
        return live;
    }
    if let Err(e) = broker.metadata.reload().await {
        tracing::warn!(error = %e, "could not read the live brokers again");
        return live;
    }
    broker.metadata.snapshot().brokers.keys().copied().collect()
}

/// Creates a topic; with `validate_only`, only checks that it could be.
/// Its partitions are charged to `quota` once it is known to be valid.
pub async fn create_topic(
    broker: &Broker,
    spec: &CreateSpec,
    validate_only: bool,
    quota: &mut MutationQuota<'_>,
) -> Result<Created, AdminError> {
    topic_names::validate(&spec.name)
        .map_err(|m| AdminError::new(ResponseError::InvalidTopicException, m))?;
    let snapshot = broker.metadata.snapshot();
    if let Some(t) = snapshot.topics.get(&spec.name) {
        let msg = if t.deleting {
            format!("Topic '{}' is marked for deletion.", spec.name)
        } else {
            format!("Topic '{}' already exists.", spec.name)
        };
        return Err(AdminError::new(ResponseError::TopicAlreadyExists, msg));
    }
    for (k, v) in &spec.configs {
        topic_config::validate(k, v)
            .map_err(|e| AdminError::new(ResponseError::InvalidConfig, e.to_string()))?;
    }
    let config = TopicConfig::resolve(&broker.config, &spec.configs)
        .map_err(|e| AdminError::new(ResponseError::InvalidConfig, e.to_string()))?;
    let live: Vec<i32> = snapshot.brokers.keys().copied().collect();
    let assignment = match &spec.assignment {
        Some(a) => {
            if spec.num_partitions != -1 || spec.replication_factor != -1 {
                return Err(AdminError::new(
                    ResponseError::InvalidRequest,
                    "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.",
                ));
            }
            check_manual_assignment(a, 0, &live)?;
            a.clone()
        }
        None => {
            let partitions = if spec.num_partitions == -1 {
                broker.config.num_partitions
            } else {
                spec.num_partitions
            };
            let rf = if spec.replication_factor == -1 {
                broker.config.default_replication_factor
            } else {
                spec.replication_factor
            };
            let live = live_at_least(broker, live, usize::try_from(rf).unwrap_or(0)).await;
            auto_assign(&live, 0, partitions, i32::from(rf))?
        }
    };
    let created = Created {
        num_partitions: assignment.len() as i32,
        replication_factor: assignment.values().next().map_or(0, |r| r.len() as i16),
        config,
    };
    if validate_only {
        return Ok(created);
    }
    quota.record(assignment.len())?;
    let topic = NewTopic {
        name: spec.name.clone(),
        assignment,
        config: spec.configs.clone(),
    };
    broker.metadata.create_topic(&topic).await?;
    broker.metadata.reload_topic(&spec.name).await?;
    broker.replicas.reconcile().await;
    tracing::info!(topic = %spec.name, partitions = created.num_partitions, "created topic");
    Ok(created)
}

fn auto_assign(
    live: &[i32],
    first: i32,
    count: i32,
    rf: i32,
) -> Result<BTreeMap<i32, Vec<i32>>, AdminError> {
    let (start, shift) = if live.is_empty() {
        (0, 0)
    } else {
        let mut rng = rand::thread_rng();
        (rng.gen_range(0..live.len()), rng.gen_range(0..live.len()))
    };
    assignment::assign(live, first, count, rf, start, shift).map_err(|e| {
        let error = match e {
            AssignmentError::NoPartitions => ResponseError::InvalidPartitions,
            AssignmentError::NoReplicas | AssignmentError::NotEnoughBrokers { .. } => {
                ResponseError::InvalidReplicationFactor
            }
        };
        AdminError::new(error, e.to_string())
    })
}

fn check_manual_assignment(
    a: &BTreeMap<i32, Vec<i32>>,
    first: i32,
    live: &[i32],
) -> Result<(), AdminError> {
    let bad = |m: String| AdminError::new(ResponseError::InvalidReplicaAssignment, m);
    if a.is_empty() {
        return Err(bad("No partitions in the replica assignment.".into()));
    }
    let expected: Vec<i32> = (first..first + a.len() as i32).collect();
    if a.keys().copied().collect::<Vec<_>>() != expected {
        return Err(bad(
            "Partitions should be a consecutive 0-based integer sequence".into(),
        ));
    }
    let rf = a.values().next().map_or(0, Vec::len);
    for (p, replicas) in a {
        if replicas.is_empty() {
            return Err(bad(format!("Partition {p} has no replicas.")));
        }
        if replicas.len() != rf {
            return Err(bad(
                "All partitions should have the same number of replicas".into(),
            ));
        }
        let mut seen = replicas.clone();
        seen.sort_unstable();
        seen.dedup();
        if seen.len() != replicas.len() {
            return Err(bad(format!(
                "Duplicate brokers not allowed in replica assignment: {replicas:?} for partition id {p}."
            )));
        }
        if let Some(missing) = replicas.iter().find(|b| !live.contains(b)) {
            return Err(bad(format!(
                "Unknown broker {missing} in replica assignment for partition {p}."
            )));
        }
    }
    Ok(())
}

/// Deletes a topic (Kafka: TOPIC_DELETION_DISABLED when `delete.topic.enable=false`);
/// its partitions are charged to `quota`.
pub async fn delete_topic(
    broker: &Broker,
    name: &str,
    quota: &mut MutationQuota<'_>,
) -> Result<(), AdminError> {
    if !broker.config.delete_topic_enable {
        return Err(AdminError::new(
            ResponseError::TopicDeletionDisabled,
            "Topic deletion is disabled.",
        ));
    }
    let Some(partitions) = broker
        .metadata
        .snapshot()
        .topics
        .get(name)
        .map(|t| t.partitions.len())
    else {
        return Err(AdminError::new(
            ResponseError::UnknownTopicOrPartition,
            "This server does not host this topic-partition.",
        ));
    };
    quota.record(partitions)?;
    broker.metadata.delete_topic(name).await?;
    broker.metadata.reload_topic(name).await?;
    broker.replicas.reconcile().await;
    tracing::info!(topic = name, "deleted topic");
    Ok(())
}

/// Grows a topic to `count` partitions (CreatePartitions); the new ones
/// are charged to `quota`.
pub async fn add_partitions(
    broker: &Broker,
    name: &str,
    count: i32,
    assignment: Option<Vec<Vec<i32>>>,
    validate_only: bool,
    quota: &mut MutationQuota<'_>,
) -> Result<(), AdminError> {
    let snapshot = broker.metadata.snapshot();
    let Some(topic) = snapshot.topics.get(name) else {
        return Err(AdminError::new(
            ResponseError::UnknownTopicOrPartition,
            format!("The topic '{name}' does not exist."),
        ));
    };
    if topic.deleting {
        return Err(AdminError::new(
            ResponseError::InvalidTopicException,
            format!("The topic '{name}' is queued for deletion."),
        ));
    }
    let current = topic.partitions.len() as i32;
    if count < current {
        return Err(AdminError::new(
            ResponseError::InvalidPartitions,
            format!("Topic currently has {current} partitions, which is higher than the requested {count}."),
        ));
    }
    if count == current {
        return Err(AdminError::new(
            ResponseError::InvalidPartitions,
            format!("Topic already has {current} partitions."),
        ));
    }
    let live: Vec<i32> = snapshot.brokers.keys().copied().collect();
    let rf = topic
        .partitions
        .values()
        .next()
        .map_or(1, |p| p.replicas.len() as i32);
    let added = match assignment {
        Some(list) => {
            if list.len() as i32 != count - current {
                return Err(AdminError::new(
                    ResponseError::InvalidReplicaAssignment,
                    format!(
                        "Increasing the number of partitions by {} but {} assignments provided.",
                        count - current,
                        list.len()
                    ),
                ));
            }
            let a: BTreeMap<i32, Vec<i32>> = list
                .into_iter()
                .enumerate()
                .map(|(i, r)| (current + i as i32, r))
                .collect();
            check_manual_assignment(&a, current, &live)?;
            a
        }
        None => auto_assign(&live, current, count - current, rf)?,
    };
    if validate_only {
        return Ok(());
    }
    quota.record(added.len())?;
    broker.metadata.add_partitions(name, &added).await?;
    broker.metadata.reload_topic(name).await?;
    broker.replicas.reconcile().await;
    Ok(())
}

/// Replaces a topic's overrides after validating them.
pub async fn set_topic_config(
    broker: &Broker,
    name: &str,
    config: BTreeMap<String, String>,
    validate_only: bool,
) -> Result<(), AdminError> {
    if !broker.metadata.snapshot().topics.contains_key(name) {
        return Err(AdminError::new(
            ResponseError::UnknownTopicOrPartition,
            format!("Topic {name} does not exist."),
        ));
    }
    for (k, v) in &config {
        topic_config::validate(k, v)
            .map_err(|e| AdminError::new(ResponseError::InvalidConfig, e.to_string()))?;
    }
    TopicConfig::resolve(&broker.config, &config)
        .map_err(|e| AdminError::new(ResponseError::InvalidConfig, e.to_string()))?;
    if validate_only {
        return Ok(());
    }
    broker.metadata.set_topic_config(name, &config).await?;
    broker.metadata.reload_topic(name).await?;
    broker.replicas.reconcile().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_assignment_rules() {
        let live = [1, 2];
        let a: BTreeMap<i32, Vec<i32>> = [(0, vec![1, 2]), (1, vec![2, 1])].into();
        assert!(check_manual_assignment(&a, 0, &live).is_ok());
        let gap: BTreeMap<i32, Vec<i32>> = [(0, vec![1]), (2, vec![2])].into();
        assert!(check_manual_assignment(&gap, 0, &live).is_err());
        let dup: BTreeMap<i32, Vec<i32>> = [(0, vec![1, 1])].into();
        assert!(check_manual_assignment(&dup, 0, &live).is_err());
        let unknown: BTreeMap<i32, Vec<i32>> = [(0, vec![9])].into();
        let e = check_manual_assignment(&unknown, 0, &live).unwrap_err();
        assert_eq!(e.error, ResponseError::InvalidReplicaAssignment);
    }

    #[test]
    fn auto_assign_errors_map_to_kafka_codes() {
        let e = auto_assign(&[1], 0, 1, 3).unwrap_err();
        assert_eq!(e.error, ResponseError::InvalidReplicationFactor);
        assert_eq!(
            e.message,
            "Replication factor: 3 larger than available brokers: 1."
        );
        let e = auto_assign(&[1], 0, 0, 1).unwrap_err();
        assert_eq!(e.error, ResponseError::InvalidPartitions);
    }
}
