//! Request-time quotas in the answers: every response that has a
//! `throttle_time_ms` field carries the throttle its request earned
//! (KIP-219), so clients back off by themselves; the connection is muted
//! for that long as well (see [`super::Reply::Throttled`]).

use std::time::{Duration, Instant};

use kafka_protocol::messages as m;
use kafka_protocol::messages::ApiKey;

use crate::network::frame::Request;
use crate::quota::QuotaKind;
use crate::server::Broker;

/// A response whose `throttle_time_ms` can be set.
pub trait Throttle {
    fn with_throttle(self, ms: i32) -> Self;
}

macro_rules! throttle_field {
    ($($t:ident),* $(,)?) => {
        $(impl Throttle for m::$t {
            fn with_throttle(self, ms: i32) -> Self {
                self.with_throttle_time_ms(ms)
            }
        })*
    };
}

throttle_field!(
    AddOffsetsToTxnResponse,
    AddPartitionsToTxnResponse,
    AlterClientQuotasResponse,
    AlterConfigsResponse,
    AlterUserScramCredentialsResponse,
    ApiVersionsResponse,
    CreateAclsResponse,
    CreatePartitionsResponse,
    CreateTopicsResponse,
    DeleteAclsResponse,
    DeleteGroupsResponse,
    DeleteRecordsResponse,
    DeleteTopicsResponse,
    DescribeAclsResponse,
    DescribeClientQuotasResponse,
    DescribeClusterResponse,
    DescribeConfigsResponse,
    DescribeGroupsResponse,
    DescribeLogDirsResponse,
    DescribeProducersResponse,
    DescribeTransactionsResponse,
    DescribeUserScramCredentialsResponse,
    EndTxnResponse,
    FetchResponse,
    FindCoordinatorResponse,
    HeartbeatResponse,
    IncrementalAlterConfigsResponse,
    InitProducerIdResponse,
    JoinGroupResponse,
    LeaveGroupResponse,
    ListGroupsResponse,
    ListOffsetsResponse,
    ListTransactionsResponse,
    MetadataResponse,
    OffsetCommitResponse,
    OffsetDeleteResponse,
    OffsetFetchResponse,
    OffsetForLeaderEpochResponse,
    ProduceResponse,
    SyncGroupResponse,
    TxnOffsetCommitResponse,
);

/// WriteTxnMarkers comes from brokers and has no throttle field.
impl Throttle for m::WriteTxnMarkersResponse {
    fn with_throttle(self, _ms: i32) -> Self {
        self
    }
}

/// Requests not charged: those whose wall time is not handling time, as
/// they park until something happens (data for a Fetch, the rebalance for
/// JoinGroup and SyncGroup; Kafka charges thread time only), and the
/// brokers' own WriteTxnMarkers (Kafka exempts ClusterAction requests).
fn uncharged(key: ApiKey) -> bool {
    matches!(
        key,
        ApiKey::Fetch | ApiKey::JoinGroup | ApiKey::SyncGroup | ApiKey::WriteTxnMarkers
    )
}

/// Charges the time since `started` to the sender's `request_percentage`
/// quota: the throttle it earned (zero without such a quota).
pub fn charge(broker: &Broker, req: &Request, key: ApiKey, started: Instant) -> Duration {
    if uncharged(key) || !broker.quotas.enforces(QuotaKind::RequestPercentage) {
        return Duration::ZERO;
    }
    let client_id = req.header.client_id.as_deref().unwrap_or_default();
    broker
        .quotas
        .record_time(&req.principal, client_id, started.elapsed())
}

/// A throttle as the wire's milliseconds.
pub fn millis(throttle: Duration) -> i32 {
    throttle.as_millis().min(i32::MAX as u128) as i32
}
