//! Request handlers, one file per Kafka API, and the dispatcher that decodes
//! a request body, calls its handler and encodes the response.
//!
//! A handler never fails the whole request for a storage problem: errors
//! become per-partition (or per-topic) error codes in the response. Only an
//! undecodable body or an unsupported version closes the connection, as in
//! Kafka's `SocketServer`.

pub mod access;
pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod alter_client_quotas;
pub mod alter_configs;
pub mod alter_user_scram_credentials;
pub mod api_versions;
pub mod create_acls;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_acls;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_acls;
pub mod describe_client_quotas;
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
#[cfg(test)]
mod fuzz_tests;
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
pub mod throttle;
pub mod topic_names;
pub mod txn_offset_commit;
pub mod write_txn_markers;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable};
use tracing::debug;

use crate::network::frame::{Api, Request};
use crate::security::acl::{Operation, ResourceType, CLUSTER_NAME};
use crate::security::authorizer::Session;
use crate::server::Broker;

/// Who sent `req`, for the authorizer.
pub fn session(req: &Request) -> Session {
    Session {
        principal: req.principal.clone(),
        host: req.peer.map(|ip| ip.to_string()).unwrap_or_default(),
    }
}

/// The partition-mutation budget of an admin request's sender; `strict`
/// for versions that can answer THROTTLING_QUOTA_EXCEEDED.
pub fn mutation_quota<'a>(
    broker: &'a Broker,
    req: &Request,
    strict: bool,
) -> crate::quota::MutationQuota<'a> {
    let client_id = req.header.client_id.as_deref().unwrap_or_default();
    broker.quotas.mutations(&req.principal, client_id, strict)
}

/// Why an ACL admin request (Create/Describe/DeleteAcls) is refused, if
/// it is: no authorizer (SECURITY_DISABLED, as Kafka), or no `op` on the
/// cluster.
pub fn acl_admin_refusal(
    broker: &Broker,
    req: &Request,
    op: Operation,
) -> Option<(kafka_protocol::error::ResponseError, String)> {
    use kafka_protocol::error::ResponseError as E;
    if !broker.authorizer.is_enabled() {
        return Some((E::SecurityDisabled, "No Authorizer is configured.".into()));
    }
    if !cluster_allowed(broker, req, op) {
        return Some((
            E::ClusterAuthorizationFailed,
            "Cluster authorization failed.".into(),
        ));
    }
    None
}

/// Whether `req`'s principal may do `op` on the cluster.
fn cluster_allowed(broker: &Broker, req: &Request, op: Operation) -> bool {
    broker
        .authorizer
        .authorize(&session(req), op, ResourceType::Cluster, CLUSTER_NAME)
}

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
    /// This reply, after which the connection reads nothing for the
    /// throttle time (a client over its quota, KIP-219).
    Throttled(Box<Reply>, std::time::Duration),
}

impl Reply {
    /// With the connection muted for `throttle` afterwards (the longer
    /// throttle when there is one already).
    pub fn throttled(self, throttle: std::time::Duration) -> Reply {
        if throttle.is_zero() {
            return self;
        }
        match self {
            Reply::Throttled(r, t) => Reply::Throttled(r, t.max(throttle)),
            r => Reply::Throttled(Box::new(r), throttle),
        }
    }

    /// The reply to send and how long to mute the connection after it.
    pub fn take_throttle(self) -> (Reply, std::time::Duration) {
        match self {
            Reply::Throttled(r, t) => (*r, t),
            r => (r, std::time::Duration::ZERO),
        }
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Send(b) => write!(f, "Send({} bytes)", b.len()),
            Reply::Nothing => write!(f, "Nothing"),
            Reply::Close(r) => write!(f, "Close({r:?})"),
            Reply::Later(_) => write!(f, "Later"),
            Reply::Throttled(r, t) => write!(f, "Throttled({r:?}, {t:?})"),
        }
    }
}

/// APIs whose every use needs one operation on the cluster resource, as
/// in Kafka: DescribeCluster, DescribeLogDirs, the SCRAM APIs and
/// WriteTxnMarkers. A refused request closes the connection. APIs that
/// name topics, groups, transactional ids or config resources check each
/// of them in their handler instead (see [`access`]) and answer a refused
/// one with its own error code.
fn cluster_requirement(key: ApiKey) -> Option<Operation> {
    use ApiKey as K;
    Some(match key {
        K::DescribeCluster | K::DescribeLogDirs | K::DescribeUserScramCredentials => {
            Operation::Describe
        }
        K::AlterUserScramCredentials => Operation::Alter,
        K::WriteTxnMarkers => Operation::ClusterAction,
        _ => return None,
    })
}

/// Decodes, handles and encodes one request. Its answer carries the
/// throttle its sender earned by going over a quota (and the connection is
/// muted for that long, see [`Reply::Throttled`]).
pub async fn handle(broker: &Broker, req: Request) -> Reply {
    let started = std::time::Instant::now();
    let version = req.version();
    let key = match req.api_key {
        Api::Kafka(key) => key,
        Api::Internal(key) => {
            // Controller requests come from brokers only (Kafka: ClusterAction).
            if !cluster_allowed(broker, &req, Operation::ClusterAction) {
                return Reply::Close(format!(
                    "{key:?} from {} without ClusterAction on the cluster",
                    req.principal
                ));
            }
            return crate::control::handler::handle(broker, key, &req).await;
        }
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
    if let Some(op) = cluster_requirement(key) {
        if !cluster_allowed(broker, &req, op) {
            return Reply::Close(format!(
                "{key:?} from {} without {op:?} on the cluster",
                req.principal
            ));
        }
    }
    let mut body = req.body.clone();
    // The typed response with the request-time throttle it earned, encoded.
    macro_rules! answer {
        ($response:expr) => {{
            let t = throttle::charge(broker, &req, key, started);
            let response = throttle::Throttle::with_throttle($response, throttle::millis(t));
            encode(key, version, correlation_id, &response, false).throttled(t)
        }};
    }
    // Handlers that check authorization or answer with endpoints need the
    // whole request (principal, listener), not only its header.
    macro_rules! run_req {
        ($ty:ty, $module:ident) => {{
            let request = match <$ty>::decode(&mut body, version) {
                Ok(r) => r,
                Err(e) => return Reply::Close(format!("undecodable {key:?} v{version}: {e}")),
            };
            let response = $module::handle(broker, &req, request).await;
            answer!(response)
        }};
    }
    // Admin requests that create or delete partitions: their answer also
    // carries the throttle of `controller_mutation_rate` (KIP-599).
    macro_rules! run_mutation {
        ($ty:ty, $module:ident) => {{
            let request = match <$ty>::decode(&mut body, version) {
                Ok(r) => r,
                Err(e) => return Reply::Close(format!("undecodable {key:?} v{version}: {e}")),
            };
            let (response, mutations) = $module::handle(broker, &req, request).await;
            let t = throttle::charge(broker, &req, key, started).max(mutations);
            let response = throttle::Throttle::with_throttle(response, throttle::millis(t));
            encode(key, version, correlation_id, &response, false).throttled(t)
        }};
    }
    // Handlers that answer with endpoints need the request's listener.
    macro_rules! run_on_listener {
        ($ty:ty, $module:ident) => {{
            let request = match <$ty>::decode(&mut body, version) {
                Ok(r) => r,
                Err(e) => return Reply::Close(format!("undecodable {key:?} v{version}: {e}")),
            };
            let response = $module::handle(broker, &req.header, request, &req.listener).await;
            answer!(response)
        }};
    }
    // Group APIs: Read on the group (Describe for OffsetFetch), else the
    // response type's GROUP_AUTHORIZATION_FAILED.
    let group_allowed = |op: Operation, group: &str| {
        broker
            .authorizer
            .authorize(&session(&req), op, ResourceType::Group, group)
    };
    let group_refused = kafka_protocol::error::ResponseError::GroupAuthorizationFailed.code();
    macro_rules! run_group {
        ($ty:ty, $module:ident, $resp:ty) => {{
            let request = match <$ty>::decode(&mut body, version) {
                Ok(r) => r,
                Err(e) => return Reply::Close(format!("undecodable {key:?} v{version}: {e}")),
            };
            if !group_allowed(Operation::Read, &request.group_id) {
                let response = <$resp>::default().with_error_code(group_refused);
                return answer!(response);
            }
            let response = $module::handle(broker, &req.header, request).await;
            answer!(response)
        }};
    }
    // Transactional APIs: Write on the transactional id.
    let txn_allowed = |id: &str| {
        broker.authorizer.authorize(
            &session(&req),
            Operation::Write,
            ResourceType::TransactionalId,
            id,
        )
    };
    let txn_refused =
        kafka_protocol::error::ResponseError::TransactionalIdAuthorizationFailed.code();
    macro_rules! run_txn {
        ($ty:ty, $module:ident, $resp:ty) => {{
            let request = match <$ty>::decode(&mut body, version) {
                Ok(r) => r,
                Err(e) => return Reply::Close(format!("undecodable {key:?} v{version}: {e}")),
            };
            if !txn_allowed(&request.transactional_id) {
                let response = <$resp>::default().with_error_code(txn_refused);
                return answer!(response);
            }
            let response = $module::handle(broker, &req.header, request).await;
            answer!(response)
        }};
    }
    macro_rules! run {
        ($ty:ty, $module:ident) => {{
            let request = match <$ty>::decode(&mut body, version) {
                Ok(r) => r,
                Err(e) => return Reply::Close(format!("undecodable {key:?} v{version}: {e}")),
            };
            let response = $module::handle(broker, &req.header, request).await;
            answer!(response)
        }};
    }
    use kafka_protocol::messages as m;
    match key {
        ApiKey::ApiVersions => run!(m::ApiVersionsRequest, api_versions),
        ApiKey::Metadata => run_req!(m::MetadataRequest, metadata),
        ApiKey::Produce => {
            let request = match m::ProduceRequest::decode(&mut body, version) {
                Ok(r) => r,
                Err(e) => return Reply::Close(format!("undecodable Produce v{version}: {e}")),
            };
            let acks = request.acks;
            let client_id = req.header.client_id.as_deref().unwrap_or_default();
            let throttle = broker.quotas.record(
                crate::quota::QuotaKind::ProducerByteRate,
                &req.principal,
                client_id,
                req.body.len() as f64,
            );
            let who = session(&req);
            let txn_refused = request.transactional_id.as_ref().is_some_and(|id| {
                !broker.authorizer.authorize(
                    &who,
                    Operation::Write,
                    ResourceType::TransactionalId,
                    id,
                )
            });
            let refused = |topic: &str| {
                use kafka_protocol::error::ResponseError as E;
                if txn_refused {
                    Some(E::TransactionalIdAuthorizationFailed)
                } else if !broker.authorizer.authorize(
                    &who,
                    Operation::Write,
                    ResourceType::Topic,
                    topic,
                ) {
                    Some(E::TopicAuthorizationFailed)
                } else {
                    None
                }
            };
            let pending = produce::append_all(broker, request, &refused);
            // Handling time is the append; waiting for the ISR is not.
            let throttle = throttle.max(throttle::charge(broker, &req, key, started));
            let throttle_ms = throttle::millis(throttle);
            let metrics = broker.metrics.clone();
            if pending.is_done() {
                let response = pending.finish().await;
                produce::count_errors(&metrics, &response);
                if acks == 0 {
                    if produce::has_error(&response) {
                        // Kafka closes the connection so the client learns of the failure.
                        return Reply::Close("acks=0 produce failed".into());
                    }
                    return Reply::Nothing.throttled(throttle);
                }
                let response = response.with_throttle_time_ms(throttle_ms);
                return encode(key, version, correlation_id, &response, false).throttled(throttle);
            }
            Reply::Later(Box::pin(async move {
                let response = pending.finish().await;
                produce::count_errors(&metrics, &response);
                let response = response.with_throttle_time_ms(throttle_ms);
                encode(key, version, correlation_id, &response, false)
            }))
            .throttled(throttle)
        }
        ApiKey::Fetch => {
            let request = match m::FetchRequest::decode(&mut body, version) {
                Ok(r) => r,
                Err(e) => return Reply::Close(format!("undecodable Fetch v{version}: {e}")),
            };
            // A consumer's answer counts against its consumer_byte_rate;
            // followers' are exempt.
            let follower = request.replica_id.0 >= 0;
            let quoted = !follower
                && broker
                    .quotas
                    .enforces(crate::quota::QuotaKind::ConsumerByteRate);
            let client_id = req.header.client_id.as_deref().unwrap_or_default();
            let charge = |response: &m::FetchResponse| {
                if !quoted {
                    return crate::quota::Charged {
                        throttle: std::time::Duration::ZERO,
                        withheld: false,
                    };
                }
                let bytes = response.compute_size(version).unwrap_or(0);
                broker.quotas.charge_answer(
                    crate::quota::QuotaKind::ConsumerByteRate,
                    &req.principal,
                    client_id,
                    bytes as f64,
                )
            };
            let (response, throttle) = fetch::handle(broker, &req, request, &charge).await;
            let response = response.with_throttle_time_ms(throttle::millis(throttle));
            encode(key, version, correlation_id, &response, false).throttled(throttle)
        }
        ApiKey::ListOffsets => run_req!(m::ListOffsetsRequest, list_offsets),
        ApiKey::DeleteRecords => run_req!(m::DeleteRecordsRequest, delete_records),
        ApiKey::AlterConfigs => run_req!(m::AlterConfigsRequest, alter_configs),
        ApiKey::CreateTopics => run_mutation!(m::CreateTopicsRequest, create_topics),
        ApiKey::DeleteTopics => run_mutation!(m::DeleteTopicsRequest, delete_topics),
        ApiKey::CreatePartitions => run_mutation!(m::CreatePartitionsRequest, create_partitions),
        ApiKey::DescribeConfigs => run_req!(m::DescribeConfigsRequest, describe_configs),
        ApiKey::IncrementalAlterConfigs => {
            run_req!(m::IncrementalAlterConfigsRequest, incremental_alter_configs)
        }
        ApiKey::DescribeCluster => run_on_listener!(m::DescribeClusterRequest, describe_cluster),
        ApiKey::DescribeLogDirs => run!(m::DescribeLogDirsRequest, describe_log_dirs),
        ApiKey::FindCoordinator => {
            let request = match m::FindCoordinatorRequest::decode(&mut body, version) {
                Ok(r) => r,
                Err(e) => return Reply::Close(format!("undecodable {key:?} v{version}: {e}")),
            };
            let who = session(&req);
            let response =
                find_coordinator::handle(broker, &req.header, request, &req.listener, &who).await;
            answer!(response)
        }
        ApiKey::JoinGroup => {
            let request = match m::JoinGroupRequest::decode(&mut body, version) {
                Ok(r) => r,
                Err(e) => return Reply::Close(format!("undecodable JoinGroup v{version}: {e}")),
            };
            if !group_allowed(Operation::Read, &request.group_id) {
                let response = m::JoinGroupResponse::default()
                    .with_error_code(group_refused)
                    .with_member_id(request.member_id);
                return answer!(response);
            }
            let response = join_group::handle(broker, &req.header, request, req.peer).await;
            answer!(response)
        }
        ApiKey::SyncGroup => run_group!(m::SyncGroupRequest, sync_group, m::SyncGroupResponse),
        ApiKey::Heartbeat => run_group!(m::HeartbeatRequest, heartbeat, m::HeartbeatResponse),
        ApiKey::LeaveGroup => run_group!(m::LeaveGroupRequest, leave_group, m::LeaveGroupResponse),
        ApiKey::OffsetCommit => {
            let request = match m::OffsetCommitRequest::decode(&mut body, version) {
                Ok(r) => r,
                Err(e) => return Reply::Close(format!("undecodable OffsetCommit v{version}: {e}")),
            };
            let answer = offset_commit::start(broker, &req, request).await;
            // Handling time is the start; waiting for coord is not.
            let t = throttle::charge(broker, &req, key, started);
            Reply::Later(Box::pin(async move {
                let response = answer.await.with_throttle_time_ms(throttle::millis(t));
                encode(key, version, correlation_id, &response, false)
            }))
            .throttled(t)
        }
        ApiKey::OffsetFetch => run_req!(m::OffsetFetchRequest, offset_fetch),
        ApiKey::DescribeGroups => run_req!(m::DescribeGroupsRequest, describe_groups),
        ApiKey::ListGroups => run_req!(m::ListGroupsRequest, list_groups),
        ApiKey::DeleteGroups => run_req!(m::DeleteGroupsRequest, delete_groups),
        ApiKey::OffsetDelete => run_req!(m::OffsetDeleteRequest, offset_delete),
        ApiKey::OffsetForLeaderEpoch => {
            run_req!(m::OffsetForLeaderEpochRequest, offset_for_leader_epoch)
        }
        ApiKey::InitProducerId => {
            let request = match m::InitProducerIdRequest::decode(&mut body, version) {
                Ok(r) => r,
                Err(e) => return Reply::Close(format!("undecodable {key:?} v{version}: {e}")),
            };
            // Transactional: Write on the id. Idempotent: IdempotentWrite on
            // the cluster, or Write on any topic (KIP-679).
            let who = session(&req);
            let refused = match &request.transactional_id {
                Some(id) => (!txn_allowed(id)).then_some(txn_refused),
                None => (!cluster_allowed(broker, &req, Operation::IdempotentWrite)
                    && !broker.authorizer.authorize_any(
                        &who,
                        Operation::Write,
                        ResourceType::Topic,
                    ))
                .then_some(kafka_protocol::error::ResponseError::ClusterAuthorizationFailed.code()),
            };
            if let Some(code) = refused {
                let response = m::InitProducerIdResponse::default()
                    .with_error_code(code)
                    .with_producer_id(m::ProducerId(-1))
                    .with_producer_epoch(-1);
                return answer!(response);
            }
            let response = init_producer_id::handle(broker, &req.header, request).await;
            answer!(response)
        }
        ApiKey::WriteTxnMarkers => run!(m::WriteTxnMarkersRequest, write_txn_markers),
        ApiKey::DescribeProducers => run_req!(m::DescribeProducersRequest, describe_producers),
        ApiKey::AddPartitionsToTxn => {
            let request = match m::AddPartitionsToTxnRequest::decode(&mut body, version) {
                Ok(r) => r,
                Err(e) => return Reply::Close(format!("undecodable {key:?} v{version}: {e}")),
            };
            let ids = std::iter::once(request.v3_and_below_transactional_id.0.as_str()).chain(
                request
                    .transactions
                    .iter()
                    .map(|t| t.transactional_id.0.as_str()),
            );
            if let Some(id) = ids.filter(|id| !id.is_empty()).find(|id| !txn_allowed(id)) {
                return Reply::Close(format!(
                    "{key:?} for transactional id {id} without Write on it"
                ));
            }
            let response = add_partitions_to_txn::handle(broker, &req.header, request).await;
            answer!(response)
        }
        ApiKey::AddOffsetsToTxn => {
            run_txn!(
                m::AddOffsetsToTxnRequest,
                add_offsets_to_txn,
                m::AddOffsetsToTxnResponse
            )
        }
        ApiKey::EndTxn => run_txn!(m::EndTxnRequest, end_txn, m::EndTxnResponse),
        ApiKey::DescribeTransactions => {
            run_req!(m::DescribeTransactionsRequest, describe_transactions)
        }
        ApiKey::ListTransactions => run_req!(m::ListTransactionsRequest, list_transactions),
        ApiKey::TxnOffsetCommit => run_req!(m::TxnOffsetCommitRequest, txn_offset_commit),
        ApiKey::CreateAcls => run_req!(m::CreateAclsRequest, create_acls),
        ApiKey::DescribeClientQuotas => {
            run_req!(m::DescribeClientQuotasRequest, describe_client_quotas)
        }
        ApiKey::AlterClientQuotas => run_req!(m::AlterClientQuotasRequest, alter_client_quotas),
        ApiKey::DescribeAcls => run_req!(m::DescribeAclsRequest, describe_acls),
        ApiKey::DeleteAcls => run_req!(m::DeleteAclsRequest, delete_acls),
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
