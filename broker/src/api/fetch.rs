//! Fetch: read whole batches from leader logs — up to the high watermark
//! for consumers, up to the log end for followers (`replica_id` set), and
//! up to the last stable offset for consumers reading committed data
//! (`isolation_level` 1), who also get the aborted transactions that
//! overlap what they read so they can drop those records.
//!
//! A follower's fetch offset is its log end offset: the leader records it
//! (moving the high watermark and perhaps adding the follower back to the
//! ISR) before reading. Consumers' long polls wake when the high watermark
//! moves, followers' when the log end moves.
//!
//! Limits as Kafka's: `partition_max_bytes` per partition, `max_bytes` for
//! the response, except that the first partition with data returns at least
//! one whole batch so a consumer never stalls on a batch larger than its
//! limits. With fewer than `min_bytes` available the request waits up to
//! `max_wait_ms`, woken by any append to one of its partitions.
//!
//! Fetch sessions (KIP-227, [`super::fetch_session`]) decide which
//! partitions a request reads — a full request's, or an incremental one's
//! whole session with the changed positions it names — and which of them
//! an incremental response carries: only those with news.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, ProducerId};
use runnel_common::kafka::topic_name;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::fetch_session::{Key, Outcome, Plan, Told};
use crate::network::frame::Request;
use crate::quota::Charged;
use crate::replica::partition::Progress;
use crate::replica::Partition;
use crate::security::acl::{Operation, ResourceType, CLUSTER_NAME};
use crate::server::Broker;

/// Fetch's `isolation_level` for committed data only (READ_COMMITTED).
const READ_COMMITTED: i8 = 1;

/// What a partition read returns.
struct Read {
    records: Bytes,
    high_watermark: i64,
    last_stable_offset: i64,
    log_start_offset: i64,
    /// For read_committed consumers: aborted transactions in the range read.
    aborted: Option<Vec<AbortedTransaction>>,
}

/// What a waiting fetch wakes on.
enum Waker {
    HighWatermark(watch::Receiver<Progress>),
    LogEnd(watch::Receiver<i64>),
}

/// A consumer's fetch answer is measured against its quota before it is
/// sent: given the answer that would go out, how long its sender must now
/// wait and whether the answer is withheld (nothing for followers and
/// unquoted consumers).
pub type Charge<'a> = &'a (dyn Fn(&FetchResponse) -> Charged + Sync);

/// The answer to a Fetch and the throttle it earned. A consumer over its
/// `consumer_byte_rate` is answered empty with the throttle, as Kafka's
/// `getThrottledResponse` (KIP-219): the records are not sent, its fetch
/// session is not told anything, so the next fetch reads them again.
pub async fn handle(
    broker: &Broker,
    req: &Request,
    request: FetchRequest,
    charge: Charge<'_>,
) -> (FetchResponse, Duration) {
    // Error answers carry no records: charged and sent as they are.
    let answer = |response: FetchResponse| {
        let throttle = charge(&response).throttle;
        (response, throttle)
    };
    // Followers need ClusterAction; consumers Read on each topic (Kafka).
    let who = super::session(req);
    let authorizer = &broker.authorizer;
    if request.replica_id.0 >= 0
        && !authorizer.authorize(
            &who,
            Operation::ClusterAction,
            ResourceType::Cluster,
            CLUSTER_NAME,
        )
    {
        return answer(
            FetchResponse::default()
                .with_error_code(ResponseError::ClusterAuthorizationFailed.code())
                .with_session_id(0),
        );
    }
    let plan = match broker
        .fetch_sessions
        .plan(&request, request.replica_id.0 >= 0)
    {
        Ok(plan) => plan,
        Err(e) => {
            broker
                .metrics
                .requests
                .kafka_error(kafka_protocol::messages::ApiKey::Fetch, e.code());
            return answer(
                FetchResponse::default()
                    .with_error_code(e.code())
                    .with_session_id(0),
            );
        }
    };
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(request.max_wait_ms.max(0) as u64);
    let min_bytes = request.min_bytes.max(0) as usize;
    loop {
        let pass = read_once(broker, &request, &plan, &|topic: &str| {
            request.replica_id.0 < 0
                && !authorizer.authorize(&who, Operation::Read, ResourceType::Topic, topic)
        });
        let now = tokio::time::Instant::now();
        if pass.bytes >= min_bytes || pass.has_error || now >= deadline || pass.wakers.is_empty() {
            if pass.has_error {
                for (_, pd) in &pass.partitions {
                    broker
                        .metrics
                        .requests
                        .kafka_error(kafka_protocol::messages::ApiKey::Fetch, pd.error_code);
                }
            }
            return respond(broker, &plan, pass.partitions, charge);
        }
        // Wait for any partition's log end offset to move, or the deadline.
        let mut set = JoinSet::new();
        for waker in pass.wakers {
            match waker {
                Waker::HighWatermark(mut rx) => set.spawn(async move {
                    let _ = rx.changed().await;
                }),
                Waker::LogEnd(mut rx) => set.spawn(async move {
                    let _ = rx.changed().await;
                }),
            };
        }
        tokio::select! {
            _ = set.join_next() => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
        set.abort_all();
    }
}

/// One pass over the plan's partitions.
struct Pass {
    /// Each partition's answer, in the plan's order.
    partitions: Vec<(Key, PartitionData)>,
    /// Record bytes read.
    bytes: usize,
    /// Whether any partition failed.
    has_error: bool,
    /// What to wait on for more data.
    wakers: Vec<Waker>,
}

/// The response to a finished pass: every partition for a full fetch, the
/// ones with news for an incremental one (the session decides), topics
/// grouped as they come in the reading order; or, when `charge` throttles
/// it, an empty one (sessionless for a full fetch, whose new session is
/// dropped: Kafka's clients start over after a throttled full fetch).
fn respond(
    broker: &Broker,
    plan: &Plan,
    partitions: Vec<(Key, PartitionData)>,
    charge: Charge<'_>,
) -> (FetchResponse, Duration) {
    let outcomes: Vec<Outcome> = partitions
        .iter()
        .map(|(_, pd)| Outcome {
            told: Told {
                high_watermark: pd.high_watermark,
                last_stable_offset: pd.last_stable_offset,
                log_start_offset: pd.log_start_offset,
            },
            has_records: pd.records.as_ref().is_some_and(|r| !r.is_empty()),
            has_error: pd.error_code != 0,
        })
        .collect();
    let carried = broker.fetch_sessions.carried(plan, &outcomes);
    let mut topics: Vec<FetchableTopicResponse> = Vec::new();
    for (((topic, _), pd), carry) in partitions.into_iter().zip(carried) {
        if !carry {
            continue;
        }
        match topics.last_mut() {
            Some(t) if t.topic.0.as_str() == topic => t.partitions.push(pd),
            _ => topics.push(
                FetchableTopicResponse::default()
                    .with_topic(topic_name(&topic))
                    .with_partitions(vec![pd]),
            ),
        }
    }
    let response = FetchResponse::default()
        .with_session_id(plan.session_id)
        .with_responses(topics);
    let Charged { throttle, withheld } = charge(&response);
    if withheld {
        let session_id = if plan.incremental {
            plan.session_id
        } else {
            broker.fetch_sessions.close(plan.session_id);
            0
        };
        return (
            FetchResponse::default().with_session_id(session_id),
            throttle,
        );
    }
    broker.fetch_sessions.record(plan, &outcomes);
    (response, throttle)
}

/// One pass over the plan's partitions: what each returns, the record
/// bytes in all, whether any failed, and receivers to wait on.
fn read_once(
    broker: &Broker,
    request: &FetchRequest,
    plan: &Plan,
    refused: &dyn Fn(&str) -> bool,
) -> Pass {
    // A follower (replica id >= 0) reads to the log end; consumers to the
    // high watermark.
    let replica = request.replica_id.0;
    let now = crate::server::now_ms();
    let mut remaining = if request.max_bytes <= 0 {
        i32::MAX as usize
    } else {
        request.max_bytes as usize
    };
    let mut total = 0usize;
    let mut has_error = false;
    let mut wakers = Vec::new();
    let mut partitions = Vec::with_capacity(plan.partitions.len());
    for ((name, index), fp) in &plan.partitions {
        let key = (name.clone(), *index);
        let mut pd = PartitionData::default()
            .with_partition_index(*index)
            .with_high_watermark(-1)
            .with_last_stable_offset(-1)
            .with_log_start_offset(-1)
            .with_preferred_read_replica(BrokerId(-1))
            .with_records(Some(Bytes::new()));
        if refused(name) {
            pd.error_code = ResponseError::TopicAuthorizationFailed.code();
            has_error = true;
            partitions.push((key, pd));
            continue;
        }
        let partition = match broker.replicas.leader_partition(name, *index) {
            Ok(p) => p,
            Err(e) => {
                pd.error_code = e.code();
                has_error = true;
                partitions.push((key, pd));
                continue;
            }
        };
        if let Some(e) = epoch_error(fp.current_leader_epoch, partition.leader_epoch()) {
            pd.error_code = e.code();
            has_error = true;
            partitions.push((key, pd));
            continue;
        }
        if replica >= 0 {
            if let Some((isr, version)) =
                partition.record_follower_fetch(replica, fp.fetch_offset, now)
            {
                broker.replicas.change_isr(partition.clone(), isr, version);
            }
            partition.record_follower_log_start(replica, fp.log_start_offset);
        }
        let max = (fp.partition_max_bytes.max(0) as usize).min(remaining);
        let min_one = total == 0;
        let bound = if replica >= 0 {
            Bound::LogEnd
        } else if request.isolation_level == READ_COMMITTED {
            Bound::LastStable
        } else {
            Bound::HighWatermark
        };
        match read_partition(&partition, fp.fetch_offset, max, min_one, bound) {
            Ok(read) => {
                pd.high_watermark = read.high_watermark;
                pd.last_stable_offset = read.last_stable_offset;
                pd.log_start_offset = read.log_start_offset;
                pd.aborted_transactions = read.aborted;
                total += read.records.len();
                remaining = remaining.saturating_sub(read.records.len());
                let sent = read.records.len() as u64;
                if replica >= 0 {
                    partition.counters.replication_bytes_out.inc_by(sent);
                } else {
                    partition.counters.bytes_out.inc_by(sent);
                }
                pd.records = Some(read.records);
                wakers.push(if replica >= 0 {
                    Waker::LogEnd(partition.subscribe_log_end())
                } else {
                    Waker::HighWatermark(partition.subscribe())
                });
            }
            Err(e) => {
                pd.error_code = e.code();
                pd.high_watermark = partition.high_watermark();
                pd.last_stable_offset = pd.high_watermark;
                pd.log_start_offset = partition.log.log_start_offset();
                has_error = true;
            }
        }
        partitions.push((key, pd));
    }
    Pass {
        partitions,
        bytes: total,
        has_error,
        wakers,
    }
}

/// How far a fetch may read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bound {
    /// Followers: everything written.
    LogEnd,
    /// read_uncommitted consumers.
    HighWatermark,
    /// read_committed consumers.
    LastStable,
}

/// Reads from `offset` up to the bound.
fn read_partition(
    p: &Partition,
    offset: i64,
    max_bytes: usize,
    min_one_batch: bool,
    bound: Bound,
) -> Result<Read, ResponseError> {
    let hw = p.high_watermark();
    let lso = p.log.last_stable_offset(hw);
    let start = p.log.log_start_offset();
    let end = p.log.log_end_offset();
    if offset < start || offset > end {
        return Err(ResponseError::OffsetOutOfRange);
    }
    let limit = match bound {
        Bound::LogEnd => end,
        Bound::HighWatermark => hw,
        Bound::LastStable => lso,
    };
    let mut read = Read {
        records: Bytes::new(),
        high_watermark: hw,
        last_stable_offset: lso,
        log_start_offset: start,
        aborted: (bound == Bound::LastStable).then(Vec::new),
    };
    if offset >= limit {
        return Ok(read);
    }
    match p.log.read(offset, max_bytes, Some(limit), min_one_batch) {
        Ok(info) => {
            if bound == Bound::LastStable && !info.records.is_empty() {
                let upper = last_offset_read(&info.records).map_or(offset, |o| o + 1);
                read.aborted = Some(
                    p.log
                        .aborted_transactions(offset, upper)
                        .into_iter()
                        .map(|a| {
                            AbortedTransaction::default()
                                .with_producer_id(ProducerId(a.producer_id))
                                .with_first_offset(a.first_offset)
                        })
                        .collect(),
                );
            }
            read.records = info.records;
            read.log_start_offset = p.log.log_start_offset();
            Ok(read)
        }
        Err(e) => {
            if e.is_storage() {
                tracing::error!(topic = %p.topic, partition = p.index, "read failed: {e}");
            }
            Err(e.response_error())
        }
    }
}

/// The last offset of the last whole batch in `records`.
fn last_offset_read(records: &[u8]) -> Option<i64> {
    use crate::log::batch::{frame, Frame};
    let mut pos = 0;
    let mut last = None;
    while let Frame::Complete(h) = frame(&records[pos..]) {
        last = Some(h.last_offset());
        pos += h.size();
    }
    last
}

/// Kafka's check of a client's `current_leader_epoch` (-1: not given).
pub fn epoch_error(requested: i32, ours: i32) -> Option<ResponseError> {
    if requested < 0 || requested == ours {
        None
    } else if requested < ours {
        Some(ResponseError::FencedLeaderEpoch)
    } else {
        Some(ResponseError::UnknownLeaderEpoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leader_epoch_checks() {
        assert_eq!(epoch_error(-1, 3), None);
        assert_eq!(epoch_error(3, 3), None);
        assert_eq!(epoch_error(2, 3), Some(ResponseError::FencedLeaderEpoch));
        assert_eq!(epoch_error(4, 3), Some(ResponseError::UnknownLeaderEpoch));
    }

    #[test]
    fn empty_partition_encodes_empty_records_not_null() {
        use kafka_protocol::protocol::Encodable;
        let pd = PartitionData::default().with_records(Some(Bytes::new()));
        let mut buf = bytes::BytesMut::new();
        pd.encode(&mut buf, 11).unwrap();
        // v11 non-flexible: records is a nullable BYTES ending the struct; the
        // length must be 0, not -1.
        assert_eq!(&buf[buf.len() - 4..], &0i32.to_be_bytes());
    }
}
