//! openraft's storage conformance suite, run against our sled log store and
//! state machine.

use openraft::testing::{StoreBuilder, Suite};
use openraft::StorageError;

use std::sync::Arc;

use super::durable::Durable;
use super::log_store::LogStore;
use super::state_machine::{load_state, StateMachine};
use super::{NodeId, TypeConfig};
use crate::config::Config;
use crate::server::Shared;
use crate::storage::{SledStore, Store};

struct SledBuilder;

fn storage_err(e: impl std::error::Error + 'static) -> StorageError<NodeId> {
    openraft::StorageIOError::read(&e).into()
}

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for SledBuilder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError<NodeId>> {
        let dir = tempfile::tempdir().map_err(storage_err)?;
        let text = format!("dataDir={}\nclientPort=0\n", dir.path().display());
        let entries = runnel_common::properties::parse(&text, "test").map_err(storage_err)?;
        let config = Config::from_entries(&entries, "test").map_err(storage_err)?;
        let store = SledStore::open(&dir.path().join("store")).map_err(storage_err)?;
        let snapshots = dir.path().join("snapshot");
        let tree = load_state(&store, &snapshots).map_err(storage_err)?;
        let (shared, _proposals) = Shared::new(config, &tree);
        let log =
            LogStore::open(store.db(), &dir.path().join("raftlog"), 1).map_err(storage_err)?;
        // The suite applies entries it never appended: everything counts
        // as synced for the state machine.
        let sm = StateMachine::open(shared, snapshots, Arc::new(Durable::everything()))?;
        Ok((dir, log, sm))
    }
}

#[test]
fn sled_store_passes_openraft_suite() -> Result<(), StorageError<NodeId>> {
    Suite::test_all(SledBuilder)
}

/// A log written by a version-1 member (one proposal per entry, no format
/// key) reads back as one-proposal commands after the upgrade on open, and
/// a log from a newer format is refused rather than misread.
#[tokio::test]
async fn log_of_format_1_is_upgraded_on_open() -> Result<(), Box<dyn std::error::Error>> {
    use openraft::{CommittedLeaderId, EntryPayload, LogId, RaftLogReader};

    use super::log_format::{CommandV1, V1Config};
    use crate::txn::Txn;

    let dir = tempfile::tempdir()?;
    let db = sled::open(dir.path())?;
    let log = db.open_tree("raft_log")?;
    let log_id = |index| LogId::new(CommittedLeaderId::new(1, 1), index);
    let old = [
        openraft::Entry::<V1Config> {
            log_id: log_id(1),
            payload: EntryPayload::Blank,
        },
        openraft::Entry::<V1Config> {
            log_id: log_id(2),
            payload: EntryPayload::Normal(CommandV1 {
                time: 7,
                session: 42,
                txns: vec![Txn::Delete { path: "/a".into() }],
            }),
        },
    ];
    for entry in &old {
        log.insert(
            entry.log_id.index.to_be_bytes(),
            postcard::to_stdvec(entry)?,
        )?;
    }
    let mut store = LogStore::open(&db, &dir.path().join("raftlog"), 1)?;
    let entries = store.try_get_log_entries(0..10).await?;
    assert_eq!(entries.len(), 2);
    assert!(matches!(entries[0].payload, EntryPayload::Blank));
    match &entries[1].payload {
        EntryPayload::Normal(command) => {
            assert_eq!(command.time, 7);
            assert_eq!(command.proposals.len(), 1);
            assert_eq!(command.proposals[0].session, 42);
            assert_eq!(
                command.proposals[0].txns,
                vec![Txn::Delete { path: "/a".into() }]
            );
        }
        other => panic!("expected a command, got {other:?}"),
    }
    drop(store);
    // Opened again: already current, read the same.
    let mut store = LogStore::open(&db, &dir.path().join("raftlog"), 1)?;
    assert_eq!(store.try_get_log_entries(0..10).await?.len(), 2);
    drop(store);

    db.open_tree("raft_meta")?
        .insert("format", &3u32.to_be_bytes()[..])?;
    let refused = LogStore::open(&db, &dir.path().join("raftlog"), 1)
        .err()
        .map(|e| e.to_string());
    assert!(
        refused.as_deref().is_some_and(|e| e.contains("newer")),
        "{refused:?}"
    );
    Ok(())
}

/// The committed index the metrics read follows `save_committed`, and a
/// reopened log reports the stored one once openraft reads it back.
#[tokio::test]
async fn committed_index_follows_save_committed() -> Result<(), Box<dyn std::error::Error>> {
    use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
    use openraft::{CommittedLeaderId, LogId, Vote};

    let dir = tempfile::tempdir()?;
    let db = sled::open(dir.path())?;
    let mut store = LogStore::open(&db, &dir.path().join("raftlog"), 1)?;
    let committed = store.committed_index();
    assert_eq!(committed.get(), None);
    // A follower's appends (the vote is another member's): synced before
    // they are reported stored.
    store.save_vote(&Vote::new_committed(2, 2)).await?;
    store.blocking_append(blank(1, 2, 0..41)).await?;
    store.blocking_append(blank(2, 2, 41..42)).await?;
    store
        .save_committed(Some(LogId::new(CommittedLeaderId::new(1, 1), 0)))
        .await?;
    assert_eq!(committed.get(), Some(0));
    store
        .save_committed(Some(LogId::new(CommittedLeaderId::new(2, 1), 41)))
        .await?;
    assert_eq!(committed.get(), Some(41));
    drop(store);
    let mut reopened = LogStore::open(&db, &dir.path().join("raftlog"), 1)?;
    let again = reopened.committed_index();
    assert_eq!(again.get(), None, "not known until openraft reads it");
    assert_eq!(reopened.read_committed().await?.map(|c| c.index), Some(41));
    assert_eq!(again.get(), Some(41));
    Ok(())
}

fn blank(term: u64, leader: NodeId, indexes: std::ops::Range<u64>) -> Vec<super::Entry> {
    use openraft::{CommittedLeaderId, EntryPayload, LogId};
    indexes
        .map(|index| super::Entry {
            log_id: LogId::new(CommittedLeaderId::new(term, leader), index),
            payload: EntryPayload::Blank,
        })
        .collect()
}

/// A leader's own appends are reported stored before they are synced, and
/// count as synced once the flush thread is done with them; until then the
/// commit point stored for a restart stays at what is synced.
#[tokio::test]
async fn a_leaders_appends_are_synced_behind_its_back() -> Result<(), Box<dyn std::error::Error>> {
    use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
    use openraft::{CommittedLeaderId, LogId, Vote};

    let dir = tempfile::tempdir()?;
    let db = sled::open(dir.path())?;
    let mut store = LogStore::open(&db, &dir.path().join("raftlog"), 1)?;
    let durable = store.durable();
    store.save_vote(&Vote::new_committed(3, 1)).await?;
    store.blocking_append(blank(3, 1, 0..10)).await?;
    durable.wait_for(9).await?;
    let last = LogId::new(CommittedLeaderId::new(3, 1), 9);
    assert_eq!(durable.cut(Some(last)), Some(last));
    store.save_committed(Some(last)).await?;
    assert_eq!(store.read_committed().await?, Some(last));
    // Cut back: what was synced beyond the cut no longer counts.
    store
        .truncate(LogId::new(CommittedLeaderId::new(3, 1), 5))
        .await?;
    assert_eq!(durable.cut(Some(last)).map(|l| l.index), Some(4));
    Ok(())
}

/// A member's state as an older version stored it (every znode under its own
/// sled key, the last applied log id beside them) becomes its snapshot on
/// the first start: the same tree, resuming after the same log entry, and
/// the per-key records gone.
#[tokio::test]
async fn per_key_state_of_an_older_version_becomes_the_snapshot(
) -> Result<(), Box<dyn std::error::Error>> {
    use openraft::storage::RaftStateMachine;
    use openraft::{CommittedLeaderId, LogId};

    use crate::txn::{Txn, TxnEntry};

    let dir = tempfile::tempdir()?;
    let text = format!("dataDir={}\nclientPort=0\n", dir.path().display());
    let config = Config::from_entries(&runnel_common::properties::parse(&text, "test")?, "test")?;
    let store = SledStore::open(&dir.path().join("store"))?;
    let mut old = crate::tree::DataTree::new();
    let create = Txn::Create {
        path: "/kept".into(),
        data: Some(bytes::Bytes::from_static(b"v")),
        acl: Vec::new(),
        ephemeral_owner: 0,
        parent_cversion: 1,
    };
    old.apply(
        &TxnEntry {
            zxid: 9,
            time: 1,
            session: 0,
            txn: create,
        },
        &mut Vec::new(),
    );
    let applied = Some(LogId::new(CommittedLeaderId::new(2, 1), 41));
    store.replace_all(&old, &[("raft_applied", postcard::to_stdvec(&applied)?)])?;

    let snapshots = dir.path().join("snapshot");
    let tree = load_state(&store, &snapshots)?;
    assert_eq!(
        tree.node("/kept")
            .and_then(|n| n.data.as_deref().map(<[u8]>::to_vec)),
        Some(b"v".to_vec())
    );
    assert_eq!(tree.last_zxid(), 9);
    let (shared, _proposals) = Shared::new(config, &tree);
    let mut sm = StateMachine::open(shared, snapshots.clone(), Arc::new(Durable::everything()))?;
    assert_eq!(sm.applied_state().await?.0, applied);
    // Converted once: the per-key records are gone, the snapshot loads.
    assert_eq!(
        crate::storage::Store::load(&store)?.node_count(),
        crate::tree::DataTree::new().node_count()
    );
    let again = load_state(&store, &snapshots)?;
    assert_eq!(again.node_count(), tree.node_count());
    Ok(())
}
