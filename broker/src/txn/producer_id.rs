//! Producer ids: handed out one by one from blocks of
//! [`BLOCK_SIZE`] claimed in coord (Kafka's `ZkProducerIdManager`), so ids
//! are unique across brokers and restarts without a coord round trip per
//! id. A broker that restarts claims a fresh block; the rest of its old
//! block is simply never used.

use std::sync::Arc;

use tokio::sync::Mutex;

use crate::metadata::transactions::{ProducerIdBlock, TxnStore, TxnStoreError};

/// Ids per block (Kafka's `ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE`).
pub const BLOCK_SIZE: i64 = 1000;

/// The ids of one block not handed out yet.
#[derive(Debug, Clone, Copy)]
struct Remaining {
    next: i64,
    last: i64,
}

impl Remaining {
    fn take(&mut self) -> Option<i64> {
        if self.next > self.last {
            return None;
        }
        let id = self.next;
        self.next += 1;
        Some(id)
    }
}

impl From<ProducerIdBlock> for Remaining {
    fn from(b: ProducerIdBlock) -> Self {
        Remaining {
            next: b.first,
            last: b.last,
        }
    }
}

/// This broker's source of producer ids.
pub struct ProducerIdManager {
    broker_id: i32,
    store: Arc<TxnStore>,
    /// Held across the claim of a new block, so one claim serves everyone
    /// waiting.
    current: Mutex<Option<Remaining>>,
}

impl ProducerIdManager {
    pub fn new(broker_id: i32, store: Arc<TxnStore>) -> ProducerIdManager {
        ProducerIdManager {
            broker_id,
            store,
            current: Mutex::new(None),
        }
    }

    /// A producer id no other producer has had.
    pub async fn next_id(&self) -> Result<i64, TxnStoreError> {
        let mut current = self.current.lock().await;
        if let Some(id) = current.as_mut().and_then(Remaining::take) {
            return Ok(id);
        }
        let block = self
            .store
            .claim_producer_id_block(self.broker_id, BLOCK_SIZE)
            .await?;
        let mut remaining = Remaining::from(block);
        let id = remaining
            .take()
            .ok_or(TxnStoreError::ProducerIdsExhausted)?;
        *current = Some(remaining);
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_yields_each_id_once() {
        let mut r = Remaining::from(ProducerIdBlock { first: 5, last: 7 });
        assert_eq!(r.take(), Some(5));
        assert_eq!(r.take(), Some(6));
        assert_eq!(r.take(), Some(7));
        assert_eq!(r.take(), None);
    }
}
