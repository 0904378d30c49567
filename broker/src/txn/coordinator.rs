//! The transaction coordinator: producer ids for idempotent producers, and
//! (for transactional ids) the state each id is in.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use tracing::warn;

use super::producer_id::ProducerIdManager;
use super::state::is_epoch_exhausted;
use crate::config::TransactionConfig;
use crate::metadata::transactions::TxnStore;
use crate::metadata::MetadataStore;

pub struct TransactionCoordinator {
    broker_id: i32,
    config: TransactionConfig,
    metadata: Arc<MetadataStore>,
    store: Arc<TxnStore>,
    producer_ids: ProducerIdManager,
}

impl TransactionCoordinator {
    pub fn new(
        broker_id: i32,
        config: TransactionConfig,
        metadata: Arc<MetadataStore>,
    ) -> Arc<TransactionCoordinator> {
        let store = Arc::new(TxnStore::new(metadata.clone()));
        Arc::new(TransactionCoordinator {
            broker_id,
            config,
            metadata,
            producer_ids: ProducerIdManager::new(broker_id, store.clone()),
            store,
        })
    }

    pub fn config(&self) -> &TransactionConfig {
        &self.config
    }

    async fn new_producer_id(&self) -> Result<i64, ResponseError> {
        self.producer_ids.next_id().await.map_err(|e| {
            warn!("allocating a producer id: {e}");
            ResponseError::CoordinatorNotAvailable
        })
    }

    /// InitProducerId without a transactional id: a new producer id at
    /// epoch 0; with the id and epoch a KIP-360 client sends after losing
    /// its state, the same id one epoch up (a new id once the epoch is used
    /// up). Idempotent producers have no record here, so the bump is not
    /// checked against one: partitions check epochs themselves.
    pub async fn init_idempotent(
        &self,
        expected: Option<(i64, i16)>,
    ) -> Result<(i64, i16), ResponseError> {
        match expected {
            Some((pid, epoch)) if !is_epoch_exhausted(epoch.saturating_add(1)) => {
                Ok((pid, epoch + 1))
            }
            _ => Ok((self.new_producer_id().await?, 0)),
        }
    }

    /// InitProducerId with a transactional id (the coordinator lands in the
    /// next commit).
    pub async fn init_transactional(
        &self,
        _id: &str,
        _timeout_ms: i32,
        _expected: Option<(i64, i16)>,
    ) -> Result<(i64, i16), ResponseError> {
        let _ = (&self.metadata, &self.store, self.broker_id);
        Err(ResponseError::CoordinatorNotAvailable)
    }
}
