//! Offsets committed inside transactions (TxnOffsetCommit), held per
//! producer id until the transaction's marker says commit (they become the
//! group's offsets) or abort (they are dropped), as Kafka's
//! `GroupMetadata.pendingTransactionalOffsetCommits`. Free of I/O; the
//! coordinator stores each change under `/consumers/<group>/pending_txn`.

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::error::ResponseError;

use super::state::Committed;
use crate::metadata::groups::{PendingOffsetJson, PendingTxnJson};

/// One producer's pending offsets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingTxn {
    pub producer_epoch: i16,
    pub offsets: BTreeMap<(String, i32), Committed>,
}

impl PendingTxn {
    pub fn to_json(&self, producer_id: i64) -> PendingTxnJson {
        PendingTxnJson {
            version: 1,
            producer_id,
            producer_epoch: self.producer_epoch,
            offsets: self
                .offsets
                .iter()
                .map(|((topic, partition), c)| PendingOffsetJson {
                    topic: topic.clone(),
                    partition: *partition,
                    offset: c.to_json(),
                })
                .collect(),
        }
    }

    pub fn from_json(j: &PendingTxnJson) -> PendingTxn {
        PendingTxn {
            producer_epoch: j.producer_epoch,
            offsets: j
                .offsets
                .iter()
                .map(|o| {
                    (
                        (o.topic.clone(), o.partition),
                        Committed {
                            offset: o.offset.offset,
                            leader_epoch: o.offset.leader_epoch,
                            metadata: o.offset.metadata.clone(),
                            commit_timestamp: o.offset.commit_timestamp,
                            expire_timestamp: None,
                            seq: 0,
                        },
                    )
                })
                .collect(),
        }
    }
}

/// Every producer's pending offsets for one group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingTxnOffsets {
    by_producer: BTreeMap<i64, PendingTxn>,
}

impl PendingTxnOffsets {
    pub fn from_stored(stored: &BTreeMap<i64, PendingTxnJson>) -> PendingTxnOffsets {
        PendingTxnOffsets {
            by_producer: stored
                .iter()
                .map(|(pid, j)| (*pid, PendingTxn::from_json(j)))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_producer.is_empty()
    }

    /// Adds a TxnOffsetCommit's offsets; returns the producer's whole
    /// pending set, to store. An older epoch than one already seen is
    /// fenced (a zombie producer's late commit).
    pub fn add(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        offsets: Vec<((String, i32), Committed)>,
    ) -> Result<PendingTxnJson, ResponseError> {
        let entry = self.by_producer.entry(producer_id).or_default();
        if producer_epoch < entry.producer_epoch {
            return Err(ResponseError::ProducerFenced);
        }
        entry.producer_epoch = producer_epoch;
        entry.offsets.extend(offsets);
        Ok(entry.to_json(producer_id))
    }

    pub fn get(&self, producer_id: i64) -> Option<&PendingTxn> {
        self.by_producer.get(&producer_id)
    }

    /// Forgets a producer's offsets (its transaction ended and that is
    /// stored).
    pub fn remove(&mut self, producer_id: i64) -> Option<PendingTxn> {
        self.by_producer.remove(&producer_id)
    }

    /// Partitions some open transaction has an offset for: OffsetFetch
    /// with `require_stable` answers UNSTABLE_OFFSET_COMMIT for them.
    pub fn partitions(&self) -> BTreeSet<(String, i32)> {
        self.by_producer
            .values()
            .flat_map(|p| p.offsets.keys().cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(offset: i64) -> Committed {
        Committed {
            offset,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp: 1,
            expire_timestamp: None,
            seq: 0,
        }
    }

    #[test]
    fn offsets_accumulate_per_producer_and_round_trip() {
        let mut p = PendingTxnOffsets::default();
        p.add(7, 0, vec![(("a".into(), 0), c(5))]).unwrap();
        let json = p.add(7, 0, vec![(("a".into(), 1), c(9))]).unwrap();
        assert_eq!(json.offsets.len(), 2);
        p.add(8, 0, vec![(("b".into(), 0), c(1))]).unwrap();
        assert_eq!(p.partitions().len(), 3);
        let back = PendingTxn::from_json(&json);
        assert_eq!(&back, p.get(7).unwrap());
        assert!(p.remove(7).is_some());
        assert_eq!(p.partitions().len(), 1);
    }

    #[test]
    fn an_older_epoch_is_fenced() {
        let mut p = PendingTxnOffsets::default();
        p.add(7, 3, vec![]).unwrap();
        assert_eq!(
            p.add(7, 2, vec![]).unwrap_err(),
            ResponseError::ProducerFenced
        );
    }
}
