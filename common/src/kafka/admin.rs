//! Topic administration: what `kafka-topics.sh` does, on [`Client`].
//!
//! Each call returns one result per topic, because Kafka answers each
//! topic of a batch separately (one may exist already while another is
//! created).

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    IncrementalAlterConfigsRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::client::Client;
use super::error::{ErrorCode, KafkaError};

const CREATE_TOPICS_VERSIONS: (i16, i16) = (2, 7);
const DELETE_TOPICS_VERSIONS: (i16, i16) = (1, 6);
const CREATE_PARTITIONS_VERSIONS: (i16, i16) = (0, 3);
const DESCRIBE_CONFIGS_VERSIONS: (i16, i16) = (1, 4);
const ALTER_CONFIGS_VERSIONS: (i16, i16) = (0, 1);
/// Kafka's `ConfigResource.Type.TOPIC`.
const RESOURCE_TOPIC: i8 = 2;
/// Kafka's `AlterConfigOp.OpType.SET`.
const OP_SET: i8 = 0;

/// A topic to create. `None` partitions or replication factor: the
/// broker's defaults (`num.partitions`, `default.replication.factor`).
#[derive(Debug, Clone, Default)]
pub struct NewTopic {
    pub name: String,
    pub partitions: Option<i32>,
    pub replication_factor: Option<i16>,
    pub configs: Vec<(String, String)>,
}

/// Where a config value comes from (Kafka's `ConfigSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    Unknown,
    /// Set on this topic (`/config/topics/<t>`): what `--describe` lists.
    DynamicTopic,
    DynamicBroker,
    DynamicDefaultBroker,
    StaticBroker,
    Default,
    Other(i8),
}

impl ConfigSource {
    fn from_code(code: i8) -> Self {
        match code {
            0 => ConfigSource::Unknown,
            1 => ConfigSource::DynamicTopic,
            2 => ConfigSource::DynamicBroker,
            3 => ConfigSource::DynamicDefaultBroker,
            4 => ConfigSource::StaticBroker,
            5 => ConfigSource::Default,
            other => ConfigSource::Other(other),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    pub value: Option<String>,
    pub source: ConfigSource,
    pub read_only: bool,
    pub is_sensitive: bool,
}

/// A topic name as the protocol messages carry it.
pub fn topic_name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn topic_result(
    what: &str,
    topic: &str,
    code: i16,
    message: Option<&StrBytes>,
) -> Result<(), KafkaError> {
    ErrorCode::check(code).map_err(|code| {
        KafkaError::broker(format!("{what} {topic}"), code, message.map(|m| m.as_str()))
    })
}

impl Client {
    /// Creates topics through the controller; waits up to `timeout_ms` on
    /// the broker side for them to exist.
    pub async fn create_topics(
        &self,
        topics: &[NewTopic],
        timeout_ms: i32,
    ) -> Result<Vec<(String, Result<(), KafkaError>)>, KafkaError> {
        let conn = self.controller().await?;
        let version = conn.version::<CreateTopicsRequest>(CREATE_TOPICS_VERSIONS)?;
        let mut req = CreateTopicsRequest::default();
        req.timeout_ms = timeout_ms;
        for t in topics {
            let mut c = CreatableTopic::default();
            c.name = topic_name(&t.name);
            // v2–3 have no "broker default": Kafka's own defaults stand in.
            c.num_partitions = t.partitions.unwrap_or(if version >= 4 { -1 } else { 1 });
            c.replication_factor =
                t.replication_factor
                    .unwrap_or(if version >= 4 { -1 } else { 1 });
            c.configs = t
                .configs
                .iter()
                .map(|(k, v)| {
                    let mut cfg = CreatableTopicConfig::default();
                    cfg.name = str_bytes(k);
                    cfg.value = Some(str_bytes(v));
                    cfg
                })
                .collect();
            req.topics.push(c);
        }
        let resp = conn.call(&req, version).await?;
        Ok(resp
            .topics
            .iter()
            .map(|r| {
                let topic = r.name.0.to_string();
                let res = topic_result(
                    "create topic",
                    &topic,
                    r.error_code,
                    r.error_message.as_ref(),
                );
                (topic, res)
            })
            .collect())
    }

    /// Deletes topics through the controller.
    pub async fn delete_topics(
        &self,
        topics: &[&str],
        timeout_ms: i32,
    ) -> Result<Vec<(String, Result<(), KafkaError>)>, KafkaError> {
        let conn = self.controller().await?;
        let version = conn.version::<DeleteTopicsRequest>(DELETE_TOPICS_VERSIONS)?;
        let mut req = DeleteTopicsRequest::default();
        req.timeout_ms = timeout_ms;
        if version >= 6 {
            req.topics = topics
                .iter()
                .map(|t| {
                    let mut s = DeleteTopicState::default();
                    s.name = Some(topic_name(t));
                    s
                })
                .collect();
        } else {
            req.topic_names = topics.iter().map(|t| topic_name(t)).collect();
        }
        let resp = conn.call(&req, version).await?;
        Ok(resp
            .responses
            .iter()
            .map(|r| {
                let topic = r.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default();
                let res = topic_result(
                    "delete topic",
                    &topic,
                    r.error_code,
                    r.error_message.as_ref(),
                );
                (topic, res)
            })
            .collect())
    }

    /// Grows a topic to `count` partitions (Kafka never shrinks one).
    pub async fn create_partitions(
        &self,
        topic: &str,
        count: i32,
        timeout_ms: i32,
    ) -> Result<(), KafkaError> {
        let conn = self.controller().await?;
        let version = conn.version::<CreatePartitionsRequest>(CREATE_PARTITIONS_VERSIONS)?;
        let mut req = CreatePartitionsRequest::default();
        req.timeout_ms = timeout_ms;
        let mut t = CreatePartitionsTopic::default();
        t.name = topic_name(topic);
        t.count = count;
        t.assignments = None;
        req.topics.push(t);
        let resp = conn.call(&req, version).await?;
        for r in &resp.results {
            topic_result(
                "add partitions to",
                topic,
                r.error_code,
                r.error_message.as_ref(),
            )?;
        }
        Ok(())
    }

    /// Every config of a topic, with where its value comes from.
    pub async fn describe_topic_configs(
        &self,
        topic: &str,
    ) -> Result<Vec<ConfigEntry>, KafkaError> {
        let conn = self.any().await?;
        let version = conn.version::<DescribeConfigsRequest>(DESCRIBE_CONFIGS_VERSIONS)?;
        let mut req = DescribeConfigsRequest::default();
        let mut res = DescribeConfigsResource::default();
        res.resource_type = RESOURCE_TOPIC;
        res.resource_name = str_bytes(topic);
        res.configuration_keys = None;
        req.resources.push(res);
        let resp = conn.call(&req, version).await?;
        let mut out = Vec::new();
        for r in resp.results {
            topic_result(
                "describe configs of",
                topic,
                r.error_code,
                r.error_message.as_ref(),
            )?;
            out.extend(r.configs.into_iter().map(|c| ConfigEntry {
                name: c.name.to_string(),
                value: c.value.map(|v| v.to_string()),
                source: ConfigSource::from_code(c.config_source),
                read_only: c.read_only,
                is_sensitive: c.is_sensitive,
            }));
        }
        Ok(out)
    }

    /// Sets topic configs, leaving the others as they are.
    pub async fn alter_topic_configs(
        &self,
        topic: &str,
        configs: &[(String, String)],
    ) -> Result<(), KafkaError> {
        let conn = self.any().await?;
        let version = conn.version::<IncrementalAlterConfigsRequest>(ALTER_CONFIGS_VERSIONS)?;
        let mut req = IncrementalAlterConfigsRequest::default();
        let mut res = AlterConfigsResource::default();
        res.resource_type = RESOURCE_TOPIC;
        res.resource_name = str_bytes(topic);
        res.configs = configs
            .iter()
            .map(|(k, v)| {
                let mut c = AlterableConfig::default();
                c.name = str_bytes(k);
                c.config_operation = OP_SET;
                c.value = Some(str_bytes(v));
                c
            })
            .collect();
        req.resources.push(res);
        let resp = conn.call(&req, version).await?;
        for r in &resp.responses {
            topic_result(
                "alter configs of",
                topic,
                r.error_code,
                r.error_message.as_ref(),
            )?;
        }
        Ok(())
    }
}
