//! ApiVersions: the API keys and version ranges this broker serves.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader};

use crate::server::Broker;

/// Advertised ranges. Produce is advertised from v0 because librdkafka
/// before 2.x only compresses when v0 is in range; v0–2 are answered with
/// UNSUPPORTED_VERSION (see [`super::produce::is_legacy`]), as Kafka 4 does.
/// Fetch stops at 12: v13+ address topics by id. OffsetForLeaderEpoch v0–1,
/// below the protocol crate's range, are coded by hand
/// ([`super::offset_for_leader_epoch::handle_legacy`]).
pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 0, 12),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::DescribeCluster, 0, 1),
    (ApiKey::DescribeLogDirs, 1, 4),
    (ApiKey::FindCoordinator, 0, 6),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::OffsetDelete, 0, 0),
    (ApiKey::OffsetForLeaderEpoch, 0, 4),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::AddPartitionsToTxn, 0, 3),
    (ApiKey::AddOffsetsToTxn, 0, 3),
    (ApiKey::EndTxn, 0, 3),
    (ApiKey::DescribeTransactions, 0, 0),
    (ApiKey::ListTransactions, 0, 0),
    (ApiKey::TxnOffsetCommit, 0, 3),
    (ApiKey::WriteTxnMarkers, 1, 1),
    (ApiKey::DescribeProducers, 0, 0),
    (ApiKey::SaslHandshake, 0, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
    (ApiKey::AlterUserScramCredentials, 0, 0),
    (ApiKey::DescribeUserScramCredentials, 0, 0),
    (ApiKey::CreateAcls, 1, 3),
    (ApiKey::DescribeAcls, 1, 3),
    (ApiKey::DeleteAcls, 1, 3),
    (ApiKey::DescribeClientQuotas, 0, 1),
    (ApiKey::AlterClientQuotas, 0, 1),
];

/// Whether `version` of `key` is inside the advertised range.
/// Whether this broker serves `key` at any version.
pub fn is_served(key: ApiKey) -> bool {
    SUPPORTED.iter().any(|(k, _, _)| *k == key)
}

pub fn is_supported(key: ApiKey, version: i16) -> bool {
    SUPPORTED
        .iter()
        .any(|(k, min, max)| *k == key && (*min..=*max).contains(&version))
}

fn api_keys() -> Vec<ApiVersion> {
    SUPPORTED
        .iter()
        .map(|(k, min, max)| {
            ApiVersion::default()
                .with_api_key(*k as i16)
                .with_min_version(*min)
                .with_max_version(*max)
        })
        .collect()
}

pub async fn handle(
    _broker: &Broker,
    _header: &RequestHeader,
    _request: ApiVersionsRequest,
) -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(api_keys())
}

/// The v0 answer to an ApiVersions version we do not speak: Kafka's error
/// response carries the ApiVersions range so the client can pick a version.
pub fn unsupported_version_response() -> ApiVersionsResponse {
    let own = SUPPORTED
        .iter()
        .filter(|(k, _, _)| *k == ApiKey::ApiVersions)
        .map(|(k, min, max)| {
            ApiVersion::default()
                .with_api_key(*k as i16)
                .with_min_version(*min)
                .with_max_version(*max)
        })
        .collect();
    ApiVersionsResponse::default()
        .with_error_code(ResponseError::UnsupportedVersion.code())
        .with_api_keys(own)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::protocol::Message;

    #[test]
    fn advertised_ranges_are_encodable_by_the_protocol_crate() {
        use kafka_protocol::messages as m;
        let crate_range = |k: ApiKey| match k {
            ApiKey::Produce => m::ProduceRequest::VERSIONS,
            ApiKey::Fetch => m::FetchRequest::VERSIONS,
            ApiKey::ListOffsets => m::ListOffsetsRequest::VERSIONS,
            ApiKey::DeleteRecords => m::DeleteRecordsRequest::VERSIONS,
            ApiKey::DescribeLogDirs => m::DescribeLogDirsRequest::VERSIONS,
            ApiKey::AlterConfigs => m::AlterConfigsRequest::VERSIONS,
            ApiKey::Metadata => m::MetadataRequest::VERSIONS,
            ApiKey::ApiVersions => m::ApiVersionsRequest::VERSIONS,
            ApiKey::CreateTopics => m::CreateTopicsRequest::VERSIONS,
            ApiKey::DeleteTopics => m::DeleteTopicsRequest::VERSIONS,
            ApiKey::DescribeConfigs => m::DescribeConfigsRequest::VERSIONS,
            ApiKey::CreatePartitions => m::CreatePartitionsRequest::VERSIONS,
            ApiKey::IncrementalAlterConfigs => m::IncrementalAlterConfigsRequest::VERSIONS,
            ApiKey::DescribeCluster => m::DescribeClusterRequest::VERSIONS,
            ApiKey::FindCoordinator => m::FindCoordinatorRequest::VERSIONS,
            ApiKey::JoinGroup => m::JoinGroupRequest::VERSIONS,
            ApiKey::SyncGroup => m::SyncGroupRequest::VERSIONS,
            ApiKey::Heartbeat => m::HeartbeatRequest::VERSIONS,
            ApiKey::LeaveGroup => m::LeaveGroupRequest::VERSIONS,
            ApiKey::OffsetCommit => m::OffsetCommitRequest::VERSIONS,
            ApiKey::OffsetFetch => m::OffsetFetchRequest::VERSIONS,
            ApiKey::DescribeGroups => m::DescribeGroupsRequest::VERSIONS,
            ApiKey::ListGroups => m::ListGroupsRequest::VERSIONS,
            ApiKey::DeleteGroups => m::DeleteGroupsRequest::VERSIONS,
            ApiKey::OffsetDelete => m::OffsetDeleteRequest::VERSIONS,
            ApiKey::OffsetForLeaderEpoch => m::OffsetForLeaderEpochRequest::VERSIONS,
            ApiKey::InitProducerId => m::InitProducerIdRequest::VERSIONS,
            ApiKey::AddPartitionsToTxn => m::AddPartitionsToTxnRequest::VERSIONS,
            ApiKey::AddOffsetsToTxn => m::AddOffsetsToTxnRequest::VERSIONS,
            ApiKey::EndTxn => m::EndTxnRequest::VERSIONS,
            ApiKey::DescribeTransactions => m::DescribeTransactionsRequest::VERSIONS,
            ApiKey::ListTransactions => m::ListTransactionsRequest::VERSIONS,
            ApiKey::TxnOffsetCommit => m::TxnOffsetCommitRequest::VERSIONS,
            ApiKey::WriteTxnMarkers => m::WriteTxnMarkersRequest::VERSIONS,
            ApiKey::DescribeProducers => m::DescribeProducersRequest::VERSIONS,
            ApiKey::SaslHandshake => m::SaslHandshakeRequest::VERSIONS,
            ApiKey::SaslAuthenticate => m::SaslAuthenticateRequest::VERSIONS,
            ApiKey::AlterUserScramCredentials => m::AlterUserScramCredentialsRequest::VERSIONS,
            ApiKey::DescribeUserScramCredentials => {
                m::DescribeUserScramCredentialsRequest::VERSIONS
            }
            ApiKey::CreateAcls => m::CreateAclsRequest::VERSIONS,
            ApiKey::DescribeAcls => m::DescribeAclsRequest::VERSIONS,
            ApiKey::DeleteAcls => m::DeleteAclsRequest::VERSIONS,
            ApiKey::DescribeClientQuotas => m::DescribeClientQuotasRequest::VERSIONS,
            ApiKey::AlterClientQuotas => m::AlterClientQuotasRequest::VERSIONS,
            other => panic!("no range for {other:?}"),
        };
        for (k, min, max) in SUPPORTED {
            let r = crate_range(*k);
            // Produce v0-2 (answered UNSUPPORTED_VERSION) and
            // OffsetForLeaderEpoch v0-1 are handled by hand.
            let min = match k {
                ApiKey::Produce => 3,
                ApiKey::OffsetForLeaderEpoch => 2,
                _ => *min,
            };
            assert!(r.min <= min && *max <= r.max, "{k:?}");
        }
    }

    #[test]
    fn support_checks() {
        assert!(is_supported(ApiKey::Produce, 0));
        assert!(is_supported(ApiKey::Fetch, 12));
        assert!(!is_supported(ApiKey::Fetch, 13));
        assert!(!is_supported(ApiKey::Fetch, 3));
        assert!(!is_supported(ApiKey::ApiVersions, 5));
        assert!(is_supported(ApiKey::JoinGroup, 0));
        assert!(!is_supported(ApiKey::OffsetCommit, 1));
        assert!(!is_supported(ApiKey::OffsetFetch, 0));
    }
}
