//! The cluster as a Metadata response describes it: brokers, controller,
//! topics, and per partition its leader, replicas and ISR.

use std::collections::BTreeMap;

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::error::ErrorCode;

/// Metadata versions this client fills in: v1 is the first where "no
/// topics" is null (all) rather than empty; v12 is the broker's top.
pub const METADATA_VERSIONS: (i16, i16) = (1, 12);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    pub id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

impl BrokerInfo {
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    pub partition: i32,
    /// `None` when the partition's own error code is 0.
    pub error: Option<ErrorCode>,
    /// -1 when there is no leader.
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub offline: Vec<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    pub name: String,
    pub error: Option<ErrorCode>,
    pub is_internal: bool,
    /// Sorted by partition number.
    pub partitions: Vec<PartitionMetadata>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterMetadata {
    pub cluster_id: Option<String>,
    pub controller_id: i32,
    pub brokers: BTreeMap<i32, BrokerInfo>,
    pub topics: BTreeMap<String, TopicMetadata>,
}

impl ClusterMetadata {
    /// The leader of one partition, if the topic and a leader exist.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        self.topics
            .get(topic)?
            .partitions
            .iter()
            .find(|p| p.partition == partition)
            .map(|p| p.leader)
            .filter(|l| *l >= 0)
    }
}

/// A Metadata request for some topics (`None`: all of them).
pub fn request(topics: Option<&[&str]>, allow_auto_topic_creation: bool) -> MetadataRequest {
    let mut req = MetadataRequest::default();
    req.topics = topics.map(|names| {
        names
            .iter()
            .map(|n| {
                let mut t = MetadataRequestTopic::default();
                t.name = Some(TopicName(StrBytes::from_string(n.to_string())));
                t
            })
            .collect()
    });
    req.allow_auto_topic_creation = allow_auto_topic_creation;
    req
}

pub fn from_response(resp: MetadataResponse) -> ClusterMetadata {
    let brokers = resp
        .brokers
        .into_iter()
        .map(|b| {
            let id = *b.node_id;
            let info = BrokerInfo {
                id,
                host: b.host.to_string(),
                port: b.port,
                rack: b.rack.map(|r| r.to_string()),
            };
            (id, info)
        })
        .collect();
    let topics = resp
        .topics
        .into_iter()
        .filter_map(|t| {
            let name = t.name?.0.to_string();
            let mut partitions: Vec<PartitionMetadata> = t
                .partitions
                .into_iter()
                .map(|p| PartitionMetadata {
                    partition: p.partition_index,
                    error: ErrorCode::check(p.error_code).err(),
                    leader: *p.leader_id,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.iter().map(|b| **b).collect(),
                    isr: p.isr_nodes.iter().map(|b| **b).collect(),
                    offline: p.offline_replicas.iter().map(|b| **b).collect(),
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            Some((
                name.clone(),
                TopicMetadata {
                    name,
                    error: ErrorCode::check(t.error_code).err(),
                    is_internal: t.is_internal,
                    partitions,
                },
            ))
        })
        .collect();
    ClusterMetadata {
        cluster_id: resp.cluster_id.map(|c| c.to_string()),
        controller_id: *resp.controller_id,
        brokers,
        topics,
    }
}
