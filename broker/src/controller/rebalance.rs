//! Preferred-leader rebalance (Kafka's `auto.leader.rebalance.enable`): the
//! first replica of a partition's assignment is its preferred leader;
//! assignments spread preferred leaders evenly, so leadership drifting away
//! after failovers is moved back once the preferred replica is live and in
//! the ISR again.
//!
//! A broker is imbalanced when the share of the partitions it prefers but
//! does not lead exceeds `leader.imbalance.per.broker.percentage`; only
//! those brokers' partitions are moved, as in Kafka's
//! `checkAndTriggerAutoLeaderRebalance`.

use std::collections::BTreeMap;

use super::election::Brokers;
use crate::metadata::cache::LeaderAndIsr;

/// One partition as the rebalance sees it.
#[derive(Debug, Clone)]
pub struct Placement<'a, K> {
    pub key: K,
    pub replicas: &'a [i32],
    pub state: &'a LeaderAndIsr,
}

/// Preferred broker → (partitions it prefers but does not lead, partitions it prefers).
pub fn imbalance<K>(partitions: &[Placement<'_, K>]) -> BTreeMap<i32, (usize, usize)> {
    let mut out: BTreeMap<i32, (usize, usize)> = BTreeMap::new();
    for p in partitions {
        let Some(&preferred) = p.replicas.first() else {
            continue;
        };
        let entry = out.entry(preferred).or_default();
        entry.1 += 1;
        if p.state.leader != preferred {
            entry.0 += 1;
        }
    }
    out
}

/// The leadership moves back to preferred replicas: for every broker over
/// the threshold, each partition it prefers, does not lead, and could lead
/// (eligible and in the ISR) gets it as leader, leader epoch + 1.
pub fn preferred_moves<K: Clone>(
    partitions: &[Placement<'_, K>],
    brokers: &Brokers,
    max_imbalance_percent: u32,
    controller_epoch: i32,
) -> Vec<(K, LeaderAndIsr)> {
    let ratios = imbalance(partitions);
    let over = |b: i32| {
        ratios.get(&b).is_some_and(|(off, total)| {
            *total > 0 && (*off as u64) * 100 > u64::from(max_imbalance_percent) * (*total as u64)
        })
    };
    partitions
        .iter()
        .filter_map(|p| {
            let preferred = *p.replicas.first()?;
            let movable = p.state.leader != preferred
                && over(preferred)
                && brokers.is_eligible(preferred)
                && p.state.isr.contains(&preferred);
            movable.then(|| {
                (
                    p.key.clone(),
                    LeaderAndIsr {
                        leader: preferred,
                        leader_epoch: p.state.leader_epoch + 1,
                        isr: p.state.isr.clone(),
                        controller_epoch,
                        zk_version: p.state.zk_version,
                    },
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::test_util::state;

    /// Partition i of `replicas` and `states`, keyed by i.
    fn placements<'a>(
        replicas: &'a [Vec<i32>],
        states: &'a [LeaderAndIsr],
    ) -> Vec<Placement<'a, usize>> {
        replicas
            .iter()
            .zip(states)
            .enumerate()
            .map(|(key, (replicas, state))| Placement {
                key,
                replicas,
                state,
            })
            .collect()
    }

    fn brokers(ids: &[i32]) -> Brokers {
        Brokers {
            live: ids.iter().copied().collect(),
            ..Brokers::default()
        }
    }

    #[test]
    fn moves_leadership_back_to_the_preferred_replica() {
        let r = [vec![1, 2], vec![2, 1], vec![1, 2], vec![2, 1]];
        let s = [
            state(2, &[1, 2]),
            state(2, &[1, 2]),
            state(1, &[1, 2]),
            state(2, &[2]),
        ];
        let parts = placements(&r, &s);
        assert_eq!(imbalance(&parts)[&1], (1, 2));
        assert_eq!(imbalance(&parts)[&2], (0, 2));
        let moves = preferred_moves(&parts, &brokers(&[1, 2]), 10, 9);
        assert_eq!(moves.len(), 1);
        let (key, new) = &moves[0];
        assert_eq!(*key, 0);
        assert_eq!(
            (new.leader, new.leader_epoch, new.controller_epoch),
            (1, 4, 9)
        );
        assert_eq!(new.isr, vec![1, 2]);
    }

    #[test]
    fn below_threshold_or_not_in_isr_or_dead_is_not_moved() {
        let r: Vec<Vec<i32>> = (0..10).map(|_| vec![1, 2]).collect();
        let mut s: Vec<LeaderAndIsr> = (0..10).map(|_| state(1, &[1, 2])).collect();
        s[0] = state(2, &[1, 2]);
        let parts = placements(&r, &s);
        // 1 of 10 = 10%, not above 10%.
        assert!(preferred_moves(&parts, &brokers(&[1, 2]), 10, 9).is_empty());
        assert_eq!(preferred_moves(&parts, &brokers(&[1, 2]), 5, 9).len(), 1);
        assert!(preferred_moves(&parts, &brokers(&[2]), 5, 9).is_empty());
        s[0] = state(2, &[2]);
        let parts = placements(&r, &s);
        assert!(preferred_moves(&parts, &brokers(&[1, 2]), 5, 9).is_empty());
    }

    #[test]
    fn shutting_down_preferred_replica_is_not_chosen() {
        let r = [vec![1, 2]];
        let s = [state(2, &[1, 2])];
        let parts = placements(&r, &s);
        let mut b = brokers(&[1, 2]);
        b.shutting_down.insert(1);
        assert!(preferred_moves(&parts, &b, 10, 9).is_empty());
    }
}
