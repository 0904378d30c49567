//! openraft's storage conformance suite, run against our sled log store and
//! state machine.

use std::sync::Arc;

use openraft::testing::{StoreBuilder, Suite};
use openraft::StorageError;

use super::log_store::LogStore;
use super::state_machine::StateMachine;
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
        let tree = store.load().map_err(storage_err)?;
        let (shared, _proposals) = Shared::new(config, &tree);
        shared.tree_mut().track_dirty();
        let log = LogStore::open(store.db(), &dir.path().join("raftlog")).map_err(storage_err)?;
        let sm = StateMachine::open(shared, Arc::new(store))?;
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
    let mut store = LogStore::open(&db, &dir.path().join("raftlog"))?;
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
    let mut store = LogStore::open(&db, &dir.path().join("raftlog"))?;
    assert_eq!(store.try_get_log_entries(0..10).await?.len(), 2);
    drop(store);

    db.open_tree("raft_meta")?
        .insert("format", &3u32.to_be_bytes()[..])?;
    let refused = LogStore::open(&db, &dir.path().join("raftlog"))
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
    use openraft::storage::RaftLogStorage;
    use openraft::{CommittedLeaderId, LogId};

    let dir = tempfile::tempdir()?;
    let db = sled::open(dir.path())?;
    let mut store = LogStore::open(&db, &dir.path().join("raftlog"))?;
    let committed = store.committed_index();
    assert_eq!(committed.get(), None);
    store
        .save_committed(Some(LogId::new(CommittedLeaderId::new(1, 1), 0)))
        .await?;
    assert_eq!(committed.get(), Some(0));
    store
        .save_committed(Some(LogId::new(CommittedLeaderId::new(2, 1), 41)))
        .await?;
    assert_eq!(committed.get(), Some(41));
    drop(store);
    let mut reopened = LogStore::open(&db, &dir.path().join("raftlog"))?;
    let again = reopened.committed_index();
    assert_eq!(again.get(), None, "not known until openraft reads it");
    assert_eq!(reopened.read_committed().await?.map(|c| c.index), Some(41));
    assert_eq!(again.get(), Some(41));
    Ok(())
}
