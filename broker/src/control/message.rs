//! The internal requests' wire format, without I/O.
//!
//! A request is an ordinary Kafka frame: 4-byte size, request header v1
//! (api key, api version, correlation id, client id), then a postcard
//! body. A response is size, correlation id (response header v0), postcard
//! body. The header's api version is the message version; only
//! [`VERSION`] exists. Keys are Kafka's own numbers for these APIs so that
//! captures read naturally, but the bodies are ours: the `kafka-protocol`
//! crate no longer carries them and nothing outside Runnel speaks them.

use bytes::{BufMut, Bytes, BytesMut};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::metadata::cache::LeaderAndIsr;
use crate::metadata::controller_store::PartitionUpdate;

/// The only body version there is.
pub const VERSION: i16 = 0;

/// Kafka's API keys for the controller's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InternalKey {
    /// Controller → replicas of changed partitions: their new leader and ISR.
    LeaderAndIsr = 4,
    /// Controller → replicas of a deleted topic: drop (and delete) the logs.
    StopReplica = 5,
    /// Controller → every live broker: changed partition states.
    UpdateMetadata = 6,
    /// Broker → controller: move my leaderships away, I am stopping.
    ControlledShutdown = 7,
}

impl InternalKey {
    pub fn from_i16(key: i16) -> Option<InternalKey> {
        match key {
            4 => Some(InternalKey::LeaderAndIsr),
            5 => Some(InternalKey::StopReplica),
            6 => Some(InternalKey::UpdateMetadata),
            7 => Some(InternalKey::ControlledShutdown),
            _ => None,
        }
    }
}

/// Why an internal message cannot be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("unsupported internal message version {0}")]
    Version(i16),
    #[error("undecodable internal message body: {0}")]
    Body(String),
    #[error("{0} bytes left over after the message body")]
    Trailing(usize),
    #[error("response frame too short")]
    Short,
    #[error("response correlation id {got}, expected {want}")]
    Correlation { got: i32, want: i32 },
}

/// One partition's state as the controller wrote it to coord.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionState {
    pub topic: String,
    pub topic_id: [u8; 16],
    pub partition: i32,
    pub replicas: Vec<i32>,
    pub leader: i32,
    pub leader_epoch: i32,
    pub isr: Vec<i32>,
    pub controller_epoch: i32,
    /// Version of the `state` znode after the write: receivers keep the
    /// newest of what the watch and the controller told them.
    pub zk_version: i32,
}

impl From<&PartitionUpdate> for PartitionState {
    fn from(u: &PartitionUpdate) -> PartitionState {
        PartitionState {
            topic: u.topic.clone(),
            topic_id: u.topic_id,
            partition: u.partition,
            replicas: u.replicas.clone(),
            leader: u.state.leader,
            leader_epoch: u.state.leader_epoch,
            isr: u.state.isr.clone(),
            controller_epoch: u.state.controller_epoch,
            zk_version: u.state.zk_version,
        }
    }
}

impl From<&PartitionState> for PartitionUpdate {
    fn from(s: &PartitionState) -> PartitionUpdate {
        PartitionUpdate {
            topic: s.topic.clone(),
            topic_id: s.topic_id,
            partition: s.partition,
            replicas: s.replicas.clone(),
            state: LeaderAndIsr {
                leader: s.leader,
                leader_epoch: s.leader_epoch,
                isr: s.isr.clone(),
                controller_epoch: s.controller_epoch,
                zk_version: s.zk_version,
            },
        }
    }
}

/// The body of LeaderAndIsr and of UpdateMetadata: the same content, the
/// key says whether the receiver replicates the partitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateUpdate {
    pub controller_id: i32,
    pub controller_epoch: i32,
    pub partitions: Vec<PartitionState>,
}

/// A partition of a topic, by name and id (a re-created topic has a new id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicPartition {
    pub topic: String,
    pub topic_id: [u8; 16],
    pub partition: i32,
}

/// StopReplica: stop hosting these partitions, deleting their logs when
/// `delete` (the topic is gone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopReplica {
    pub controller_id: i32,
    pub controller_epoch: i32,
    pub delete: bool,
    pub partitions: Vec<TopicPartition>,
}

/// ControlledShutdown: the broker asking to be moved off its partitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlledShutdown {
    pub broker_id: i32,
}

/// The answer to LeaderAndIsr, UpdateMetadata and StopReplica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// 0, or Kafka's STALE_CONTROLLER_EPOCH (11).
    pub error_code: i16,
}

/// The answer to ControlledShutdown.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ControlledShutdownResponse {
    /// 0, or Kafka's NOT_CONTROLLER (41) / UNKNOWN_SERVER_ERROR (-1).
    pub error_code: i16,
    /// Still led by the broker though another replica is live: worth a retry.
    pub remaining: Vec<(String, i32)>,
    /// Still led by the broker with no other live replica: a retry cannot help.
    pub stranded: Vec<(String, i32)>,
}

/// A decoded internal request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InternalRequest {
    LeaderAndIsr(StateUpdate),
    StopReplica(StopReplica),
    UpdateMetadata(StateUpdate),
    ControlledShutdown(ControlledShutdown),
}

impl InternalRequest {
    pub fn key(&self) -> InternalKey {
        match self {
            InternalRequest::LeaderAndIsr(_) => InternalKey::LeaderAndIsr,
            InternalRequest::StopReplica(_) => InternalKey::StopReplica,
            InternalRequest::UpdateMetadata(_) => InternalKey::UpdateMetadata,
            InternalRequest::ControlledShutdown(_) => InternalKey::ControlledShutdown,
        }
    }
}

fn from_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, CodecError> {
    let (value, rest) =
        postcard::take_from_bytes(body).map_err(|e| CodecError::Body(e.to_string()))?;
    if !rest.is_empty() {
        return Err(CodecError::Trailing(rest.len()));
    }
    Ok(value)
}

fn to_body<T: Serialize>(value: &T) -> Vec<u8> {
    // Our plain structs always serialise (postcard fails only on types it
    // cannot represent, such as maps with unknown length).
    postcard::to_stdvec(value).unwrap_or_default()
}

/// Decodes the body of a request whose header named `key` and `version`.
pub fn decode_request(
    key: InternalKey,
    version: i16,
    body: &[u8],
) -> Result<InternalRequest, CodecError> {
    if version != VERSION {
        return Err(CodecError::Version(version));
    }
    Ok(match key {
        InternalKey::LeaderAndIsr => InternalRequest::LeaderAndIsr(from_body(body)?),
        InternalKey::StopReplica => InternalRequest::StopReplica(from_body(body)?),
        InternalKey::UpdateMetadata => InternalRequest::UpdateMetadata(from_body(body)?),
        InternalKey::ControlledShutdown => InternalRequest::ControlledShutdown(from_body(body)?),
    })
}

/// Client id the controller and shutting-down brokers send.
const CLIENT_ID: &[u8] = b"runnel-controller";

/// A whole request frame: size, header v1, body.
pub fn encode_request(request: &InternalRequest, correlation_id: i32) -> Bytes {
    let body = match request {
        InternalRequest::LeaderAndIsr(r) | InternalRequest::UpdateMetadata(r) => to_body(r),
        InternalRequest::StopReplica(r) => to_body(r),
        InternalRequest::ControlledShutdown(r) => to_body(r),
    };
    let header_len = 2 + 2 + 4 + 2 + CLIENT_ID.len();
    let mut buf = BytesMut::with_capacity(4 + header_len + body.len());
    buf.put_i32((header_len + body.len()) as i32);
    buf.put_i16(request.key() as i16);
    buf.put_i16(VERSION);
    buf.put_i32(correlation_id);
    buf.put_i16(CLIENT_ID.len() as i16);
    buf.put_slice(CLIENT_ID);
    buf.put_slice(&body);
    buf.freeze()
}

/// A whole response frame: size, correlation id, body.
pub fn encode_response<T: Serialize>(correlation_id: i32, body: &T) -> Bytes {
    let body = to_body(body);
    let mut buf = BytesMut::with_capacity(8 + body.len());
    buf.put_i32((4 + body.len()) as i32);
    buf.put_i32(correlation_id);
    buf.put_slice(&body);
    buf.freeze()
}

/// Decodes a response frame (without its size prefix).
pub fn decode_response<T: DeserializeOwned>(
    frame: &[u8],
    correlation_id: i32,
) -> Result<T, CodecError> {
    let Some((head, body)) = frame.split_first_chunk::<4>() else {
        return Err(CodecError::Short);
    };
    let got = i32::from_be_bytes(*head);
    if got != correlation_id {
        return Err(CodecError::Correlation {
            got,
            want: correlation_id,
        });
    }
    from_body(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::frame::{parse_frame, parse_request, Api};
    use proptest::prelude::*;

    fn state_update() -> StateUpdate {
        StateUpdate {
            controller_id: 2,
            controller_epoch: 7,
            partitions: vec![PartitionState {
                topic: "t".into(),
                topic_id: [9; 16],
                partition: 3,
                replicas: vec![1, 2, 3],
                leader: 2,
                leader_epoch: 5,
                isr: vec![2, 3],
                controller_epoch: 7,
                zk_version: 11,
            }],
        }
    }

    fn all_requests() -> Vec<InternalRequest> {
        vec![
            InternalRequest::LeaderAndIsr(state_update()),
            InternalRequest::UpdateMetadata(state_update()),
            InternalRequest::StopReplica(StopReplica {
                controller_id: 1,
                controller_epoch: 3,
                delete: true,
                partitions: vec![TopicPartition {
                    topic: "gone".into(),
                    topic_id: [1; 16],
                    partition: 0,
                }],
            }),
            InternalRequest::ControlledShutdown(ControlledShutdown { broker_id: 4 }),
        ]
    }

    #[test]
    fn requests_round_trip_through_the_broker_framing() {
        for req in all_requests() {
            let mut frame = BytesMut::from(&encode_request(&req, 99)[..]);
            let frame = parse_frame(&mut frame, 1 << 20).unwrap().unwrap();
            let parsed = parse_request(frame).unwrap();
            let Api::Internal(key) = parsed.api_key else {
                panic!("{:?}", parsed.api_key)
            };
            assert_eq!(key, req.key());
            assert_eq!(parsed.header.correlation_id, 99);
            assert_eq!(
                decode_request(key, parsed.version(), &parsed.body).unwrap(),
                req
            );
        }
    }

    #[test]
    fn responses_round_trip() {
        let resp = ControlledShutdownResponse {
            error_code: 0,
            remaining: vec![("a".into(), 1)],
            stranded: vec![("b".into(), 2)],
        };
        let frame = encode_response(5, &resp);
        let decoded: ControlledShutdownResponse = decode_response(&frame[4..], 5).unwrap();
        assert_eq!(decoded, resp);
        assert_eq!(
            decode_response::<Ack>(&frame[4..], 6),
            Err(CodecError::Correlation { got: 5, want: 6 })
        );
        assert_eq!(decode_response::<Ack>(&[0, 0], 6), Err(CodecError::Short));
    }

    #[test]
    fn truncated_trailing_and_versions_are_errors() {
        let body = to_body(&state_update());
        for cut in 0..body.len() {
            assert!(decode_request(InternalKey::LeaderAndIsr, 0, &body[..cut]).is_err());
        }
        let mut long = body.clone();
        long.push(0);
        assert_eq!(
            decode_request(InternalKey::LeaderAndIsr, 0, &long),
            Err(CodecError::Trailing(1))
        );
        assert_eq!(
            decode_request(InternalKey::LeaderAndIsr, 1, &body),
            Err(CodecError::Version(1))
        );
        assert_eq!(InternalKey::from_i16(8), None);
    }

    proptest! {
        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            for key in [4, 5, 6, 7] {
                let key = InternalKey::from_i16(key).unwrap();
                let _ = decode_request(key, 0, &data);
            }
            let _ = decode_response::<ControlledShutdownResponse>(&data, 0);
        }

        #[test]
        fn huge_length_prefixes_do_not_allocate_wildly(n in 1u32..u32::MAX) {
            // A vector claiming n elements with no bytes behind it.
            let mut body = to_body(&2i32);
            body.extend_from_slice(&to_body(&7i32));
            body.extend_from_slice(&to_body(&n));
            prop_assert!(decode_request(InternalKey::UpdateMetadata, 0, &body).is_err());
        }
    }
}
