//! Replica assignment for new topics and partitions, as Kafka's rack-unaware
//! `AdminUtils.assignReplicasToBrokers`: partitions go round-robin over the
//! brokers from a random start, and each partition's followers are shifted
//! so that leaders and followers spread evenly.

use std::collections::BTreeMap;

/// Why no assignment is possible (Kafka's INVALID_REPLICATION_FACTOR / INVALID_PARTITIONS).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssignmentError {
    #[error("Number of partitions must be larger than 0.")]
    NoPartitions,
    #[error("Replication factor must be larger than 0.")]
    NoReplicas,
    #[error("Replication factor: {rf} larger than available brokers: {brokers}.")]
    NotEnoughBrokers { rf: i32, brokers: usize },
}

/// Assigns partitions `first..first+count` over `brokers` (sorted, distinct).
///
/// `start` and `shift` are Kafka's random start index and replica shift;
/// callers pass random values, tests fixed ones.
pub fn assign(
    brokers: &[i32],
    first: i32,
    count: i32,
    rf: i32,
    start: usize,
    shift: usize,
) -> Result<BTreeMap<i32, Vec<i32>>, AssignmentError> {
    if count <= 0 {
        return Err(AssignmentError::NoPartitions);
    }
    if rf <= 0 {
        return Err(AssignmentError::NoReplicas);
    }
    let n = brokers.len();
    if rf as usize > n {
        return Err(AssignmentError::NotEnoughBrokers { rf, brokers: n });
    }
    let mut out = BTreeMap::new();
    let start = start % n;
    let mut shift = shift % n;
    for p in first..first + count {
        let current = p as usize;
        if current > 0 && current.is_multiple_of(n) {
            shift += 1;
        }
        let first_replica = (current + start) % n;
        let mut replicas = vec![brokers[first_replica]];
        for j in 0..(rf as usize - 1) {
            replicas.push(brokers[replica_index(first_replica, shift, j, n)]);
        }
        out.insert(p, replicas);
    }
    Ok(out)
}

fn replica_index(first: usize, shift: usize, j: usize, n: usize) -> usize {
    let s = 1 + (shift + j) % (n - 1);
    (first + s) % n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_broker() {
        let a = assign(&[1], 0, 3, 1, 7, 9).unwrap();
        assert_eq!(a.len(), 3);
        assert!(a.values().all(|r| r == &vec![1]));
    }

    #[test]
    fn spreads_leaders_and_keeps_replicas_distinct() {
        let brokers = [1, 2, 3];
        let a = assign(&brokers, 0, 6, 3, 0, 0).unwrap();
        for r in a.values() {
            let mut s = r.clone();
            s.sort();
            s.dedup();
            assert_eq!(s.len(), 3, "{r:?}");
        }
        let leaders: Vec<i32> = a.values().map(|r| r[0]).collect();
        assert_eq!(leaders, vec![1, 2, 3, 1, 2, 3]);
    }

    #[test]
    fn errors() {
        assert_eq!(
            assign(&[1], 0, 1, 2, 0, 0),
            Err(AssignmentError::NotEnoughBrokers { rf: 2, brokers: 1 })
        );
        assert_eq!(
            assign(&[1], 0, 0, 1, 0, 0),
            Err(AssignmentError::NoPartitions)
        );
        assert_eq!(
            assign(&[1], 0, 1, 0, 0, 0),
            Err(AssignmentError::NoReplicas)
        );
    }

    #[test]
    fn added_partitions_continue_numbering() {
        let a = assign(&[1, 2], 3, 2, 1, 0, 0).unwrap();
        assert_eq!(a.keys().copied().collect::<Vec<_>>(), vec![3, 4]);
    }
}
