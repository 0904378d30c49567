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
        let log = LogStore::open(store.db()).map_err(storage_err)?;
        let sm = StateMachine::open(shared, Arc::new(store))?;
        Ok((dir, log, sm))
    }
}

#[test]
fn sled_store_passes_openraft_suite() -> Result<(), StorageError<NodeId>> {
    Suite::test_all(SledBuilder)
}
