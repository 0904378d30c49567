//! Request handlers, one file per Kafka API, and the dispatcher that decodes
//! a request body, calls its handler and encodes the response.
//!
//! A handler never fails the whole request for a storage problem: errors
//! become per-partition (or per-topic) error codes in the response. Only an
//! undecodable body or an unsupported version closes the connection, as in
//! Kafka's `SocketServer`.

pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod alter_configs;
pub mod alter_user_scram_credentials;
pub mod api_versions;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_log_dirs;
pub mod describe_producers;
pub mod describe_transactions;
pub mod describe_user_scram_credentials;
pub mod end_txn;
pub mod fetch;
pub mod fetch_session;
pub mod find_coordinator;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod list_transactions;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod offset_for_leader_epoch;
pub mod produce;
pub mod sync_group;
pub mod topic_names;
pub mod txn_offset_commit;
pub mod write_txn_markers;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable};
use tracing::debug;

use crate::network::frame::{Api, Request};
use crate::server::Broker;

/// What the connection does after a request.
pub enum Reply {
    /// Send this frame (size prefix included).
    Send(Bytes),
    /// Send nothing (Produce with acks=0).
    Nothing,
    /// Close the connection (undecodable or unsupported request; a failed
    /// acks=0 produce, so the client notices).
    Close(String),
    /// The answer once this completes (an `acks=all` produce waiting for
    /// its ISR). The connection goes on with the next request meanwhile and
    /// still writes every answer in request order.
    Later(std::pin::Pin<Box<dyn std::future::Future<Output = Reply> + Send>>),
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Send(b) => write!(f, "Send({} bytes)", b.len()),
            Reply::Nothing => write!(f, "Nothing"),
            Reply::Close(r) => write!(f, "Close({r:?})"),
            Reply::Later(_) => write!(f, "Later"),
        }
    }
}

/// Decodes, handles and encodes one request.
pub async fn handle(broker: &Broker, req: Request) -> Reply {
    let version = req.version();
    let key = match req.api_key {
        Api::Kafka(key) => key,
        Api::Internal(key) => return crate::control::handler::handle(broker, key, &req).await,
    };
    if key == ApiKey::ApiVersions && !api_versions::is_supported(key, version) {
        // Kafka answers so the client can retry with a version it shares.
        return encode(
            key,
            0,
            req.header.correlation_id,
            &api_versions::unsupported_version_response(),
            true,
        );
    }
    if key == ApiKey::Produce && produce::is_legacy(version) {
        return produce::handle_legacy(&req);
    }
    if key == ApiKey::OffsetForLeaderEpoch && offset_for_leader_epoch::is_legacy(version) {
        return offset_for_leader_epoch::handle_legacy(broker, &req);
    }
    if !api_versions::is_supported(key, version) {
        return Reply::Close(format!("unsupported {key:?} version {version}"));
    }
    let correlation_id = req.header.correlation_id;
    let mut body = req.body.clone();
    // Handlers that answer with endpoints need the request's listener.
    macro_rules! run_on_listener {
        ($ty:ty, $module:ident) => {{
            let request = match <$ty>::decode(&mut body, version) {
                Ok(r) => r,
                Err(e) => return Reply::Close(format!("undecodable {key:?} v{version}: {e}")),
            };
            let response = $module::handle(broker, &req.header, request, &req.listener).await;
            encode(key, version, correlation_id, &response, false)
        }};
    }
    macro_rules! run {
        ($ty:ty, $module:ident) => {{
            let request = match <$ty>::decode(&mut body, version) {
                Ok(r) => r,
                Err(e) => return Reply::Close(format!("undecodable {key:?} v{version}: {e}")),
            };
            let response = $module::handle(broker, &req.header, request).await;
            encode(key, version, correlation_id, &response, false)
        }};
    }
    use kafka_protocol::messages as m;
    match key {
        ApiKey::ApiVersions => run!(m::ApiVersionsRequest, api_versions),
        ApiKey::Metadata => run_on_listener!(m::MetadataRequest, metadata),
        ApiKey::Produce => {
            let request = match m::ProduceRequest::decode(&mut body, version) {
                Ok(r) => r,
                Err(e) => return Reply::Close(format!("undecodable Produce v{version}: {e}")),
            };
            let acks = request.acks;
            let pending = produce::append_all(broker, request);
            let metrics = broker.metrics.clone();
            if pending.is_done() {
                let response = pending.finish().await;
                produce::count_errors(&metrics, &response);
                if acks == 0 {
                    if produce::has_error(&response) {
                        // Kafka closes the connection so the client learns of the failure.
                        return Reply::Close("acks=0 produce failed".into());
                    }
                    return Reply::Nothing;
                }
                return encode(key, version, correlation_id, &response, false);
            }
            Reply::Later(Box::pin(async move {
                let response = pending.finish().await;
                produce::count_errors(&metrics, &response);
                encode(key, version, correlation_id, &response, false)
            }))
        }
        ApiKey::Fetch => run!(m::FetchRequest, fetch),
        ApiKey::ListOffsets => run!(m::ListOffsetsRequest, list_offsets),
        ApiKey::DeleteRecords => run!(m::DeleteRecordsRequest, delete_records),
        ApiKey::AlterConfigs => run!(m::AlterConfigsRequest, alter_configs),
        ApiKey::CreateTopics => run!(m::CreateTopicsRequest, create_topics),
        ApiKey::DeleteTopics => run!(m::DeleteTopicsRequest, delete_topics),
        ApiKey::CreatePartitions => run!(m::CreatePartitionsRequest, create_partitions),
        ApiKey::DescribeConfigs => run!(m::DescribeConfigsRequest, describe_configs),
        ApiKey::IncrementalAlterConfigs => {
            run!(m::IncrementalAlterConfigsRequest, incremental_alter_configs)
        }
        ApiKey::DescribeCluster => run_on_listener!(m::DescribeClusterRequest, describe_cluster),
        ApiKey::DescribeLogDirs => run!(m::DescribeLogDirsRequest, describe_log_dirs),
        ApiKey::FindCoordinator => run_on_listener!(m::FindCoordinatorRequest, find_coordinator),
        ApiKey::JoinGroup => {
            let request = match m::JoinGroupRequest::decode(&mut body, version) {
                Ok(r) => r,
                Err(e) => return Reply::Close(format!("undecodable JoinGroup v{version}: {e}")),
            };
            let response = join_group::handle(broker, &req.header, request, req.peer).await;
            encode(key, version, correlation_id, &response, false)
        }
        ApiKey::SyncGroup => run!(m::SyncGroupRequest, sync_group),
        ApiKey::Heartbeat => run!(m::HeartbeatRequest, heartbeat),
        ApiKey::LeaveGroup => run!(m::LeaveGroupRequest, leave_group),
        ApiKey::OffsetCommit => {
            let request = match m::OffsetCommitRequest::decode(&mut body, version) {
                Ok(r) => r,
                Err(e) => return Reply::Close(format!("undecodable OffsetCommit v{version}: {e}")),
            };
            let answer = offset_commit::start(broker, &req.header, request).await;
            Reply::Later(Box::pin(async move {
                let response = answer.await;
                encode(key, version, correlation_id, &response, false)
            }))
        }
        ApiKey::OffsetFetch => run!(m::OffsetFetchRequest, offset_fetch),
        ApiKey::DescribeGroups => run!(m::DescribeGroupsRequest, describe_groups),
        ApiKey::ListGroups => run!(m::ListGroupsRequest, list_groups),
        ApiKey::DeleteGroups => run!(m::DeleteGroupsRequest, delete_groups),
        ApiKey::OffsetDelete => run!(m::OffsetDeleteRequest, offset_delete),
        ApiKey::OffsetForLeaderEpoch => {
            run!(m::OffsetForLeaderEpochRequest, offset_for_leader_epoch)
        }
        ApiKey::InitProducerId => run!(m::InitProducerIdRequest, init_producer_id),
        ApiKey::WriteTxnMarkers => run!(m::WriteTxnMarkersRequest, write_txn_markers),
        ApiKey::DescribeProducers => run!(m::DescribeProducersRequest, describe_producers),
        ApiKey::AddPartitionsToTxn => run!(m::AddPartitionsToTxnRequest, add_partitions_to_txn),
        ApiKey::AddOffsetsToTxn => run!(m::AddOffsetsToTxnRequest, add_offsets_to_txn),
        ApiKey::EndTxn => run!(m::EndTxnRequest, end_txn),
        ApiKey::DescribeTransactions => {
            run!(m::DescribeTransactionsRequest, describe_transactions)
        }
        ApiKey::ListTransactions => run!(m::ListTransactionsRequest, list_transactions),
        ApiKey::TxnOffsetCommit => run!(m::TxnOffsetCommitRequest, txn_offset_commit),
        ApiKey::AlterUserScramCredentials => {
            run!(
                m::AlterUserScramCredentialsRequest,
                alter_user_scram_credentials
            )
        }
        ApiKey::DescribeUserScramCredentials => {
            run!(
                m::DescribeUserScramCredentialsRequest,
                describe_user_scram_credentials
            )
        }
        // On a listener without SASL, or once authenticated (re-authentication
        // is not offered): Kafka's answer is ILLEGAL_SASL_STATE.
        ApiKey::SaslHandshake => {
            let response = m::SaslHandshakeResponse::default()
                .with_error_code(kafka_protocol::error::ResponseError::IllegalSaslState.code());
            encode(key, version, correlation_id, &response, false)
        }
        ApiKey::SaslAuthenticate => {
            let response = m::SaslAuthenticateResponse::default()
                .with_error_code(kafka_protocol::error::ResponseError::IllegalSaslState.code())
                .with_error_message(Some(kafka_protocol::protocol::StrBytes::from_static_str(
                    "SaslAuthenticate outside the SASL authentication phase",
                )));
            encode(key, version, correlation_id, &response, false)
        }
        other => Reply::Close(format!("unsupported API {other:?}")),
    }
}

/// Encodes a response frame: size, response header, body.
///
/// `header_v0`: force response header v0 (ApiVersions error responses).
pub fn encode<R: Encodable>(
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &R,
    header_v0: bool,
) -> Reply {
    let header_version = if header_v0 {
        0
    } else {
        key.response_header_version(version)
    };
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let size = match (
        header.compute_size(header_version),
        body.compute_size(version),
    ) {
        (Ok(h), Ok(b)) => h + b,
        (Err(e), _) | (_, Err(e)) => {
            return Reply::Close(format!("cannot size {key:?} v{version} response: {e}"))
        }
    };
    let mut buf = BytesMut::with_capacity(4 + size);
    buf.put_i32(size as i32);
    if let Err(e) = header.encode(&mut buf, header_version) {
        return Reply::Close(format!("cannot encode response header: {e}"));
    }
    if let Err(e) = body.encode(&mut buf, version) {
        debug!("encoding {key:?} v{version} response failed: {e}");
        return Reply::Close(format!("cannot encode {key:?} v{version} response: {e}"));
    }
    Reply::Send(buf.freeze())
}
