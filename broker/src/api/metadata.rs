//! Metadata: brokers, cluster id, controller, and topics with their
//! partitions' leader, replicas and ISR; auto-creates requested topics when
//! the client allows it and `auto.create.topics.enable` is on.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::metadata::{Snapshot, TopicInfo};
use crate::network::frame::Request;
use crate::security::acl::{Operation, ResourceType, CLUSTER_NAME};
use crate::server::Broker;
use crate::topic_admin::{self, CreateSpec};

use super::topic_names;

pub async fn handle(broker: &Broker, req: &Request, request: MetadataRequest) -> MetadataResponse {
    let version = req.header.request_api_version;
    let listener: &str = &req.listener;
    // Kafka: topics the principal may not Describe are left out of a
    // request for all topics and answered TOPIC_AUTHORIZATION_FAILED when
    // named; auto-creation also needs Create (on the cluster or the topic).
    let who = super::session(req);
    let authorizer = &broker.authorizer;
    let may =
        |op: Operation, topic: &str| authorizer.authorize(&who, op, ResourceType::Topic, topic);
    let may_create = |topic: &str| {
        authorizer.authorize(&who, Operation::Create, ResourceType::Cluster, CLUSTER_NAME)
            || may(Operation::Create, topic)
    };
    // v0: an empty list means all topics; v1+: null means all.
    let requested: Option<Vec<String>> = match request.topics {
        None => None,
        Some(t) if t.is_empty() && version == 0 => None,
        Some(t) => Some(
            t.into_iter()
                .filter_map(|t| t.name.map(|n| n.0.to_string()))
                .collect(),
        ),
    };
    // Before v4 there is no flag and creation is always allowed.
    let allow_auto_create = version < 4 || request.allow_auto_topic_creation;
    let mut snapshot = broker.metadata.snapshot();
    let mut creation_errors = Vec::new();
    if let Some(names) = &requested {
        let mut created = false;
        for name in names {
            if snapshot.topics.contains_key(name) {
                continue;
            }
            if !may(Operation::Describe, name) {
                creation_errors.push((name.clone(), ResponseError::TopicAuthorizationFailed));
                continue;
            }
            if topic_names::validate(name).is_err() {
                creation_errors.push((name.clone(), ResponseError::InvalidTopicException));
                continue;
            }
            if !(allow_auto_create && broker.config.auto_create_topics_enable) {
                creation_errors.push((name.clone(), ResponseError::UnknownTopicOrPartition));
                continue;
            }
            if !may_create(name) {
                creation_errors.push((name.clone(), ResponseError::TopicAuthorizationFailed));
                continue;
            }
            let spec = CreateSpec {
                name: name.clone(),
                num_partitions: -1,
                replication_factor: -1,
                assignment: None,
                configs: Default::default(),
            };
            match topic_admin::create_topic(
                broker,
                &spec,
                false,
                &mut crate::quota::MutationQuota::unbounded(),
            )
            .await
            {
                Ok(_) => created = true,
                Err(e) if e.error == ResponseError::TopicAlreadyExists => created = true,
                Err(e) => {
                    tracing::warn!(topic = %name, "auto-creation failed: {}", e.message);
                    let error = match e.error {
                        ResponseError::InvalidReplicationFactor
                        | ResponseError::InvalidPartitions => ResponseError::LeaderNotAvailable,
                        other => other,
                    };
                    creation_errors.push((name.clone(), error));
                }
            }
        }
        if created {
            snapshot = broker.metadata.snapshot();
        }
    }

    let mut topics = Vec::new();
    match &requested {
        None => {
            for (name, t) in &snapshot.topics {
                if may(Operation::Describe, name) {
                    topics.push(describe_topic(&snapshot, t));
                }
            }
        }
        Some(names) => {
            for name in names {
                let visible = snapshot
                    .topics
                    .get(name)
                    .filter(|_| may(Operation::Describe, name));
                if let Some(t) = visible {
                    topics.push(describe_topic(&snapshot, t));
                } else if snapshot.topics.contains_key(name) {
                    topics.push(
                        MetadataResponseTopic::default()
                            .with_error_code(ResponseError::TopicAuthorizationFailed.code())
                            .with_name(Some(TopicName(StrBytes::from_string(name.clone())))),
                    );
                } else {
                    let error = creation_errors
                        .iter()
                        .find(|(n, _)| n == name)
                        .map_or(ResponseError::UnknownTopicOrPartition, |(_, e)| *e);
                    topics.push(
                        MetadataResponseTopic::default()
                            .with_error_code(error.code())
                            .with_name(Some(TopicName(StrBytes::from_string(name.clone())))),
                    );
                }
            }
        }
    }

    MetadataResponse::default()
        .with_brokers(brokers(broker, &snapshot, listener))
        .with_cluster_id(Some(StrBytes::from_string(broker.cluster_id.clone())))
        .with_controller_id(BrokerId(snapshot.controller_id))
        .with_topics(topics)
        .with_cluster_authorized_operations(i32::MIN)
}

/// Live brokers with their endpoints on `listener` (the one the request
/// came in on), this one included even before its registration is read
/// back. A broker without that listener is left out, as Kafka does.
pub fn brokers(
    broker: &Broker,
    snapshot: &Snapshot,
    listener: &str,
) -> Vec<MetadataResponseBroker> {
    let entry = |id: i32, host: &str, port: i32, rack: Option<&String>| {
        MetadataResponseBroker::default()
            .with_node_id(BrokerId(id))
            .with_host(StrBytes::from_string(host.to_string()))
            .with_port(port)
            .with_rack(rack.cloned().map(StrBytes::from_string))
    };
    let mut out: Vec<MetadataResponseBroker> = snapshot
        .brokers
        .values()
        .filter_map(|b| {
            let (host, port) = b.endpoint(listener)?;
            Some(entry(b.id, host, port, b.rack.as_ref()))
        })
        .collect();
    if !snapshot.brokers.contains_key(&broker.id) {
        if let Some(own) = broker.advertised_all.iter().find(|l| l.name == listener) {
            out.push(entry(
                broker.id,
                &own.host,
                i32::from(own.port),
                broker.config.rack.as_ref(),
            ));
        }
    }
    out
}

fn describe_topic(snapshot: &Snapshot, t: &TopicInfo) -> MetadataResponseTopic {
    let partitions = t
        .partitions
        .iter()
        .map(|(p, info)| {
            let leader = info.leader();
            let alive = |b: &i32| snapshot.brokers.contains_key(b);
            let error = if leader < 0 || !alive(&leader) {
                ResponseError::LeaderNotAvailable.code()
            } else {
                0
            };
            MetadataResponsePartition::default()
                .with_error_code(error)
                .with_partition_index(*p)
                .with_leader_id(BrokerId(leader))
                .with_leader_epoch(info.leader_epoch())
                .with_replica_nodes(info.replicas.iter().map(|b| BrokerId(*b)).collect())
                .with_isr_nodes(info.isr().iter().map(|b| BrokerId(*b)).collect())
                .with_offline_replicas(
                    info.replicas
                        .iter()
                        .filter(|b| !alive(b))
                        .map(|b| BrokerId(*b))
                        .collect(),
                )
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(t.name.clone()))))
        .with_topic_id(uuid::Uuid::from_bytes(t.topic_id))
        .with_is_internal(topic_names::is_internal(&t.name))
        .with_partitions(partitions)
        .with_topic_authorized_operations(i32::MIN)
}
