//! Produce: append each partition's record batches to its leader log.
//!
//! Errors are per partition (CORRUPT_MESSAGE, MESSAGE_TOO_LARGE,
//! UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR,
//! NOT_ENOUGH_REPLICAS); a bad `acks` fails every partition with
//! INVALID_REQUIRED_ACKS. With `acks=-1` the answer waits until every ISR
//! member has the records (the high watermark passed them); with the leader
//! as the only ISR member that is the local append.
//!
//! v0–2 are advertised (old librdkafka compresses only when v0 is in range)
//! but answered UNSUPPORTED_VERSION per partition, as Kafka 4 does; their
//! bodies are parsed here by hand because the protocol crate starts at v3.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::StrBytes;

use std::sync::Arc;
use std::time::Duration;

use super::Reply;
use crate::replica::Partition;
use crate::server::Broker;

/// The first phase of a Produce request: every partition appended (or
/// refused). With `acks=-1` the response is not final until
/// [`Pending::finish`] has waited for the ISR; the connection does that
/// while it goes on reading and appending the client's next requests, so a
/// producer with several requests in flight keeps the ISR busy.
pub struct Pending {
    response: ProduceResponse,
    /// (topic index, partition index, what to wait for).
    waits: Vec<(usize, usize, Appended)>,
    deadline: tokio::time::Instant,
}

impl Pending {
    /// Whether anything remains to wait for.
    pub fn is_done(&self) -> bool {
        self.waits.is_empty()
    }

    /// Waits for the ISR of every appended partition; the final response.
    pub async fn finish(mut self) -> ProduceResponse {
        for (t, p, appended) in std::mem::take(&mut self.waits) {
            if let Err((e, msg)) = wait_for_isr(&appended, self.deadline).await {
                let resp = &mut self.response.responses[t].partition_responses[p];
                resp.error_code = e.code();
                resp.error_message = msg.map(StrBytes::from_string);
            }
        }
        self.response
    }
}

/// Appends every partition's batches; see [`Pending`]. `refused` names the
/// error for a topic the client may not write (authorization), whose
/// partitions are answered with it and not touched.
pub fn append_all(
    broker: &Broker,
    request: ProduceRequest,
    refused: &dyn Fn(&str) -> Option<ResponseError>,
) -> Pending {
    let acks = request.acks;
    let valid_acks = matches!(acks, -1..=1);
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(request.timeout_ms.max(0) as u64);
    let mut responses = Vec::with_capacity(request.topic_data.len());
    let mut waits = Vec::new();
    for topic in request.topic_data {
        let name = topic.name.0.to_string();
        let denied = refused(&name);
        let mut partitions = Vec::with_capacity(topic.partition_data.len());
        for pd in topic.partition_data {
            let mut resp = PartitionProduceResponse::default()
                .with_index(pd.index)
                .with_base_offset(-1)
                .with_log_append_time_ms(-1)
                .with_log_start_offset(-1);
            if let Some(e) = denied {
                resp.error_code = e.code();
                partitions.push(resp);
                continue;
            }
            if !valid_acks {
                resp.error_code = ResponseError::InvalidRequiredAcks.code();
                partitions.push(resp);
                continue;
            }
            match append(
                broker,
                &name,
                pd.index,
                pd.records.unwrap_or_default(),
                acks,
            ) {
                Ok(r) => {
                    resp.base_offset = r.base_offset;
                    resp.log_append_time_ms = r.log_append_time_ms;
                    resp.log_start_offset = r.log_start_offset;
                    if acks == -1 {
                        waits.push((responses.len(), partitions.len(), r));
                    }
                }
                Err((e, msg)) => {
                    resp.error_code = e.code();
                    resp.error_message = msg.map(StrBytes::from_string);
                }
            }
            partitions.push(resp);
        }
        responses.push(
            TopicProduceResponse::default()
                .with_name(topic.name)
                .with_partition_responses(partitions),
        );
    }
    Pending {
        response: ProduceResponse::default().with_responses(responses),
        waits,
        deadline,
    }
}

struct Appended {
    base_offset: i64,
    log_append_time_ms: i64,
    log_start_offset: i64,
    /// The offset the high watermark must reach (last offset + 1).
    required: i64,
    leader_epoch: i32,
    partition: Arc<Partition>,
}

pub(crate) type Refusal = (ResponseError, Option<String>);

async fn wait_for_isr(a: &Appended, deadline: tokio::time::Instant) -> Result<(), Refusal> {
    wait_replicated(&a.partition, a.required, a.leader_epoch, deadline).await
}

/// `acks=all`: waits until the ISR has everything below `required` (the
/// high watermark passed it), leadership moved (NOT_LEADER_OR_FOLLOWER: the
/// records may be lost) or the deadline (REQUEST_TIMED_OUT). Committed with
/// an ISR below `min.insync.replicas`: NOT_ENOUGH_REPLICAS_AFTER_APPEND, as
/// Kafka answers.
pub(crate) async fn wait_replicated(
    p: &Partition,
    required: i64,
    leader_epoch: i32,
    deadline: tokio::time::Instant,
) -> Result<(), Refusal> {
    let mut progress = p.subscribe();
    loop {
        let now = *progress.borrow_and_update();
        if !now.leader || now.leader_epoch != leader_epoch {
            return Err((
                ResponseError::NotLeaderOrFollower,
                Some(format!(
                    "leadership of {}-{} moved while waiting for the ISR",
                    p.topic, p.index
                )),
            ));
        }
        if now.high_watermark >= required {
            let isr = p.state().isr.len() as i32;
            let min_isr = p.settings().min_insync_replicas;
            if isr < min_isr {
                return Err((
                    ResponseError::NotEnoughReplicasAfterAppend,
                    Some(format!(
                        "The size of the current ISR {isr} is insufficient to satisfy the min.isr requirement of {min_isr} for partition {}-{}",
                        p.topic, p.index
                    )),
                ));
            }
            return Ok(());
        }
        tokio::select! {
            r = progress.changed() => {
                if r.is_err() {
                    return Err((ResponseError::NotLeaderOrFollower, None));
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                return Err((ResponseError::RequestTimedOut, None));
            }
        }
    }
}

fn append(
    broker: &Broker,
    topic: &str,
    partition: i32,
    records: Bytes,
    acks: i16,
) -> Result<Appended, Refusal> {
    let p = broker
        .replicas
        .leader_partition(topic, partition)
        .map_err(|e| (e, None))?;
    let state = p.state();
    if acks == -1 {
        // Kafka checks the ISR against min.insync.replicas before appending.
        let isr = state.isr.len() as i32;
        let min_isr = p.settings().min_insync_replicas;
        if isr < min_isr {
            return Err((
                ResponseError::NotEnoughReplicas,
                Some(format!(
                    "The size of the current ISR {isr} is insufficient to satisfy the min.isr requirement of {min_isr} for partition {topic}-{partition}"
                )),
            ));
        }
    }
    if records.is_empty() {
        return Err((
            ResponseError::InvalidRecord,
            Some("Produce request must have at least one record batch".into()),
        ));
    }
    let bytes = records.len() as u64;
    match p.log.append_as_leader(records, state.leader_epoch) {
        Ok(info) => {
            p.counters.messages_in.inc_by(info.record_count);
            p.counters.bytes_in.inc_by(bytes);
            // A leader alone in its ISR commits at once.
            p.maybe_advance_high_watermark();
            Ok(Appended {
                base_offset: info.first_offset,
                log_append_time_ms: info.log_append_time,
                log_start_offset: info.log_start_offset,
                required: info.last_offset + 1,
                leader_epoch: state.leader_epoch,
                partition: p,
            })
        }
        Err(e) => {
            if e.is_storage() {
                tracing::error!(topic, partition, "append failed: {e}");
            } else {
                tracing::debug!(topic, partition, "append refused: {e}");
            }
            Err((e.response_error(), Some(e.to_string())))
        }
    }
}

/// Counts the response's per-partition error codes in the request metrics.
pub fn count_errors(metrics: &crate::metrics::BrokerMetrics, response: &ProduceResponse) {
    for t in &response.responses {
        for p in &t.partition_responses {
            metrics
                .requests
                .kafka_error(kafka_protocol::messages::ApiKey::Produce, p.error_code);
        }
    }
}

/// Whether a response carries any error (an acks=0 producer is told by a
/// closed connection).
pub fn has_error(response: &ProduceResponse) -> bool {
    response
        .responses
        .iter()
        .any(|t| t.partition_responses.iter().any(|p| p.error_code != 0))
}

/// Produce v0–2: advertised, never served.
pub fn is_legacy(version: i16) -> bool {
    (0..=2).contains(&version)
}

/// Answers a Produce v0–2 request with UNSUPPORTED_VERSION for every partition.
pub fn handle_legacy(req: &crate::network::frame::Request) -> Reply {
    let version = req.version();
    let Some(parsed) = parse_legacy(req.body.clone()) else {
        return Reply::Close(format!("undecodable Produce v{version}"));
    };
    if parsed.acks == 0 {
        return Reply::Close(format!("acks=0 Produce v{version} is not supported"));
    }
    let code = ResponseError::UnsupportedVersion.code();
    let mut body = BytesMut::new();
    body.put_i32(req.header.correlation_id);
    body.put_i32(parsed.topics.len() as i32);
    for (name, partitions) in &parsed.topics {
        body.put_i16(name.len() as i16);
        body.put_slice(name);
        body.put_i32(partitions.len() as i32);
        for p in partitions {
            body.put_i32(*p);
            body.put_i16(code);
            body.put_i64(-1); // base_offset
            if version >= 2 {
                body.put_i64(-1); // log_append_time
            }
        }
    }
    if version >= 1 {
        body.put_i32(0); // throttle_time_ms
    }
    let mut frame = BytesMut::with_capacity(4 + body.len());
    frame.put_i32(body.len() as i32);
    frame.put_slice(&body);
    Reply::Send(frame.freeze())
}

struct LegacyProduce {
    acks: i16,
    topics: Vec<(Bytes, Vec<i32>)>,
}

/// Parses a v0–2 body far enough to answer it (records are skipped).
fn parse_legacy(mut b: Bytes) -> Option<LegacyProduce> {
    fn need(b: &Bytes, n: usize) -> Option<()> {
        (b.remaining() >= n).then_some(())
    }
    need(&b, 10)?;
    let acks = b.get_i16();
    let _timeout = b.get_i32();
    let topic_count = b.get_i32();
    let mut topics = Vec::new();
    for _ in 0..topic_count.max(0) {
        need(&b, 2)?;
        let len = b.get_i16();
        let len = usize::try_from(len).ok()?;
        need(&b, len)?;
        let name = b.split_to(len);
        need(&b, 4)?;
        let n = b.get_i32();
        let mut partitions = Vec::new();
        for _ in 0..n.max(0) {
            need(&b, 8)?;
            partitions.push(b.get_i32());
            let size = b.get_i32();
            if size > 0 {
                need(&b, size as usize)?;
                b.advance(size as usize);
            }
        }
        topics.push((name, partitions));
    }
    Some(LegacyProduce { acks, topics })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_body_parses_and_rejects_truncation() {
        let mut b = BytesMut::new();
        b.put_i16(1);
        b.put_i32(1000);
        b.put_i32(1);
        b.put_i16(3);
        b.put_slice(b"abc");
        b.put_i32(2);
        b.put_i32(0);
        b.put_i32(3);
        b.put_slice(b"xyz");
        b.put_i32(1);
        b.put_i32(-1);
        let whole = b.freeze();
        let p = parse_legacy(whole.clone()).unwrap();
        assert_eq!(p.acks, 1);
        assert_eq!(p.topics.len(), 1);
        assert_eq!(&p.topics[0].0[..], b"abc");
        assert_eq!(p.topics[0].1, vec![0, 1]);
        for cut in 0..whole.len() - 4 {
            // Shorter bodies are rejected, never panic.
            let _ = parse_legacy(whole.slice(..cut));
        }
        assert!(parse_legacy(whole.slice(..12)).is_none());
    }
}
