//! Group membership on Kafka's classic group protocol, from the member's
//! side: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
//! and the group's committed offsets (OffsetFetch, OffsetCommit).
//!
//! [`GroupMember`] knows nothing of what the group shares: a join carries
//! opaque protocol metadata and the leader hands out opaque assignments,
//! so the same member serves consumers (protocol type `consumer`, see
//! [`consumer`]) and Connect workers (protocol type `connect`).
//!
//! Errors that only mean "go round again" are told apart by
//! [`GroupError::needs_rejoin`] (a rebalance started, the generation moved
//! on, the member was forgotten) and [`GroupError::coordinator_moved`]
//! (ask FindCoordinator again); the member resets what it must itself
//! (its member id on UNKNOWN_MEMBER_ID, its coordinator on
//! NOT_COORDINATOR) so the caller just retries.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    DeleteGroupsRequest, FindCoordinatorRequest, GroupId, HeartbeatRequest, JoinGroupRequest,
    LeaveGroupRequest, OffsetCommitRequest, OffsetFetchRequest, SyncGroupRequest,
};
use kafka_protocol::protocol::{Request, StrBytes};

use super::admin::topic_name;
use super::client::Client;
use super::connection::Connection;
use super::error::{ErrorCode, KafkaError};

/// v4 asks with a list of keys; v0–3 with one.
const FIND_COORDINATOR_VERSIONS: (i16, i16) = (0, 3);
/// v1 is the first with a rebalance timeout.
const JOIN_GROUP_VERSIONS: (i16, i16) = (1, 7);
const SYNC_GROUP_VERSIONS: (i16, i16) = (0, 5);
const HEARTBEAT_VERSIONS: (i16, i16) = (0, 4);
const LEAVE_GROUP_VERSIONS: (i16, i16) = (0, 5);
/// v2 is the broker's oldest; v9 belongs to the new consumer protocol.
const OFFSET_COMMIT_VERSIONS: (i16, i16) = (2, 8);
/// v8 asks for several groups at once.
const OFFSET_FETCH_VERSIONS: (i16, i16) = (1, 7);
const DELETE_GROUPS_VERSIONS: (i16, i16) = (0, 2);

/// Kafka's `FindCoordinatorRequest.CoordinatorType.GROUP`.
const COORDINATOR_GROUP: i8 = 0;

const NOT_COORDINATOR: ErrorCode = ErrorCode(16);
const COORDINATOR_NOT_AVAILABLE: ErrorCode = ErrorCode(15);
const COORDINATOR_LOAD_IN_PROGRESS: ErrorCode = ErrorCode(14);
const ILLEGAL_GENERATION: ErrorCode = ErrorCode(22);
const UNKNOWN_MEMBER_ID: ErrorCode = ErrorCode(25);
const REBALANCE_IN_PROGRESS: ErrorCode = ErrorCode(27);
const MEMBER_ID_REQUIRED: ErrorCode = ErrorCode(79);
const GROUP_ID_NOT_FOUND: ErrorCode = ErrorCode(69);

/// How a member joins (Kafka's consumer and worker settings of the same
/// names).
#[derive(Debug, Clone)]
pub struct GroupConfig {
    pub group_id: String,
    /// `consumer`, or `connect` for Connect workers.
    pub protocol_type: String,
    /// `session.timeout.ms` (45 s for consumers, 10 s for Connect).
    pub session_timeout: Duration,
    /// `max.poll.interval.ms` for consumers, `rebalance.timeout.ms` for
    /// Connect: how long the coordinator waits for members to rejoin.
    pub rebalance_timeout: Duration,
    /// `heartbeat.interval.ms` (3 s).
    pub heartbeat_interval: Duration,
}

impl GroupConfig {
    /// A consumer group with Kafka's consumer defaults.
    pub fn consumer(group_id: &str) -> GroupConfig {
        GroupConfig {
            group_id: group_id.to_string(),
            protocol_type: "consumer".to_string(),
            session_timeout: Duration::from_secs(45),
            rebalance_timeout: Duration::from_secs(300),
            heartbeat_interval: Duration::from_secs(3),
        }
    }
}

/// What can go wrong for a member.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error("group {group}: {what}: {code}")]
    Broker {
        group: String,
        what: &'static str,
        code: ErrorCode,
    },
    #[error("group {group}: {message}")]
    Invalid { group: String, message: String },
}

impl GroupError {
    /// The broker's error code, when it sent one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            GroupError::Broker { code, .. } => Some(*code),
            GroupError::Kafka(e) => e.code(),
            GroupError::Invalid { .. } => None,
        }
    }

    /// The member must join again (a rebalance began, or its generation or
    /// member id is no longer the group's).
    pub fn needs_rejoin(&self) -> bool {
        matches!(
            self.code(),
            Some(
                REBALANCE_IN_PROGRESS | ILLEGAL_GENERATION | UNKNOWN_MEMBER_ID | MEMBER_ID_REQUIRED
            )
        )
    }

    /// The coordinator moved or is not ready: find it again and retry.
    pub fn coordinator_moved(&self) -> bool {
        matches!(
            self.code(),
            Some(NOT_COORDINATOR | COORDINATOR_NOT_AVAILABLE | COORDINATOR_LOAD_IN_PROGRESS)
        ) || matches!(self, GroupError::Kafka(e) if e.code().is_none())
    }
}

/// The outcome of a JoinGroup.
#[derive(Debug, Clone)]
pub struct Joined {
    pub generation_id: i32,
    /// The protocol the coordinator chose among those every member offered.
    pub protocol: String,
    pub leader_id: String,
    pub member_id: String,
    /// Every member's metadata for the chosen protocol; only the leader
    /// gets them (empty for the others).
    pub members: Vec<(String, Bytes)>,
}

impl Joined {
    pub fn is_leader(&self) -> bool {
        self.leader_id == self.member_id
    }
}

/// One member of one group.
pub struct GroupMember {
    client: Arc<Client>,
    config: GroupConfig,
    member_id: String,
    generation_id: i32,
    coordinator: Option<Arc<Connection>>,
}

impl GroupMember {
    pub fn new(client: Arc<Client>, config: GroupConfig) -> GroupMember {
        GroupMember {
            client,
            config,
            member_id: String::new(),
            generation_id: -1,
            coordinator: None,
        }
    }

    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    pub fn generation_id(&self) -> i32 {
        self.generation_id
    }

    fn group_id(&self) -> GroupId {
        GroupId(StrBytes::from_string(self.config.group_id.clone()))
    }

    fn broker_error(&mut self, what: &'static str, code: ErrorCode) -> GroupError {
        match code {
            NOT_COORDINATOR | COORDINATOR_NOT_AVAILABLE | COORDINATOR_LOAD_IN_PROGRESS => {
                self.coordinator = None
            }
            UNKNOWN_MEMBER_ID => {
                self.member_id.clear();
                self.generation_id = -1;
            }
            _ => {}
        }
        GroupError::Broker {
            group: self.config.group_id.clone(),
            what,
            code,
        }
    }

    /// The group's coordinator, asked of any broker when not known yet.
    pub async fn coordinator(&mut self) -> Result<Arc<Connection>, GroupError> {
        if let Some(c) = &self.coordinator {
            if !c.is_closed() {
                return Ok(c.clone());
            }
        }
        let conn = self.client.any().await?;
        let version = conn.version::<FindCoordinatorRequest>(FIND_COORDINATOR_VERSIONS)?;
        let mut req = FindCoordinatorRequest::default();
        req.key = StrBytes::from_string(self.config.group_id.clone());
        if version >= 1 {
            req.key_type = COORDINATOR_GROUP;
        }
        let resp = conn.call(&req, version).await?;
        if let Err(code) = ErrorCode::check(resp.error_code) {
            return Err(self.broker_error("find coordinator", code));
        }
        let node = *resp.node_id;
        // The id is what Client::node knows brokers by; metadata may not
        // have the coordinator yet when it just joined.
        let conn = match self.client.node(node).await {
            Ok(c) => c,
            Err(_) => {
                let addr = format!("{}:{}", resp.host.as_str(), resp.port);
                Arc::new(Connection::connect(&addr, self.client.config()).await?)
            }
        };
        self.coordinator = Some(conn.clone());
        Ok(conn)
    }

    /// JoinGroup with the protocols this member speaks (name and
    /// metadata, in order of preference). A coordinator that wants a
    /// member id first (MEMBER_ID_REQUIRED) is asked again with it.
    pub async fn join(&mut self, protocols: &[(String, Bytes)]) -> Result<Joined, GroupError> {
        loop {
            let conn = self.coordinator().await?;
            let version = conn.version::<JoinGroupRequest>(JOIN_GROUP_VERSIONS)?;
            let mut req = JoinGroupRequest::default();
            req.group_id = self.group_id();
            req.session_timeout_ms = millis(self.config.session_timeout);
            req.rebalance_timeout_ms = millis(self.config.rebalance_timeout);
            req.member_id = StrBytes::from_string(self.member_id.clone());
            req.protocol_type = StrBytes::from_string(self.config.protocol_type.clone());
            req.protocols = protocols
                .iter()
                .map(|(name, metadata)| {
                    let mut p = JoinGroupRequestProtocol::default();
                    p.name = StrBytes::from_string(name.clone());
                    p.metadata = metadata.clone();
                    p
                })
                .collect();
            let resp = self.rebalance_call(&conn, &req, version).await?;
            match ErrorCode::check(resp.error_code) {
                Ok(()) => {}
                Err(MEMBER_ID_REQUIRED) => {
                    self.member_id = resp.member_id.to_string();
                    continue;
                }
                Err(code) => return Err(self.broker_error("join", code)),
            }
            self.member_id = resp.member_id.to_string();
            self.generation_id = resp.generation_id;
            let protocol = resp
                .protocol_name
                .map(|p| p.to_string())
                .or_else(|| protocols.first().map(|(n, _)| n.clone()))
                .unwrap_or_default();
            return Ok(Joined {
                generation_id: resp.generation_id,
                protocol,
                leader_id: resp.leader.to_string(),
                member_id: self.member_id.clone(),
                members: resp
                    .members
                    .into_iter()
                    .map(|m| (m.member_id.to_string(), m.metadata))
                    .collect(),
            });
        }
    }

    /// A JoinGroup or SyncGroup: the coordinator holds it until every
    /// member rejoined or the rebalance timeout passed, so it may take that
    /// long (longer than the connection's request timeout).
    async fn rebalance_call<R: Request>(
        &self,
        conn: &Connection,
        req: &R,
        version: i16,
    ) -> Result<R::Response, GroupError> {
        let limit = self.config.rebalance_timeout + Duration::from_secs(5);
        let pending = conn.send(req, version).await?.with_timeout(limit);
        Ok(pending.wait().await?)
    }

    /// SyncGroup: the leader sends every member's assignment (others send
    /// none); each gets its own back.
    pub async fn sync(
        &mut self,
        joined: &Joined,
        assignments: Vec<(String, Bytes)>,
    ) -> Result<Bytes, GroupError> {
        let conn = self.coordinator().await?;
        let version = conn.version::<SyncGroupRequest>(SYNC_GROUP_VERSIONS)?;
        let mut req = SyncGroupRequest::default();
        req.group_id = self.group_id();
        req.generation_id = joined.generation_id;
        req.member_id = StrBytes::from_string(self.member_id.clone());
        if version >= 5 {
            req.protocol_type = Some(StrBytes::from_string(self.config.protocol_type.clone()));
            req.protocol_name = Some(StrBytes::from_string(joined.protocol.clone()));
        }
        req.assignments = assignments
            .into_iter()
            .map(|(member, assignment)| {
                let mut a = SyncGroupRequestAssignment::default();
                a.member_id = StrBytes::from_string(member);
                a.assignment = assignment;
                a
            })
            .collect();
        let resp = self.rebalance_call(&conn, &req, version).await?;
        if let Err(code) = ErrorCode::check(resp.error_code) {
            return Err(self.broker_error("sync", code));
        }
        Ok(resp.assignment)
    }

    /// One heartbeat; REBALANCE_IN_PROGRESS comes back as an error whose
    /// [`GroupError::needs_rejoin`] is true.
    pub async fn heartbeat(&mut self) -> Result<(), GroupError> {
        let conn = self.coordinator().await?;
        let version = conn.version::<HeartbeatRequest>(HEARTBEAT_VERSIONS)?;
        let mut req = HeartbeatRequest::default();
        req.group_id = self.group_id();
        req.generation_id = self.generation_id;
        req.member_id = StrBytes::from_string(self.member_id.clone());
        let resp = conn.call(&req, version).await?;
        ErrorCode::check(resp.error_code).map_err(|code| self.broker_error("heartbeat", code))
    }

    /// LeaveGroup, so the others rebalance at once instead of after the
    /// session timeout. Forgets the member id.
    pub async fn leave(&mut self) -> Result<(), GroupError> {
        if self.member_id.is_empty() {
            return Ok(());
        }
        let conn = self.coordinator().await?;
        let version = conn.version::<LeaveGroupRequest>(LEAVE_GROUP_VERSIONS)?;
        let mut req = LeaveGroupRequest::default();
        req.group_id = self.group_id();
        let member_id = StrBytes::from_string(std::mem::take(&mut self.member_id));
        self.generation_id = -1;
        if version >= 3 {
            let mut m = MemberIdentity::default();
            m.member_id = member_id;
            req.members.push(m);
        } else {
            req.member_id = member_id;
        }
        let resp = conn.call(&req, version).await?;
        match ErrorCode::check(resp.error_code) {
            Ok(()) | Err(UNKNOWN_MEMBER_ID) => Ok(()),
            Err(code) => Err(self.broker_error("leave", code)),
        }
    }

    /// The group's committed offsets of some partitions (`-1`: none), or
    /// of every partition it has committed for (`None`).
    pub async fn fetch_offsets(
        &mut self,
        partitions: Option<&BTreeMap<String, Vec<i32>>>,
    ) -> Result<BTreeMap<(String, i32), i64>, GroupError> {
        let conn = self.coordinator().await?;
        let version = conn.version::<OffsetFetchRequest>(OFFSET_FETCH_VERSIONS)?;
        let mut req = OffsetFetchRequest::default();
        req.group_id = self.group_id();
        req.topics = partitions.map(|partitions| {
            partitions
                .iter()
                .map(|(topic, parts)| {
                    let mut t = OffsetFetchRequestTopic::default();
                    t.name = topic_name(topic);
                    t.partition_indexes = parts.clone();
                    t
                })
                .collect()
        });
        let resp = conn.call(&req, version).await?;
        if let Err(code) = ErrorCode::check(resp.error_code) {
            return Err(self.broker_error("fetch offsets", code));
        }
        let mut out = BTreeMap::new();
        for t in resp.topics {
            for p in t.partitions {
                if let Err(code) = ErrorCode::check(p.error_code) {
                    return Err(self.broker_error("fetch offsets", code));
                }
                out.insert(
                    (t.name.0.to_string(), p.partition_index),
                    p.committed_offset,
                );
            }
        }
        Ok(out)
    }

    /// Commits offsets (the next offset to read, per partition) in this
    /// member's generation.
    pub async fn commit_offsets(
        &mut self,
        offsets: &BTreeMap<(String, i32), i64>,
    ) -> Result<(), GroupError> {
        if offsets.is_empty() {
            return Ok(());
        }
        let conn = self.coordinator().await?;
        let version = conn.version::<OffsetCommitRequest>(OFFSET_COMMIT_VERSIONS)?;
        let mut req = OffsetCommitRequest::default();
        req.group_id = self.group_id();
        req.generation_id_or_member_epoch = self.generation_id;
        req.member_id = StrBytes::from_string(self.member_id.clone());
        req.retention_time_ms = -1;
        let mut by_topic: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
        for ((topic, partition), offset) in offsets {
            let mut p = OffsetCommitRequestPartition::default();
            p.partition_index = *partition;
            p.committed_offset = *offset;
            p.committed_leader_epoch = -1;
            p.committed_metadata = Some(StrBytes::from_static_str(""));
            by_topic.entry(topic).or_default().push(p);
        }
        req.topics = by_topic
            .into_iter()
            .map(|(topic, partitions)| {
                let mut t = OffsetCommitRequestTopic::default();
                t.name = topic_name(topic);
                t.partitions = partitions;
                t
            })
            .collect();
        let resp = conn.call(&req, version).await?;
        for t in resp.topics {
            for p in t.partitions {
                if let Err(code) = ErrorCode::check(p.error_code) {
                    return Err(self.broker_error("commit offsets", code));
                }
            }
        }
        Ok(())
    }
}

/// Deletes a group that has no members (its committed offsets with it),
/// through its coordinator; a group that does not exist is no error.
pub async fn delete_group(client: Arc<Client>, group_id: &str) -> Result<(), GroupError> {
    let mut member = GroupMember::new(client, GroupConfig::consumer(group_id));
    let conn = member.coordinator().await?;
    let version = conn.version::<DeleteGroupsRequest>(DELETE_GROUPS_VERSIONS)?;
    let mut req = DeleteGroupsRequest::default();
    req.groups_names
        .push(GroupId(StrBytes::from_string(group_id.to_string())));
    let resp = conn.call(&req, version).await?;
    for r in resp.results {
        match ErrorCode::check(r.error_code) {
            Ok(()) | Err(GROUP_ID_NOT_FOUND) => {}
            Err(code) => return Err(member.broker_error("delete", code)),
        }
    }
    Ok(())
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

/// The `consumer` protocol: subscriptions and assignments as Kafka's
/// consumers encode them (a version, then the body), and the `range`
/// assignor the leader runs.
pub mod consumer {
    use std::collections::BTreeMap;

    use bytes::{BufMut, Bytes, BytesMut};
    use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition;
    use kafka_protocol::messages::{ConsumerProtocolAssignment, ConsumerProtocolSubscription};
    use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

    use super::super::admin::topic_name;

    /// Kafka's `RangeAssignor` name.
    pub const RANGE: &str = "range";

    /// The versions written: v0 is what every consumer reads.
    const VERSION: i16 = 0;

    /// Why a member's subscription or assignment cannot be read.
    #[derive(Debug, thiserror::Error)]
    #[error("cannot read a consumer protocol {what}: {message}")]
    pub struct ProtocolError {
        what: &'static str,
        message: String,
    }

    fn encode<T: Encodable>(value: &T, what: &'static str) -> Result<Bytes, ProtocolError> {
        let mut buf = BytesMut::new();
        buf.put_i16(VERSION);
        value.encode(&mut buf, VERSION).map_err(|e| ProtocolError {
            what,
            message: e.to_string(),
        })?;
        Ok(buf.freeze())
    }

    fn decode<T: Decodable>(mut data: Bytes, what: &'static str) -> Result<T, ProtocolError> {
        if data.len() < 2 {
            return Err(ProtocolError {
                what,
                message: format!("{} bytes", data.len()),
            });
        }
        let version = i16::from_be_bytes([data[0], data[1]]).clamp(0, 3);
        bytes::Buf::advance(&mut data, 2);
        T::decode(&mut data, version).map_err(|e| ProtocolError {
            what,
            message: e.to_string(),
        })
    }

    pub fn subscription(topics: &[String]) -> Result<Bytes, ProtocolError> {
        let mut s = ConsumerProtocolSubscription::default();
        s.topics = topics
            .iter()
            .map(|t| StrBytes::from_string(t.clone()))
            .collect();
        encode(&s, "subscription")
    }

    pub fn subscribed_topics(data: Bytes) -> Result<Vec<String>, ProtocolError> {
        let s: ConsumerProtocolSubscription = decode(data, "subscription")?;
        Ok(s.topics.iter().map(|t| t.to_string()).collect())
    }

    /// Partitions per topic.
    pub type Assignment = BTreeMap<String, Vec<i32>>;

    pub fn assignment(assigned: &Assignment) -> Result<Bytes, ProtocolError> {
        let mut a = ConsumerProtocolAssignment::default();
        a.assigned_partitions = assigned
            .iter()
            .map(|(topic, partitions)| {
                let mut tp = TopicPartition::default();
                tp.topic = topic_name(topic);
                tp.partitions = partitions.clone();
                tp
            })
            .collect();
        encode(&a, "assignment")
    }

    /// A member's assignment; an empty one (no bytes) is no partitions.
    pub fn assigned_partitions(data: Bytes) -> Result<Assignment, ProtocolError> {
        if data.is_empty() {
            return Ok(Assignment::new());
        }
        let a: ConsumerProtocolAssignment = decode(data, "assignment")?;
        Ok(a.assigned_partitions
            .into_iter()
            .map(|tp| (tp.topic.0.to_string(), tp.partitions))
            .collect())
    }

    /// Kafka's range assignment: per topic, its members sorted by id share
    /// the partitions in order, the first ones one more each when the
    /// count does not divide. `subscriptions`: member id → topics;
    /// `partitions`: topic → partition count.
    pub fn range(
        subscriptions: &BTreeMap<String, Vec<String>>,
        partitions: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, Assignment> {
        let mut out: BTreeMap<String, Assignment> = subscriptions
            .keys()
            .map(|m| (m.clone(), Assignment::new()))
            .collect();
        for (topic, &count) in partitions {
            let members: Vec<&String> = subscriptions
                .iter()
                .filter(|(_, topics)| topics.contains(topic))
                .map(|(m, _)| m)
                .collect();
            if members.is_empty() || count <= 0 {
                continue;
            }
            let n = members.len() as i32;
            let (per, extra) = (count / n, count % n);
            for (i, member) in members.into_iter().enumerate() {
                let i = i as i32;
                let start = per * i + i.min(extra);
                let len = per + i32::from(i < extra);
                if len > 0 {
                    if let Some(a) = out.get_mut(member) {
                        a.insert(topic.clone(), (start..start + len).collect());
                    }
                }
            }
        }
        out
    }

    /// Joins as a consumer subscribed to `topics` and returns this
    /// member's partitions: one JoinGroup and SyncGroup, the leader
    /// running [`range`] over the partition counts metadata gives.
    pub async fn join(
        member: &mut super::GroupMember,
        client: &super::Client,
        topics: &[String],
    ) -> Result<Assignment, super::GroupError> {
        let group = member.config().group_id.clone();
        let invalid = |e: ProtocolError| super::GroupError::Invalid {
            group: group.clone(),
            message: e.to_string(),
        };
        let metadata = subscription(topics).map_err(invalid)?;
        let joined = member.join(&[(RANGE.to_string(), metadata)]).await?;
        let assignments = if joined.is_leader() {
            let mut subscriptions = BTreeMap::new();
            for (id, metadata) in &joined.members {
                subscriptions.insert(
                    id.clone(),
                    subscribed_topics(metadata.clone()).map_err(invalid)?,
                );
            }
            let mut wanted: Vec<&str> = subscriptions
                .values()
                .flatten()
                .map(String::as_str)
                .collect();
            wanted.sort_unstable();
            wanted.dedup();
            let md = client.metadata(Some(wanted.as_slice()), false).await?;
            let counts = md
                .topics
                .values()
                .filter(|t| t.error.is_none())
                .map(|t| (t.name.clone(), t.partitions.len() as i32))
                .collect();
            let mut out = Vec::new();
            for (id, a) in range(&subscriptions, &counts) {
                out.push((id, assignment(&a).map_err(invalid)?));
            }
            out
        } else {
            Vec::new()
        };
        let mine = member.sync(&joined, assignments).await?;
        assigned_partitions(mine).map_err(invalid)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn subscription_and_assignment_round_trip() {
            let topics = vec!["a".to_string(), "b".to_string()];
            let bytes = subscription(&topics).unwrap();
            assert_eq!(&bytes[..2], &[0, 0]);
            assert_eq!(subscribed_topics(bytes).unwrap(), topics);
            let mut a = Assignment::new();
            a.insert("a".into(), vec![0, 2]);
            let bytes = assignment(&a).unwrap();
            assert_eq!(assigned_partitions(bytes).unwrap(), a);
            assert!(assigned_partitions(Bytes::new()).unwrap().is_empty());
            assert!(subscribed_topics(Bytes::from_static(&[0])).is_err());
        }

        #[test]
        fn range_splits_as_kafka() {
            let subs: BTreeMap<String, Vec<String>> = [
                ("m1".to_string(), vec!["t".to_string(), "u".to_string()]),
                ("m2".to_string(), vec!["t".to_string()]),
            ]
            .into_iter()
            .collect();
            let parts: BTreeMap<String, i32> = [("t".to_string(), 5), ("u".to_string(), 1)]
                .into_iter()
                .collect();
            let got = range(&subs, &parts);
            assert_eq!(got["m1"]["t"], vec![0, 1, 2]);
            assert_eq!(got["m1"]["u"], vec![0]);
            assert_eq!(got["m2"]["t"], vec![3, 4]);
            assert!(!got["m2"].contains_key("u"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_to_do_next() {
        let e = |code| GroupError::Broker {
            group: "g".into(),
            what: "heartbeat",
            code,
        };
        assert!(e(REBALANCE_IN_PROGRESS).needs_rejoin());
        assert!(e(UNKNOWN_MEMBER_ID).needs_rejoin());
        assert!(!e(NOT_COORDINATOR).needs_rejoin());
        assert!(e(NOT_COORDINATOR).coordinator_moved());
        assert!(!e(ErrorCode(30)).coordinator_moved());
        assert_eq!(
            e(REBALANCE_IN_PROGRESS).to_string(),
            "group g: heartbeat: REBALANCE_IN_PROGRESS (27)"
        );
    }
}
