//! openraft's network: Raft RPCs over the peer connections of [`super::peer`].

use std::collections::BTreeMap;
use std::sync::Arc;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Timeout, Unreachable,
};
use openraft::network::{RPCOption, RPCTypes, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};

use super::durable::Durable;
use super::peer::{PeerClient, PeerError, PeerRequest, PeerResponse};
use super::transport::Transport;
use super::{Node, NodeId, TypeConfig};

/// Hands openraft a client per target member, sharing the peer connections.
#[derive(Clone)]
pub struct NetworkFactory {
    pub my_id: NodeId,
    pub peers: Arc<BTreeMap<NodeId, Arc<PeerClient>>>,
    /// For a member not among `peers` (none today: membership is fixed).
    pub transport: Transport,
    /// How far this member's log is synced.
    pub durable: Arc<Durable>,
}

pub struct Network {
    my_id: NodeId,
    target: NodeId,
    client: Arc<PeerClient>,
    durable: Arc<Durable>,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = Network;

    async fn new_client(&mut self, target: NodeId, node: &Node) -> Network {
        let client = self.peers.get(&target).cloned().unwrap_or_else(|| {
            Arc::new(PeerClient::new(node.addr.clone(), self.transport.clone()))
        });
        Network {
            my_id: self.my_id,
            target,
            client,
            durable: self.durable.clone(),
        }
    }
}

fn unexpected<E: std::error::Error>() -> RPCError<NodeId, Node, E> {
    RPCError::Network(NetworkError::new(&std::io::Error::other(
        "unexpected peer response",
    )))
}

impl Network {
    /// A failed call as openraft should see it. A peer that answers too
    /// slowly (a large AppendEntries behind a busy disk) timed out and is
    /// tried again at once; only a peer that cannot be reached is
    /// Unreachable, which makes openraft back off for half a second — as a
    /// slow answer under load, that backoff stalled every write for 0.5 s.
    fn failed<E: std::error::Error>(
        &self,
        error: PeerError,
        action: RPCTypes,
        option: &RPCOption,
    ) -> RPCError<NodeId, Node, E> {
        match error {
            PeerError::Timeout(_) => RPCError::Timeout(Timeout {
                action,
                id: self.my_id,
                target: self.target,
                timeout: option.hard_ttl(),
            }),
            other => RPCError::Unreachable(Unreachable::new(&other)),
        }
    }
}

impl RaftNetwork<TypeConfig> for Network {
    async fn append_entries(
        &mut self,
        mut rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, Node, RaftError<NodeId>>> {
        // Followers learn of a commit only once the leader's own copy is
        // synced (see `durable`).
        rpc.leader_commit = self.durable.clamp_commit(rpc.leader_commit);
        match self
            .client
            .call(&PeerRequest::AppendEntries(rpc), option.hard_ttl())
            .await
        {
            Ok(PeerResponse::AppendEntries(Ok(response))) => Ok(response),
            Ok(PeerResponse::AppendEntries(Err(e))) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(_) => Err(unexpected()),
            Err(e) => Err(self.failed(e, RPCTypes::AppendEntries, &option)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, Node, RaftError<NodeId, InstallSnapshotError>>,
    > {
        match self
            .client
            .call(&PeerRequest::InstallSnapshot(rpc), option.hard_ttl())
            .await
        {
            Ok(PeerResponse::InstallSnapshot(Ok(response))) => Ok(response),
            Ok(PeerResponse::InstallSnapshot(Err(e))) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(_) => Err(unexpected()),
            Err(e) => Err(self.failed(e, RPCTypes::InstallSnapshot, &option)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, Node, RaftError<NodeId>>> {
        match self
            .client
            .call(&PeerRequest::Vote(rpc), option.hard_ttl())
            .await
        {
            Ok(PeerResponse::Vote(Ok(response))) => Ok(response),
            Ok(PeerResponse::Vote(Err(e))) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(_) => Err(unexpected()),
            Err(e) => Err(self.failed(e, RPCTypes::Vote, &option)),
        }
    }
}
