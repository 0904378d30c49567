//! Fuzz harnesses over the whole path a Kafka client's bytes take before a
//! handler sees them: request header ([`frame::parse_request`]), then the
//! body decoder the dispatcher ([`super::handle`]) picks for the API key and
//! version — every key and version advertised in ApiVersions, the hand-coded
//! Produce v0–2 body, the controller's internal requests, the record sets of
//! a Produce — and the SASL tokens the broker's SASL server consumes.
//!
//! Properties: decoding returns (never panics, never aborts) and the memory
//! it really uses stays within [`committed_bound`] of the frame's length.
//!
//! Inputs: arbitrary bytes after a valid header for each (key, version);
//! "token soup" bodies made of well-formed primitives, so that arrays and
//! strings nest often enough to reach inner decoders; and valid requests
//! (defaults and filled ones) mutated at every offset — truncated, bytes
//! flipped, and any 2/4-byte or varint length replaced with huge or
//! negative values.
//!
//! # How memory is measured
//!
//! `kafka-protocol` 0.18 sizes every array from the count the peer claims
//! (`Vec::with_capacity(n)` in `protocol::types::{Array, CompactArray}`)
//! before reading one element, so the bytes *requested* from the allocator
//! are not bounded by the frame: a count of 2^31 requests 2^31 × the
//! element size. Nothing in our code runs between reading that count and
//! the reservation, and the frame size does not bound it (a 12-byte body
//! can claim 2^31 elements), so it cannot be fixed on our side short of a
//! schema-aware pre-scan or a patched crate; the broker's allocator
//! (`crate::alloc`) makes such blocks lazy reservations that cost no
//! memory. What must stay bounded is the memory the decoder *touches*.
//!
//! This test binary's global allocator ([`meter::Metered`]) therefore serves
//! blocks of [`meter::BIG`] bytes or more from their own `MAP_NORESERVE`
//! mapping (as `crate::alloc` does from 1 GiB) and, when one is freed, asks
//! the kernel (`mincore`) how many of its pages were ever touched. Smaller
//! blocks count in full. Only the fuzzing thread is metered. This is exact
//! where it matters (big blocks), needs no child process, and works under
//! any overcommit setting that allows `MAP_NORESERVE`. Zeroed blocks of
//! 1 GiB or more are flagged separately: `crate::alloc` would write every
//! byte of those (its `alloc_zeroed` is the default, alloc then zero).

use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{self as m, ApiKey, RequestHeader};
use kafka_protocol::protocol::{encode_request_header_into_buffer, Decodable, Encodable, StrBytes};
use proptest::prelude::*;

use super::api_versions::SUPPORTED;
use super::{offset_for_leader_epoch, produce, Reply};
use crate::control::message::{self as control, InternalKey, InternalRequest};
use crate::log::batch::{validate_batches, Origin};
use crate::network::frame::{self, Api};

/// Counting allocator for this test binary; see the module documentation.
mod meter {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    /// Blocks at least this large get their own mapping and are measured
    /// page by page when freed.
    pub const BIG: usize = 1 << 20;
    /// `crate::alloc`'s threshold for lazy blocks (its `LAZY_THRESHOLD`).
    const PRODUCTION_LAZY: usize = 1 << 30;
    const PAGE: usize = 4096;
    /// Pages of a big block looked at when it is freed. Blocks are filled
    /// from the front (`Vec`, `String`, `BytesMut`), so a resident page at
    /// the end of this prefix counts the whole block as touched.
    const SCAN: usize = 64 << 20;

    /// What one metered stretch of code allocated.
    #[derive(Clone, Copy, Debug)]
    pub struct Usage {
        on: bool,
        small_live: usize,
        /// Peak bytes live in blocks below [`BIG`].
        pub small_peak: usize,
        /// Bytes touched in big blocks freed meanwhile.
        pub touched_big: usize,
        /// Largest single block requested.
        pub largest: usize,
        /// Zeroed blocks of 1 GiB or more (which production would commit).
        pub zeroed_huge: usize,
    }

    impl Usage {
        const IDLE: Usage = Usage {
            on: false,
            small_live: 0,
            small_peak: 0,
            touched_big: 0,
            largest: 0,
            zeroed_huge: 0,
        };

        /// Memory the metered code really used, at most.
        pub fn committed(&self) -> usize {
            self.small_peak + self.touched_big
        }
    }

    thread_local! {
        // Const-initialised and without a destructor: safe to use from
        // inside the allocator.
        static USAGE: Cell<Usage> = const { Cell::new(Usage::IDLE) };
    }

    fn update(f: impl FnOnce(&mut Usage)) {
        let _ = USAGE.try_with(|cell| {
            let mut u = cell.get();
            if u.on {
                f(&mut u);
                cell.set(u);
            }
        });
    }

    /// Runs `f` metered; the meter is switched off even if `f` panics.
    pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Usage) {
        struct Off;
        impl Drop for Off {
            fn drop(&mut self) {
                let _ = USAGE.try_with(|c| {
                    let mut u = c.get();
                    u.on = false;
                    c.set(u);
                });
            }
        }
        USAGE.with(|c| {
            c.set(Usage {
                on: true,
                ..Usage::IDLE
            })
        });
        let off = Off;
        let r = f();
        drop(off);
        (r, USAGE.with(|c| c.get()))
    }

    fn big(layout: &Layout) -> bool {
        layout.size() >= BIG && layout.align() <= PAGE
    }

    /// Bytes of the block's pages that are resident (were touched).
    ///
    /// # Safety
    /// `ptr..ptr+size` must be one of our own mappings.
    unsafe fn touched(ptr: *mut u8, size: usize) -> usize {
        let scan = size.min(SCAN);
        let pages = scan.div_ceil(PAGE);
        let mut vec = [0u8; 4096];
        let mut resident = 0;
        let mut last = false;
        let mut done = 0;
        while done < pages {
            let n = (pages - done).min(vec.len());
            // SAFETY: the range lies inside our mapping, which is page
            // aligned; `vec` holds `n` entries.
            let rc = unsafe {
                libc::mincore(
                    ptr.add(done * PAGE).cast(),
                    n * PAGE,
                    vec.as_mut_ptr().cast(),
                )
            };
            if rc != 0 {
                // Cannot tell: count the block as touched.
                return size;
            }
            resident += vec[..n].iter().filter(|b| *b & 1 == 1).count();
            last = vec[n - 1] & 1 == 1;
            done += n;
        }
        if last && size > scan {
            return size;
        }
        resident * PAGE
    }

    /// See the module documentation of `fuzz_tests`.
    pub struct Metered;

    unsafe impl GlobalAlloc for Metered {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            update(|u| u.largest = u.largest.max(layout.size()));
            if !big(&layout) {
                update(|u| {
                    u.small_live += layout.size();
                    u.small_peak = u.small_peak.max(u.small_live);
                });
                // SAFETY: same contract as ours.
                return unsafe { System.alloc(layout) };
            }
            // SAFETY: an anonymous private mapping, checked for failure.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    layout.size(),
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            if ptr == libc::MAP_FAILED {
                std::ptr::null_mut()
            } else {
                ptr.cast()
            }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            if !big(&layout) {
                update(|u| {
                    u.largest = u.largest.max(layout.size());
                    u.small_live += layout.size();
                    u.small_peak = u.small_peak.max(u.small_live);
                });
                // SAFETY: same contract as ours.
                return unsafe { System.alloc_zeroed(layout) };
            }
            if layout.size() >= PRODUCTION_LAZY {
                update(|u| u.zeroed_huge += 1);
            }
            // SAFETY: fresh anonymous mappings are zero-filled.
            unsafe { self.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            if !big(&layout) {
                update(|u| u.small_live = u.small_live.saturating_sub(layout.size()));
                // SAFETY: `ptr` came from System with this layout.
                return unsafe { System.dealloc(ptr, layout) };
            }
            // SAFETY: `ptr` is our mapping of exactly this size.
            let t = unsafe { touched(ptr, layout.size()) };
            update(|u| u.touched_big += t);
            // SAFETY: as above.
            unsafe { libc::munmap(ptr.cast(), layout.size()) };
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: the caller guarantees the GlobalAlloc::realloc contract.
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            if !big(&layout) && !big(&new_layout) {
                update(|u| {
                    u.largest = u.largest.max(new_size);
                    u.small_live = u.small_live.saturating_sub(layout.size()) + new_size;
                    u.small_peak = u.small_peak.max(u.small_live);
                });
                // SAFETY: both blocks belong to System.
                return unsafe { System.realloc(ptr, layout, new_size) };
            }
            // SAFETY: allocate, copy the smaller size, free the old block,
            // each through the path that owns it.
            unsafe {
                let new_ptr = self.alloc(new_layout);
                if !new_ptr.is_null() {
                    std::ptr::copy_nonoverlapping(ptr, new_ptr, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                new_ptr
            }
        }
    }
}

#[global_allocator]
static METERED: meter::Metered = meter::Metered;

/// Memory one decode may really use: slack for one block just below
/// [`meter::BIG`] per nesting level still being filled (each counts in full)
/// plus a generous factor of the frame (decoded structs are larger than
/// their encoding: an element of a few bytes becomes a struct with a map of
/// tagged fields).
fn committed_bound(frame_len: usize) -> usize {
    8 * meter::BIG + 256 * frame_len
}

/// Longest one decode may take; far above a normal decode (microseconds),
/// far below a loop over a hostile count.
const SLOW: Duration = Duration::from_secs(2);

/// Case count: `PROPTEST_CASES` when set (scripts/fuzz.sh), else `default`,
/// which keeps `cargo test` quick.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(default: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(default),
        // Failing inputs are kept as unit tests, not in files beside the
        // sources that several people edit.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A request type's body decoder and the encoding of its default value.
#[derive(Clone, Copy)]
struct Codec {
    decode: fn(&mut Bytes, i16) -> Result<Decoded, String>,
    default: fn(i16) -> Option<Bytes>,
}

/// What a decoded body holds that the dispatcher goes on to parse itself.
enum Decoded {
    Other,
    /// A Produce's record sets.
    Records(Vec<Bytes>),
}

macro_rules! codec {
    ($ty:ty) => {
        Codec {
            decode: |b, v| {
                <$ty>::decode(b, v)
                    .map(|_| Decoded::Other)
                    .map_err(|e| e.to_string())
            },
            default: |v| encode_body(&<$ty>::default(), v),
        }
    };
}

fn encode_body<T: Encodable>(body: &T, version: i16) -> Option<Bytes> {
    let mut out = BytesMut::new();
    body.encode(&mut out, version).ok()?;
    Some(out.freeze())
}

/// The body type [`super::handle`] decodes for `key`; the two SASL keys are
/// decoded by the SASL server (`security::sasl_server`).
fn codec(key: ApiKey) -> Option<Codec> {
    use ApiKey as K;
    Some(match key {
        K::Produce => Codec {
            decode: |b, v| {
                let r = m::ProduceRequest::decode(b, v).map_err(|e| e.to_string())?;
                Ok(Decoded::Records(
                    r.topic_data
                        .into_iter()
                        .flat_map(|t| t.partition_data)
                        .filter_map(|p| p.records)
                        .collect(),
                ))
            },
            default: |v| encode_body(&m::ProduceRequest::default(), v),
        },
        K::Fetch => codec!(m::FetchRequest),
        K::ListOffsets => codec!(m::ListOffsetsRequest),
        K::DeleteRecords => codec!(m::DeleteRecordsRequest),
        K::Metadata => codec!(m::MetadataRequest),
        K::ApiVersions => codec!(m::ApiVersionsRequest),
        K::CreateTopics => codec!(m::CreateTopicsRequest),
        K::DeleteTopics => codec!(m::DeleteTopicsRequest),
        K::DescribeConfigs => codec!(m::DescribeConfigsRequest),
        K::CreatePartitions => codec!(m::CreatePartitionsRequest),
        K::AlterConfigs => codec!(m::AlterConfigsRequest),
        K::IncrementalAlterConfigs => codec!(m::IncrementalAlterConfigsRequest),
        K::DescribeCluster => codec!(m::DescribeClusterRequest),
        K::DescribeLogDirs => codec!(m::DescribeLogDirsRequest),
        K::FindCoordinator => codec!(m::FindCoordinatorRequest),
        K::JoinGroup => codec!(m::JoinGroupRequest),
        K::SyncGroup => codec!(m::SyncGroupRequest),
        K::Heartbeat => codec!(m::HeartbeatRequest),
        K::LeaveGroup => codec!(m::LeaveGroupRequest),
        K::OffsetCommit => codec!(m::OffsetCommitRequest),
        K::OffsetFetch => codec!(m::OffsetFetchRequest),
        K::DescribeGroups => codec!(m::DescribeGroupsRequest),
        K::ListGroups => codec!(m::ListGroupsRequest),
        K::DeleteGroups => codec!(m::DeleteGroupsRequest),
        K::OffsetDelete => codec!(m::OffsetDeleteRequest),
        K::OffsetForLeaderEpoch => codec!(m::OffsetForLeaderEpochRequest),
        K::InitProducerId => codec!(m::InitProducerIdRequest),
        K::AddPartitionsToTxn => codec!(m::AddPartitionsToTxnRequest),
        K::AddOffsetsToTxn => codec!(m::AddOffsetsToTxnRequest),
        K::EndTxn => codec!(m::EndTxnRequest),
        K::DescribeTransactions => codec!(m::DescribeTransactionsRequest),
        K::ListTransactions => codec!(m::ListTransactionsRequest),
        K::TxnOffsetCommit => codec!(m::TxnOffsetCommitRequest),
        K::WriteTxnMarkers => codec!(m::WriteTxnMarkersRequest),
        K::DescribeProducers => codec!(m::DescribeProducersRequest),
        K::SaslHandshake => codec!(m::SaslHandshakeRequest),
        K::SaslAuthenticate => codec!(m::SaslAuthenticateRequest),
        K::AlterUserScramCredentials => codec!(m::AlterUserScramCredentialsRequest),
        K::DescribeUserScramCredentials => codec!(m::DescribeUserScramCredentialsRequest),
        K::CreateAcls => codec!(m::CreateAclsRequest),
        K::DescribeAcls => codec!(m::DescribeAclsRequest),
        K::DeleteAcls => codec!(m::DeleteAclsRequest),
        K::DescribeClientQuotas => codec!(m::DescribeClientQuotasRequest),
        K::AlterClientQuotas => codec!(m::AlterClientQuotasRequest),
        _ => return None,
    })
}

/// How far a frame got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Header and body decoded (and record sets checked, for Produce).
    Decoded,
    /// Refused with an error: the connection would be closed or answered
    /// with an error code.
    Refused,
}

/// What the connection and the dispatcher do with one frame (without its
/// size prefix) before any handler runs.
fn decode_frame(frame: Bytes) -> Outcome {
    let req = match frame::parse_request(frame) {
        Ok(r) => r,
        Err(_) => return Outcome::Refused,
    };
    let version = req.version();
    let key = match req.api_key {
        Api::Internal(key) => {
            return match control::decode_request(key, version, &req.body) {
                Ok(_) => Outcome::Decoded,
                Err(_) => Outcome::Refused,
            }
        }
        Api::Kafka(key) => key,
    };
    if key == ApiKey::Produce && produce::is_legacy(version) {
        return match produce::handle_legacy(&req) {
            Reply::Send(_) => Outcome::Decoded,
            _ => Outcome::Refused,
        };
    }
    if key == ApiKey::OffsetForLeaderEpoch && offset_for_leader_epoch::is_legacy(version) {
        // Parsed by hand, before the handler looks anything up.
        return match offset_for_leader_epoch::parse_legacy(req.body.clone()) {
            Some(_) => Outcome::Decoded,
            None => Outcome::Refused,
        };
    }
    if !super::api_versions::is_supported(key, version) {
        return Outcome::Refused;
    }
    let Some(codec) = codec(key) else {
        return Outcome::Refused;
    };
    let mut body = req.body.clone();
    match (codec.decode)(&mut body, version) {
        Ok(Decoded::Records(sets)) => {
            // What `produce::append` hands the log: every batch validated.
            for set in sets {
                let _ = validate_batches(&set, 1 << 20, Origin::Client, true);
                let _ = validate_batches(&set, 1 << 20, Origin::Replication, false);
            }
            Outcome::Decoded
        }
        Ok(Decoded::Other) => Outcome::Decoded,
        Err(_) => Outcome::Refused,
    }
}

/// Decodes `frame` metered and checks the properties; returns the outcome.
fn check(frame: Bytes) -> Outcome {
    let len = frame.len();
    let started = Instant::now();
    let (outcome, usage) = meter::measure(|| decode_frame(frame));
    let took = started.elapsed();
    assert!(took < SLOW, "decoding a {len}-byte frame took {took:?}");
    assert!(
        usage.committed() <= committed_bound(len),
        "decoding a {len}-byte frame used {} bytes ({usage:?})",
        usage.committed()
    );
    assert_eq!(
        usage.zeroed_huge, 0,
        "decoding a {len}-byte frame asked for a zeroed block of 1 GiB or more"
    );
    outcome
}

/// Every (key, version) the broker advertises, plus the internal keys.
fn advertised() -> Vec<(i16, i16)> {
    let mut out: Vec<(i16, i16)> = SUPPORTED
        .iter()
        .flat_map(|(k, min, max)| (*min..=*max).map(move |v| (*k as i16, v)))
        .collect();
    for key in [4, 5, 6, 7] {
        out.push((key, control::VERSION));
    }
    out
}

/// A request header for `key` and `version`, in the version the broker
/// reads it in (v1 for the internal keys).
fn header(key: i16, version: i16) -> BytesMut {
    let mut out = BytesMut::new();
    let h = RequestHeader::default()
        .with_request_api_key(key)
        .with_request_api_version(version)
        .with_correlation_id(7)
        .with_client_id(Some(StrBytes::from_static_str("fuzz")));
    if InternalKey::from_i16(key).is_some() {
        h.encode(&mut out, 1).expect("header v1 encodes");
    } else {
        encode_request_header_into_buffer(&mut out, &h).expect("known key encodes");
    }
    out
}

fn with_header(key: i16, version: i16, body: &[u8]) -> Bytes {
    let mut out = header(key, version);
    out.put_slice(body);
    out.freeze()
}

/// A valid record set: one uncompressed v2 batch of two records.
fn record_set() -> Bytes {
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };
    let record = |offset: i64| Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset,
        sequence: -1,
        timestamp: 1_700_000_000_000,
        key: Some(Bytes::from_static(b"k")),
        value: Some(Bytes::from_static(b"value")),
        headers: Default::default(),
    };
    let mut out = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut out, &[record(0), record(1)], &options)
        .expect("a plain batch encodes");
    out.freeze()
}

fn s(text: &'static str) -> StrBytes {
    StrBytes::from_static_str(text)
}

/// Requests with nested arrays, strings and records filled in, for the
/// APIs whose bodies nest deepest. Versions where a field does not exist
/// fail to encode and are skipped.
fn filled(key: ApiKey, version: i16) -> Option<Bytes> {
    use kafka_protocol::messages::{create_topics_request as ct, fetch_request as fr};
    use kafka_protocol::messages::{join_group_request as jg, metadata_request as md};
    use kafka_protocol::messages::{offset_commit_request as oc, produce_request as pr};
    match key {
        ApiKey::Produce => encode_body(
            &m::ProduceRequest::default()
                .with_acks(-1)
                .with_timeout_ms(1000)
                .with_topic_data(vec![pr::TopicProduceData::default()
                    .with_name(m::TopicName(s("t")))
                    .with_partition_data(vec![
                        pr::PartitionProduceData::default()
                            .with_index(0)
                            .with_records(Some(record_set())),
                        pr::PartitionProduceData::default().with_index(1),
                    ])]),
            version,
        ),
        ApiKey::Fetch => encode_body(
            &m::FetchRequest::default()
                .with_replica_id(m::BrokerId(-1))
                .with_max_wait_ms(500)
                .with_topics(vec![fr::FetchTopic::default()
                    .with_topic(m::TopicName(s("t")))
                    .with_partitions(vec![
                        fr::FetchPartition::default().with_partition(0),
                        fr::FetchPartition::default().with_partition(1),
                    ])])
                .with_forgotten_topics_data(if version >= 7 {
                    vec![fr::ForgottenTopic::default()
                        .with_topic(m::TopicName(s("u")))
                        .with_partitions(vec![3, 4])]
                } else {
                    vec![]
                }),
            version,
        ),
        ApiKey::Metadata => encode_body(
            &m::MetadataRequest::default().with_topics(Some(vec![
                md::MetadataRequestTopic::default().with_name(Some(m::TopicName(s("a")))),
                md::MetadataRequestTopic::default().with_name(Some(m::TopicName(s("bb")))),
            ])),
            version,
        ),
        ApiKey::CreateTopics => encode_body(
            &m::CreateTopicsRequest::default().with_topics(vec![ct::CreatableTopic::default()
                .with_name(m::TopicName(s("t")))
                .with_num_partitions(-1)
                .with_replication_factor(-1)
                .with_assignments(vec![ct::CreatableReplicaAssignment::default()
                    .with_partition_index(0)
                    .with_broker_ids(vec![m::BrokerId(1), m::BrokerId(2)])])
                .with_configs(vec![ct::CreatableTopicConfig::default()
                    .with_name(s("retention.ms"))
                    .with_value(Some(s("1000")))])]),
            version,
        ),
        ApiKey::OffsetCommit => encode_body(
            &m::OffsetCommitRequest::default()
                .with_group_id(m::GroupId(s("g")))
                .with_member_id(s("m"))
                .with_topics(vec![oc::OffsetCommitRequestTopic::default()
                    .with_name(m::TopicName(s("t")))
                    .with_partitions(vec![oc::OffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(42)
                        .with_committed_metadata(Some(s("meta")))])]),
            version,
        ),
        ApiKey::JoinGroup => encode_body(
            &m::JoinGroupRequest::default()
                .with_group_id(m::GroupId(s("g")))
                .with_session_timeout_ms(10_000)
                .with_protocol_type(s("consumer"))
                .with_protocols(vec![jg::JoinGroupRequestProtocol::default()
                    .with_name(s("range"))
                    .with_metadata(Bytes::from_static(&[0, 1, 0, 0, 0, 1, 0, 1, b't']))]),
            version,
        ),
        _ => None,
    }
}

/// Valid frames: every advertised (key, version) with its default body,
/// the filled requests, and one of each internal request.
fn valid_frames() -> Vec<Bytes> {
    let mut out = Vec::new();
    for (key, min, max) in SUPPORTED {
        let codec = codec(*key).expect("every advertised key has a codec");
        for version in *min..=*max {
            let bodies = [(codec.default)(version), filled(*key, version)];
            for body in bodies.into_iter().flatten() {
                out.push(with_header(*key as i16, version, &body));
            }
        }
    }
    let partition = control::PartitionState {
        topic: "t".into(),
        topic_id: [7; 16],
        partition: 0,
        replicas: vec![1, 2, 3],
        leader: 1,
        leader_epoch: 4,
        isr: vec![1, 2],
        controller_epoch: 2,
        zk_version: 9,
    };
    let update = control::StateUpdate {
        controller_id: 1,
        controller_epoch: 2,
        partitions: vec![partition.clone(), partition],
    };
    for request in [
        InternalRequest::LeaderAndIsr(update.clone()),
        InternalRequest::UpdateMetadata(update),
        InternalRequest::StopReplica(control::StopReplica {
            controller_id: 1,
            controller_epoch: 2,
            delete: true,
            partitions: vec![control::TopicPartition {
                topic: "t".into(),
                topic_id: [1; 16],
                partition: 3,
            }],
        }),
        InternalRequest::ControlledShutdown(control::ControlledShutdown { broker_id: 3 }),
    ] {
        // Without the size prefix, as the connection hands frames on.
        out.push(control::encode_request(&request, 1).slice(4..));
    }
    // OffsetForLeaderEpoch v0–1, outside the protocol crate's range:
    // `[topic [partition leader_epoch]]`, written by hand as clients do.
    let mut legacy = BytesMut::new();
    legacy.put_i32(1);
    legacy.put_i16(3);
    legacy.put_slice(b"abc");
    legacy.put_i32(2);
    for (partition, epoch) in [(0, 5), (1, -1)] {
        legacy.put_i32(partition);
        legacy.put_i32(epoch);
    }
    for version in 0..=1 {
        out.push(with_header(
            ApiKey::OffsetForLeaderEpoch as i16,
            version,
            &legacy,
        ));
    }
    out
}

/// Values written over a field to make it a hostile length or count.
const WIDE: [&[u8]; 14] = [
    &[0x7f, 0xff],
    &[0x80, 0x00],
    &[0xff, 0xff],
    &[0xff, 0xfe],
    &[0x7f, 0xff, 0xff, 0xff],
    &[0x80, 0x00, 0x00, 0x00],
    &[0xff, 0xff, 0xff, 0xff],
    &[0xff, 0xff, 0xff, 0xfe],
    &[0x40, 0x00, 0x00, 0x00],
    &[0x00, 0x10, 0x00, 0x00],
    // Unsigned varints: u32::MAX, 2^31, 2^28, and one too long to be a u32.
    &[0xff, 0xff, 0xff, 0xff, 0x0f],
    &[0x80, 0x80, 0x80, 0x80, 0x08],
    &[0x80, 0x80, 0x80, 0x80, 0x01],
    &[0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
];

/// One mutation of a valid frame.
#[derive(Debug, Clone, Copy)]
enum Mutation {
    Truncate(usize),
    Flip(usize, u8),
    /// Write `WIDE[value]` over the bytes at the offset.
    Overwrite(usize, usize),
    /// Replace the byte at the offset by `WIDE[value]` (a one-byte varint
    /// length becomes a long one).
    Splice(usize, usize),
}

fn mutate(valid: &[u8], mutation: Mutation) -> Bytes {
    let mut out = valid.to_vec();
    match mutation {
        Mutation::Truncate(len) => out.truncate(len),
        Mutation::Flip(at, mask) => {
            if let Some(b) = out.get_mut(at) {
                *b ^= mask;
            }
        }
        Mutation::Overwrite(at, value) => {
            for (i, b) in WIDE[value].iter().enumerate() {
                if let Some(slot) = out.get_mut(at + i) {
                    *slot = *b;
                }
            }
        }
        Mutation::Splice(at, value) => {
            let at = at.min(out.len());
            let end = (at + 1).min(out.len());
            out.splice(at..end, WIDE[value].iter().copied());
        }
    }
    Bytes::from(out)
}

/// Every mutation of a frame of `len` bytes that the battery tries.
fn every_mutation(len: usize) -> impl Iterator<Item = Mutation> {
    (0..len).flat_map(|at| {
        let cut = std::iter::once(Mutation::Truncate(at));
        let flips = [0x01, 0x80, 0xff].map(|mask| Mutation::Flip(at, mask));
        let wide = (0..WIDE.len())
            .flat_map(move |v| [Mutation::Overwrite(at, v), Mutation::Splice(at, v)]);
        cut.chain(flips).chain(wide)
    })
}

/// One primitive of the Kafka encoding, so that generated bodies are made
/// of plausible fields rather than noise.
fn token() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // booleans, i8s, small unsigned varints (compact lengths, tag counts)
        (0u8..4).prop_map(|b| vec![b]),
        Just(vec![0xff]),
        // i16 small or -1 (string lengths)
        prop_oneof![Just(-1i16), 0i16..4].prop_map(|v| v.to_be_bytes().to_vec()),
        // i32 small or -1 (array lengths, ids)
        prop_oneof![Just(-1i32), 0i32..4].prop_map(|v| v.to_be_bytes().to_vec()),
        any::<i64>().prop_map(|v| v.to_be_bytes().to_vec()),
        // a whole string, classic and compact
        "[a-z.]{0,6}".prop_map(|t| {
            let mut out = (t.len() as i16).to_be_bytes().to_vec();
            out.extend_from_slice(t.as_bytes());
            out
        }),
        "[a-z.]{0,6}".prop_map(|t| {
            let mut out = vec![t.len() as u8 + 1];
            out.extend_from_slice(t.as_bytes());
            out
        }),
        // a UUID
        any::<[u8; 16]>().prop_map(|u| u.to_vec()),
        any::<u8>().prop_map(|b| vec![b]),
    ]
}

fn soup() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(token(), 0..24).prop_map(|t| t.concat())
}

#[test]
fn every_advertised_api_has_a_decoder() {
    for (key, _, _) in SUPPORTED {
        assert!(
            codec(*key).is_some(),
            "{key:?} is advertised but not fuzzed"
        );
    }
}

/// Each valid frame decodes, then survives every mutation of the battery.
/// Deterministic; a few seconds in release.
#[test]
fn valid_requests_decode_and_survive_every_mutation() {
    let frames = valid_frames();
    let mut decodes = 0usize;
    for valid in &frames {
        let outcome = check(valid.clone());
        assert!(
            outcome == Outcome::Decoded,
            "a valid frame was refused: {valid:?}"
        );
        for mutation in every_mutation(valid.len()) {
            check(mutate(valid, mutation));
            decodes += 1;
        }
    }
    assert!(decodes > 10_000, "only {decodes} mutated frames");
}

/// Documents the one unbounded reservation this harness tolerates (see the
/// module documentation): if `kafka-protocol` starts bounding counts by
/// the bytes left, this fails and the comment above should go.
#[test]
fn kafka_protocol_reserves_from_the_declared_count() {
    // Metadata v1: topics array claiming i32::MAX elements, then nothing.
    let frame = with_header(ApiKey::Metadata as i16, 1, &[0x7f, 0xff, 0xff, 0xff]);
    let (outcome, usage) = meter::measure(|| decode_frame(frame.clone()));
    assert_eq!(outcome, Outcome::Refused);
    assert!(usage.largest >= i32::MAX as usize, "{usage:?}");
    assert!(
        usage.committed() <= committed_bound(frame.len()),
        "{usage:?}"
    );
}

proptest! {
    #![proptest_config(config(3000))]

    /// Arbitrary bytes after a valid header, for every advertised
    /// (key, version) and the internal keys.
    #[test]
    fn arbitrary_bodies_after_a_valid_header(
        pick in any::<prop::sample::Index>(),
        body in proptest::collection::vec(any::<u8>(), 0..192),
    ) {
        let all = advertised();
        let (key, version) = all[pick.index(all.len())];
        check(with_header(key, version, &body));
    }

    /// Bodies built from well-formed primitives, so arrays and strings nest;
    /// a body that decodes is then mutated once more.
    #[test]
    fn structured_bodies_after_a_valid_header(
        pick in any::<prop::sample::Index>(),
        body in soup(),
        at in any::<prop::sample::Index>(),
        value in 0..WIDE.len(),
    ) {
        let all = advertised();
        let (key, version) = all[pick.index(all.len())];
        let frame = with_header(key, version, &body);
        if check(frame.clone()) == Outcome::Decoded && !frame.is_empty() {
            let at = at.index(frame.len());
            check(mutate(&frame, Mutation::Overwrite(at, value)));
            check(mutate(&frame, Mutation::Splice(at, value)));
        }
    }

    /// Whole frames of any key and version, header included: unknown keys,
    /// unadvertised versions, broken headers.
    #[test]
    fn arbitrary_frames(
        key in -2i16..80,
        version in -2i16..20,
        rest in proptest::collection::vec(any::<u8>(), 0..96),
    ) {
        let mut frame = BytesMut::new();
        frame.put_i16(key);
        frame.put_i16(version);
        frame.put_slice(&rest);
        check(frame.freeze());
    }

    /// Valid frames with several random mutations stacked.
    #[test]
    fn stacked_mutations_of_valid_requests(
        pick in any::<prop::sample::Index>(),
        steps in proptest::collection::vec(
            (any::<prop::sample::Index>(), 0usize..4, 0..WIDE.len(), any::<u8>()), 1..5),
    ) {
        thread_local! {
            static FRAMES: Vec<Bytes> = valid_frames();
        }
        let mut frame = FRAMES.with(|f| f[pick.index(f.len())].clone());
        for (at, kind, value, mask) in steps {
            if frame.is_empty() {
                break;
            }
            let at = at.index(frame.len());
            let mutation = match kind {
                0 => Mutation::Truncate(at),
                1 => Mutation::Flip(at, mask | 1),
                2 => Mutation::Overwrite(at, value),
                _ => Mutation::Splice(at, value),
            };
            frame = mutate(&frame, mutation);
        }
        check(frame);
    }
}

/// The SASL tokens as `security::sasl_server` consumes them: PLAIN's one
/// token, SCRAM's client-first and client-final, each valid then mutated.
mod sasl {
    use super::*;
    use runnel_common::kafka::transport::SaslMechanism;
    use runnel_common::security::plain::{encode_plain, parse_plain};
    use runnel_common::security::scram::{
        ScramClient, ScramCredential, ScramMechanism, ScramServer,
    };

    /// Runs one SCRAM exchange with the client's messages passed through
    /// `first` and `last`; returns whether the server accepted.
    fn scram(
        first: impl FnOnce(Vec<u8>) -> Vec<u8>,
        last: impl FnOnce(Vec<u8>) -> Vec<u8>,
    ) -> bool {
        let mech = ScramMechanism::Sha256;
        let mut client = ScramClient::new(mech, "alice", "secret");
        let Ok((mut server, user)) = ScramServer::start(mech, &first(client.client_first())) else {
            return false;
        };
        static CREDENTIAL: std::sync::OnceLock<ScramCredential> = std::sync::OnceLock::new();
        let credential = CREDENTIAL
            .get_or_init(|| ScramCredential::from_password(mech, b"secret", &[1; 16], 4096));
        let Ok(server_first) = server.server_first(credential.clone()) else {
            return false;
        };
        let Ok(client_final) = client.client_final(&server_first) else {
            return false;
        };
        user == "alice" && server.client_final(&last(client_final)).is_ok()
    }

    #[test]
    fn unmutated_exchanges_succeed() {
        assert!(scram(|m| m, |m| m));
        assert!(parse_plain(&encode_plain("alice", "secret")).is_ok());
    }

    fn mutate_token(token: Vec<u8>, mutation: Mutation) -> Vec<u8> {
        mutate(&token, mutation).to_vec()
    }

    fn mutation() -> impl Strategy<Value = (usize, usize, u8, usize)> {
        (0usize..200, 0usize..4, any::<u8>(), 0..WIDE.len())
    }

    fn pick(token_len: usize, (at, kind, mask, value): (usize, usize, u8, usize)) -> Mutation {
        let at = at % token_len.max(1);
        match kind {
            0 => Mutation::Truncate(at),
            1 => Mutation::Flip(at, mask | 1),
            2 => Mutation::Overwrite(at, value),
            _ => Mutation::Splice(at, value),
        }
    }

    proptest! {
        #![proptest_config(config(300))]

        #[test]
        fn mutated_scram_and_plain_tokens(
            first in mutation(),
            last in mutation(),
            which in 0u8..3,
            mechanism in ".{0,16}",
        ) {
            let _ = SaslMechanism::parse(&mechanism);
            let (_, usage) = meter::measure(|| match which {
                0 => {
                    scram(|m| { let p = pick(m.len(), first); mutate_token(m, p) }, |m| m);
                }
                1 => {
                    scram(|m| m, |m| { let p = pick(m.len(), last); mutate_token(m, p) });
                }
                _ => {
                    let token = encode_plain("alice", "secret");
                    let p = pick(token.len(), first);
                    let _ = parse_plain(&mutate_token(token, p));
                }
            });
            prop_assert!(usage.committed() <= committed_bound(256), "{:?}", usage);
        }
    }
}
