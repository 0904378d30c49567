//! The controller's share of coord: its lease (the epoch it won), fenced
//! partition-state writes, fresh reads for retries, and applying states
//! pushed by the controller to this broker's cache.
//!
//! Fencing is Kafka's: every controller write is a `multi` that begins with
//! a `check` of `/controller_epoch` at the version this controller wrote
//! when it won. A newer controller has bumped that version, so a stale
//! controller's writes fail as a whole and it steps down.

use std::sync::Arc;

use tokio::sync::watch;
use tracing::{debug, info};
use zookeeper_client as zk;

use super::cache::{is_newer, LeaderAndIsr, PartitionInfo};
use super::layout::{
    broker_path, partition_state_path, PartitionStateJson, CONTROLLER, CONTROLLER_EPOCH,
};

use super::store::{MetadataError, MetadataStore};

/// What winning the `/controller` election gave this broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControllerLease {
    pub broker_id: i32,
    /// The controller epoch written to `/controller_epoch`.
    pub epoch: i32,
    /// That znode's version after the write: every write checks it.
    pub epoch_zk_version: i32,
    /// The coord session that owns `/controller`; the lease dies with it.
    pub session_id: i64,
}

/// One partition's new state, as written to coord or pushed by the controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionUpdate {
    pub topic: String,
    pub topic_id: [u8; 16],
    pub partition: i32,
    pub replicas: Vec<i32>,
    /// For a write: the state to write, `zk_version` being the version it
    /// replaces. After the write and when pushed: the version written.
    pub state: LeaderAndIsr,
}

/// A failed controller write.
#[derive(Debug, thiserror::Error)]
pub enum ControllerStoreError {
    #[error("controller epoch {epoch} is no longer current: another controller took over")]
    Fenced { epoch: i32 },
    #[error(transparent)]
    Metadata(#[from] MetadataError),
}

/// What became of one partition-state write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Written; the state with its new znode version.
    Written(LeaderAndIsr),
    /// The state znode changed since it was read (the leader changed the
    /// ISR meanwhile): re-read and decide again.
    Conflict,
    /// The state znode is gone (topic deleted).
    Gone,
}

fn state_json(state: &LeaderAndIsr) -> Vec<u8> {
    let json = PartitionStateJson {
        controller_epoch: state.controller_epoch,
        leader: state.leader,
        version: 1,
        leader_epoch: state.leader_epoch,
        isr: state.isr.clone(),
    };
    // Serialising a plain struct of numbers cannot fail.
    serde_json::to_vec(&json).unwrap_or_default()
}

/// `/controller_epoch`'s number (0 when it is not one).
fn parse_epoch(data: &[u8]) -> i32 {
    std::str::from_utf8(data)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

impl MetadataStore {
    /// Tries to become the controller: the first broker to create the
    /// ephemeral `/controller` wins. As in Kafka
    /// (`registerControllerAndIncrementControllerEpoch`), creating it and
    /// bumping `/controller_epoch` are one transaction, so no moment exists
    /// where a new controller holds the role under the old epoch (the old
    /// one's fenced writes would still pass). Returns whether this broker won.
    pub async fn elect_controller(&self, broker_id: i32) -> Result<bool, MetadataError> {
        let client = self.zk();
        let json = serde_json::json!({
            "version": 1,
            "brokerid": broker_id,
            "timestamp": crate::server::now_ms().to_string(),
        });
        let registration = serde_json::to_vec(&json).unwrap_or_default();
        let zkerr = |op, path: &str| {
            let path = path.to_string();
            move |source| MetadataError::Zk { op, path, source }
        };
        loop {
            // The epoch now, and the version our bump is conditional on.
            let current = match client.get_data(CONTROLLER_EPOCH).await {
                Ok((data, stat)) => Some((parse_epoch(&data), stat.version)),
                Err(zk::Error::NoNode) => None,
                Err(e) => return Err(zkerr("get", CONTROLLER_EPOCH)(e)),
            };
            let epoch = current.map_or(1, |(e, _)| e + 1);
            let next = epoch.to_string();
            let acls = self.znode_acls();
            let mut multi = client.new_multi_writer();
            multi
                .add_create(CONTROLLER, &registration, &acls.ephemeral(CONTROLLER))
                .map_err(zkerr("create", CONTROLLER))?;
            match current {
                Some((_, version)) => multi
                    .add_set_data(CONTROLLER_EPOCH, next.as_bytes(), Some(version))
                    .map_err(zkerr("set", CONTROLLER_EPOCH))?,
                None => multi
                    .add_create(
                        CONTROLLER_EPOCH,
                        next.as_bytes(),
                        &acls.persistent(CONTROLLER_EPOCH),
                    )
                    .map_err(zkerr("create", CONTROLLER_EPOCH))?,
            }
            let results = match multi.commit().await {
                Ok(results) => results,
                Err(zk::MultiWriteError::OperationFailed {
                    index: 0,
                    source: zk::Error::NodeExists,
                }) => {
                    // Ours if an earlier try committed but its reply was
                    // lost with the connection (see `until_connected`).
                    return match client.get_data(CONTROLLER).await {
                        Ok((_, stat)) if stat.ephemeral_owner == client.session_id().0 => {
                            let (data, stat) = client
                                .get_data(CONTROLLER_EPOCH)
                                .await
                                .map_err(zkerr("get", CONTROLLER_EPOCH))?;
                            self.record_controller_lease(ControllerLease {
                                broker_id,
                                epoch: parse_epoch(&data),
                                epoch_zk_version: stat.version,
                                session_id: client.session_id().0,
                            });
                            Ok(true)
                        }
                        Ok(_) | Err(zk::Error::NoNode) => Ok(false),
                        Err(e) => Err(zkerr("get", CONTROLLER)(e)),
                    };
                }
                // The epoch moved (or appeared) under us: read it again.
                Err(zk::MultiWriteError::OperationFailed {
                    index: 1,
                    source: zk::Error::BadVersion | zk::Error::NodeExists | zk::Error::NoNode,
                }) => continue,
                Err(source) => {
                    return Err(MetadataError::Multi {
                        what: CONTROLLER.to_string(),
                        source,
                    })
                }
            };
            let epoch_zk_version = results
                .iter()
                .find_map(|r| match r {
                    zk::MultiWriteResult::SetData { stat } => Some(stat.version),
                    _ => None,
                })
                .unwrap_or(0);
            self.record_controller_lease(ControllerLease {
                broker_id,
                epoch,
                epoch_zk_version,
                session_id: client.session_id().0,
            });
            return Ok(true);
        }
    }

    /// Called by the election when this broker won `/controller`.
    pub(super) fn record_controller_lease(&self, lease: ControllerLease) {
        info!(
            broker_id = lease.broker_id,
            controller_epoch = lease.epoch,
            "won the controller election"
        );
        self.lease_sender().send_replace(Some(lease));
    }

    /// The lease this broker holds, if it won the last election it took part in.
    pub fn controller_lease(&self) -> Option<ControllerLease> {
        *self.lease_sender().borrow()
    }

    /// Changes whenever a lease is won or dropped.
    pub fn watch_controller_lease(&self) -> watch::Receiver<Option<ControllerLease>> {
        self.lease_sender().subscribe()
    }

    /// Forgets the lease of `epoch` (fenced: a newer controller exists).
    pub fn drop_controller_lease(&self, epoch: i32) {
        self.lease_sender().send_if_modified(|l| {
            if l.is_some_and(|l| l.epoch == epoch) {
                *l = None;
                true
            } else {
                false
            }
        });
    }

    /// The id of the current coord session.
    pub fn session_id(&self) -> i64 {
        self.zk().session_id().0
    }

    /// Writes partition states, each as `check /controller_epoch` + a
    /// conditional `setData` of the state znode. All writes are sent before
    /// the first answer is awaited. A failed check fences the whole call.
    pub async fn write_partition_states(
        &self,
        lease: &ControllerLease,
        updates: &[PartitionUpdate],
    ) -> Result<Vec<WriteOutcome>, ControllerStoreError> {
        let client = self.zk();
        let mut pending = Vec::with_capacity(updates.len());
        for u in updates {
            let path = partition_state_path(&u.topic, u.partition);
            let mut multi = client.new_multi_writer();
            let zkerr = |source| MetadataError::Zk {
                op: "multi",
                path: path.clone(),
                source,
            };
            multi
                .add_check_version(CONTROLLER_EPOCH, lease.epoch_zk_version)
                .map_err(zkerr)?;
            multi
                .add_set_data(&path, &state_json(&u.state), Some(u.state.zk_version))
                .map_err(zkerr)?;
            pending.push((path, multi.commit()));
        }
        let mut outcomes = Vec::with_capacity(pending.len());
        let mut fenced = false;
        for ((path, fut), u) in pending.into_iter().zip(updates) {
            let outcome = match fut.await {
                Ok(results) => {
                    let version = results
                        .iter()
                        .find_map(|r| match r {
                            zk::MultiWriteResult::SetData { stat } => Some(stat.version),
                            _ => None,
                        })
                        .unwrap_or(u.state.zk_version + 1);
                    WriteOutcome::Written(LeaderAndIsr {
                        zk_version: version,
                        ..u.state.clone()
                    })
                }
                Err(zk::MultiWriteError::OperationFailed { index: 0, source }) => {
                    debug!("{CONTROLLER_EPOCH} check failed: {source}");
                    fenced = true;
                    continue;
                }
                Err(zk::MultiWriteError::OperationFailed {
                    source: zk::Error::BadVersion,
                    ..
                }) => WriteOutcome::Conflict,
                Err(zk::MultiWriteError::OperationFailed {
                    source: zk::Error::NoNode,
                    ..
                }) => WriteOutcome::Gone,
                Err(source) => return Err(MetadataError::Multi { what: path, source }.into()),
            };
            outcomes.push(outcome);
        }
        if fenced {
            return Err(ControllerStoreError::Fenced { epoch: lease.epoch });
        }
        Ok(outcomes)
    }

    /// The creation zxid of broker `id`'s registration (Kafka's broker
    /// epoch), or `None` if it is not registered: tells a broker that
    /// restarted apart from one that stayed.
    pub async fn registration_czxid(&self, id: i32) -> Result<Option<i64>, MetadataError> {
        let path = broker_path(id);
        match self.zk().check_stat(&path).await {
            Ok(stat) => Ok(stat.map(|s| s.czxid)),
            Err(source) => Err(MetadataError::Zk {
                op: "exists",
                path,
                source,
            }),
        }
    }

    /// Reads one partition's state straight from coord (the cache may lag).
    pub async fn read_partition_state(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Option<LeaderAndIsr>, MetadataError> {
        let path = partition_state_path(topic, partition);
        match self.zk().get_data(&path).await {
            Ok((data, stat)) => {
                let s: PartitionStateJson =
                    serde_json::from_slice(&data).map_err(|source| MetadataError::Json {
                        path: path.clone(),
                        source,
                    })?;
                Ok(Some(LeaderAndIsr {
                    leader: s.leader,
                    leader_epoch: s.leader_epoch,
                    isr: s.isr,
                    controller_epoch: s.controller_epoch,
                    zk_version: stat.version,
                }))
            }
            Err(zk::Error::NoNode) => Ok(None),
            Err(source) => Err(MetadataError::Zk {
                op: "get",
                path,
                source,
            }),
        }
    }

    /// Puts states the controller wrote into the cache, keeping whichever
    /// of the cache's and the pushed state is newer, and wakes the replica
    /// manager if anything changed. Partitions of topics the cache does not
    /// know (or knows under another topic id) are skipped: the watch will
    /// bring them. Returns how many states were taken.
    pub fn apply_partition_updates(&self, updates: &[PartitionUpdate]) -> usize {
        let updates = updates.to_vec();
        let applied = self.cache().edit(move |snapshot| {
            let mut applied = 0;
            for u in &updates {
                let Some(topic) = snapshot.topics.get_mut(&u.topic) else {
                    continue;
                };
                if topic.topic_id != u.topic_id {
                    continue;
                }
                let Some(current) = topic.partitions.get(&u.partition) else {
                    continue;
                };
                if !is_newer(current.state.as_ref(), &u.state) {
                    continue;
                }
                Arc::make_mut(topic).partitions.insert(
                    u.partition,
                    PartitionInfo {
                        replicas: u.replicas.clone(),
                        state: Some(u.state.clone()),
                    },
                );
                applied += 1;
            }
            applied
        });
        if applied > 0 {
            self.notify_changed();
        }
        applied
    }

    /// Drops deleted topics (name and id) from the cache so the replica
    /// manager deletes their logs now rather than at the next watch.
    pub fn forget_topics(&self, topics: &[(String, [u8; 16])]) -> usize {
        let topics = topics.to_vec();
        let removed = self.cache().edit(move |snapshot| {
            let mut removed = 0;
            for (name, id) in &topics {
                if snapshot.topics.get(name).is_some_and(|t| t.topic_id == *id) {
                    snapshot.topics.remove(name);
                    removed += 1;
                }
            }
            removed
        });
        if removed > 0 {
            self.notify_changed();
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(epoch: i32, version: i32) -> LeaderAndIsr {
        LeaderAndIsr {
            leader: 1,
            leader_epoch: epoch,
            isr: vec![1],
            controller_epoch: 1,
            zk_version: version,
        }
    }

    #[test]
    fn newer_means_later_in_the_znode_history() {
        assert!(is_newer(None, &st(0, 0)));
        assert!(is_newer(Some(&st(1, 4)), &st(2, 5)));
        assert!(is_newer(Some(&st(1, 4)), &st(1, 5)), "ISR-only change");
        assert!(!is_newer(Some(&st(1, 4)), &st(1, 4)));
        assert!(!is_newer(Some(&st(2, 5)), &st(1, 6)), "older leader epoch");
    }

    #[test]
    fn state_json_is_kafkas() {
        let json: serde_json::Value = serde_json::from_slice(&state_json(&st(3, 9))).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"controller_epoch":1,"leader":1,"version":1,"leader_epoch":3,"isr":[1]})
        );
    }
}
