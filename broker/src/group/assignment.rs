//! Which broker coordinates a group: a pure function of the group id and
//! the live brokers, so every broker answers FindCoordinator alike.
//!
//! As Kafka, the group id hashes (Java's `String.hashCode`) to one of
//! `offsets.topic.num.partitions` slots; the slot picks a broker from the
//! sorted live broker ids. With one broker it is always that broker.

/// Java's `String.hashCode` over UTF-16 code units.
pub fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// Kafka's `partitionFor(groupId)`: `abs(hashCode) % partitions`.
pub fn slot_for(group: &str, slots: i32) -> i32 {
    let h = java_hash(group);
    // Kafka's Utils.abs maps i32::MIN to 0.
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % slots.max(1)
}

/// The coordinator of `group` among `live` broker ids (any order), or
/// `None` when no broker is live.
pub fn coordinator_for(group: &str, live: &[i32], slots: i32) -> Option<i32> {
    if live.is_empty() {
        return None;
    }
    coordinator_for_slot(slot_for(group, slots), live)
}

/// The broker that owns `slot` among `live` broker ids (any order).
pub fn coordinator_for_slot(slot: i32, live: &[i32]) -> Option<i32> {
    if live.is_empty() {
        return None;
    }
    let mut ids = live.to_vec();
    ids.sort_unstable();
    ids.dedup();
    Some(ids[slot.max(0) as usize % ids.len()])
}

/// The coordinator of `key` among the brokers live in `snapshot`: groups
/// (`offsets.topic.num.partitions` slots) and transactional ids
/// (`transaction.state.log.num.partitions` slots) both use it.
pub fn coordinator_in(snapshot: &crate::metadata::Snapshot, key: &str, slots: i32) -> Option<i32> {
    let live: Vec<i32> = snapshot.brokers.keys().copied().collect();
    coordinator_for(key, &live, slots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_matches_java() {
        assert_eq!(java_hash(""), 0);
        assert_eq!(java_hash("hello"), 99162322);
        assert_eq!(
            slot_for("console-consumer-1", 50),
            slot_for("console-consumer-1", 50)
        );
    }

    #[test]
    fn deterministic_and_order_free() {
        assert_eq!(coordinator_for("g", &[], 50), None);
        assert_eq!(coordinator_for("g", &[7], 50), Some(7));
        let a = coordinator_for("orders", &[3, 1, 2], 50);
        let b = coordinator_for("orders", &[2, 3, 1], 50);
        assert_eq!(a, b);
        // Groups spread over brokers.
        let owners: std::collections::BTreeSet<i32> = (0..100)
            .filter_map(|i| coordinator_for(&format!("g{i}"), &[1, 2, 3], 50))
            .collect();
        assert_eq!(owners.len(), 3);
    }
}
