//! Partition leader election as pure functions: the current state and what
//! the controller knows about brokers in, the new state out (or `None` when
//! nothing must change). Everything here is deterministic and unit tested;
//! the controller loop only applies the results.
//!
//! The rules are Kafka's ZooKeeper-mode controller's
//! (`PartitionStateMachine` / `Election.scala`): leaders come from the ISR
//! in assignment order, a leader change bumps the leader epoch, an ISR-only
//! change does not (see the module docs of [`super`] for where we differ).

use std::collections::BTreeSet;

use crate::metadata::cache::LeaderAndIsr;

/// What the controller knows about brokers when it decides.
#[derive(Debug, Clone, Default)]
pub struct Brokers {
    /// Registered in `/brokers/ids`.
    pub live: BTreeSet<i32>,
    /// Live but asked for a controlled shutdown: they may not become leader.
    pub shutting_down: BTreeSet<i32>,
}

impl Brokers {
    pub fn is_live(&self, id: i32) -> bool {
        self.live.contains(&id)
    }

    /// Live and not shutting down: may lead and stays in ISRs.
    pub fn is_eligible(&self, id: i32) -> bool {
        self.live.contains(&id) && !self.shutting_down.contains(&id)
    }
}

/// The state after one controller decision, ready to be written.
fn next(current: &LeaderAndIsr, leader: i32, isr: Vec<i32>, controller_epoch: i32) -> LeaderAndIsr {
    let leader_epoch = if leader != current.leader {
        current.leader_epoch + 1
    } else {
        current.leader_epoch
    };
    LeaderAndIsr {
        leader,
        leader_epoch,
        isr,
        controller_epoch,
        zk_version: current.zk_version,
    }
}

/// The partition's initial state at creation (Kafka's NewPartition →
/// OnlinePartition): the first live replica leads and every live replica is
/// in the ISR, leader epoch 0. With no live replica the partition starts
/// offline (leader -1, empty ISR) and [`elect`] picks a leader once one
/// registers.
pub fn initial(replicas: &[i32], live: &BTreeSet<i32>) -> (i32, Vec<i32>) {
    let isr: Vec<i32> = replicas
        .iter()
        .copied()
        .filter(|r| live.contains(r))
        .collect();
    (isr.first().copied().unwrap_or(-1), isr)
}

/// The election the controller runs for every partition whenever the live
/// broker set changes and when it takes office. Idempotent: a partition
/// whose leader is live and whose ISR holds only live brokers is left alone.
///
/// * Leader live: dead brokers leave the ISR (leader epoch unchanged).
/// * Leader dead or none: the first replica in assignment order that is
///   eligible and in the ISR leads; the ISR loses the brokers that are not
///   eligible; leader epoch + 1.
/// * No eligible ISR member: with `unclean`, the first eligible replica
///   leads with ISR = [it]; without, the partition goes offline (leader -1,
///   epoch + 1) and keeps its last ISR, so a returning member can lead
///   without losing acknowledged data.
/// * An empty ISR means the partition was never elected (created with no
///   live replica): any eligible replica may lead, with every eligible
///   replica in the ISR.
pub fn elect(
    replicas: &[i32],
    current: &LeaderAndIsr,
    brokers: &Brokers,
    unclean: bool,
    controller_epoch: i32,
) -> Option<LeaderAndIsr> {
    if current.leader >= 0 && brokers.is_live(current.leader) {
        let isr: Vec<i32> = current
            .isr
            .iter()
            .copied()
            .filter(|r| brokers.is_live(*r))
            .collect();
        if isr == current.isr {
            return None;
        }
        return Some(next(current, current.leader, isr, controller_epoch));
    }
    let in_isr = replicas
        .iter()
        .copied()
        .find(|r| current.isr.contains(r) && brokers.is_eligible(*r));
    if let Some(leader) = in_isr {
        let isr = current
            .isr
            .iter()
            .copied()
            .filter(|r| brokers.is_eligible(*r))
            .collect();
        return Some(next(current, leader, isr, controller_epoch));
    }
    let first_eligible = replicas.iter().copied().find(|r| brokers.is_eligible(*r));
    if current.isr.is_empty() {
        let leader = first_eligible?;
        let isr = replicas
            .iter()
            .copied()
            .filter(|r| brokers.is_eligible(*r))
            .collect();
        return Some(next(current, leader, isr, controller_epoch));
    }
    if unclean {
        if let Some(leader) = first_eligible {
            return Some(next(current, leader, vec![leader], controller_epoch));
        }
    }
    if current.leader == -1 {
        return None;
    }
    Some(next(current, -1, current.isr.clone(), controller_epoch))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn state(leader: i32, epoch: i32, isr: &[i32]) -> LeaderAndIsr {
        LeaderAndIsr {
            leader,
            leader_epoch: epoch,
            isr: isr.to_vec(),
            controller_epoch: 1,
            zk_version: 7,
        }
    }

    fn live(ids: &[i32]) -> Brokers {
        Brokers {
            live: ids.iter().copied().collect(),
            shutting_down: BTreeSet::new(),
        }
    }

    #[test]
    fn healthy_partition_is_left_alone() {
        assert_eq!(
            elect(
                &[1, 2, 3],
                &state(2, 4, &[2, 1, 3]),
                &live(&[1, 2, 3]),
                false,
                5
            ),
            None
        );
    }

    #[test]
    fn dead_leader_is_replaced_by_first_live_isr_member_in_assignment_order() {
        let new = elect(
            &[1, 2, 3],
            &state(1, 4, &[3, 1, 2]),
            &live(&[2, 3]),
            false,
            5,
        )
        .unwrap();
        assert_eq!(new.leader, 2, "assignment order, not ISR order");
        assert_eq!(new.leader_epoch, 5);
        assert_eq!(new.isr, vec![3, 2]);
        assert_eq!(new.controller_epoch, 5);
        assert_eq!(new.zk_version, 7, "written conditional on the version read");
    }

    #[test]
    fn live_replica_outside_isr_does_not_lead() {
        let new = elect(&[1, 2, 3], &state(1, 4, &[1, 3]), &live(&[2, 3]), false, 5).unwrap();
        assert_eq!(new.leader, 3);
        assert_eq!(new.isr, vec![3]);
    }

    #[test]
    fn dead_followers_leave_the_isr_without_epoch_bump() {
        let new = elect(
            &[1, 2, 3],
            &state(1, 4, &[1, 2, 3]),
            &live(&[1, 3]),
            false,
            5,
        )
        .unwrap();
        assert_eq!((new.leader, new.leader_epoch), (1, 4));
        assert_eq!(new.isr, vec![1, 3]);
    }

    #[test]
    fn no_live_isr_member_goes_offline_keeping_the_isr() {
        let new = elect(&[1, 2, 3], &state(1, 4, &[1]), &live(&[2, 3]), false, 5).unwrap();
        assert_eq!((new.leader, new.leader_epoch), (-1, 5));
        assert_eq!(new.isr, vec![1]);
        // Already offline: nothing to write again.
        assert_eq!(elect(&[1, 2, 3], &new, &live(&[2, 3]), false, 5), None);
    }

    #[test]
    fn unclean_election_takes_any_live_replica() {
        let new = elect(&[1, 2, 3], &state(1, 4, &[1]), &live(&[3]), true, 5).unwrap();
        assert_eq!((new.leader, new.leader_epoch), (3, 5));
        assert_eq!(new.isr, vec![3]);
        // Unclean but nobody alive: offline.
        let new = elect(&[1, 2], &state(1, 4, &[1]), &live(&[3]), true, 5).unwrap();
        assert_eq!(new.leader, -1);
    }

    #[test]
    fn offline_partition_recovers_when_an_isr_member_returns() {
        let offline = state(-1, 5, &[1]);
        assert_eq!(elect(&[1, 2, 3], &offline, &live(&[2, 3]), false, 6), None);
        let new = elect(&[1, 2, 3], &offline, &live(&[1, 2, 3]), false, 6).unwrap();
        assert_eq!((new.leader, new.leader_epoch, new.isr), (1, 6, vec![1]));
    }

    #[test]
    fn never_elected_partition_takes_live_replicas() {
        let new = elect(&[1, 2, 3], &state(-1, 0, &[]), &live(&[2, 3]), false, 2).unwrap();
        assert_eq!((new.leader, new.leader_epoch, new.isr), (2, 1, vec![2, 3]));
        assert_eq!(
            elect(&[1, 2, 3], &state(-1, 0, &[]), &live(&[]), false, 2),
            None
        );
    }

    #[test]
    fn shutting_down_brokers_do_not_become_leader() {
        let mut brokers = live(&[2, 3]);
        brokers.shutting_down.insert(2);
        let new = elect(&[1, 2, 3], &state(1, 4, &[1, 2, 3]), &brokers, false, 5).unwrap();
        assert_eq!(new.leader, 3);
        assert_eq!(new.isr, vec![3]);
    }

    #[test]
    fn election_is_idempotent() {
        let brokers = live(&[2, 3]);
        let once = elect(&[1, 2, 3], &state(1, 4, &[1, 2, 3]), &brokers, false, 5).unwrap();
        assert_eq!(elect(&[1, 2, 3], &once, &brokers, false, 5), None);
    }

    proptest! {
        /// Kafka's safety rules hold for any cluster state: a clean election
        /// only promotes an ISR member, leaders are eligible replicas and in
        /// their ISR, epochs never go back, and a second pass changes nothing.
        #[test]
        fn election_invariants(
            replicas in proptest::sample::subsequence(vec![1, 2, 3, 4, 5], 1..=5).prop_shuffle(),
            isr_mask in proptest::collection::vec(proptest::bool::ANY, 5),
            leader_pick in -1i32..5,
            live_mask in proptest::collection::vec(proptest::bool::ANY, 5),
            shutting_mask in proptest::collection::vec(proptest::bool::ANY, 5),
            unclean in proptest::bool::ANY,
        ) {
            let isr: Vec<i32> = replicas.iter().copied().zip(&isr_mask).filter(|(_, m)| **m).map(|(r, _)| r).collect();
            let leader = if leader_pick < 0 { -1 } else { isr.get(leader_pick as usize).copied().unwrap_or(-1) };
            let current = state(leader, 3, &isr);
            let brokers = Brokers {
                live: (1..=5).filter(|b| live_mask[(*b - 1) as usize]).collect(),
                shutting_down: (1..=5).filter(|b| shutting_mask[(*b - 1) as usize]).collect(),
            };
            let Some(new) = elect(&replicas, &current, &brokers, unclean, 9) else {
                return Ok(());
            };
            prop_assert!(new.leader_epoch >= current.leader_epoch);
            prop_assert_eq!(new.leader_epoch > current.leader_epoch, new.leader != current.leader);
            prop_assert!(new.isr.iter().all(|r| replicas.contains(r)));
            if new.leader >= 0 {
                prop_assert!(replicas.contains(&new.leader));
                prop_assert!(brokers.is_live(new.leader));
                prop_assert!(new.isr.contains(&new.leader));
                if new.leader != current.leader {
                    prop_assert!(brokers.is_eligible(new.leader));
                    prop_assert!(unclean || current.isr.is_empty() || current.isr.contains(&new.leader));
                }
            } else {
                prop_assert_eq!(&new.isr, &current.isr, "offline keeps the last ISR");
            }
            prop_assert_eq!(elect(&replicas, &new, &brokers, unclean, 9), None);
        }
    }

    #[test]
    fn initial_state_uses_live_replicas() {
        let live: BTreeSet<i32> = [1, 3].into_iter().collect();
        assert_eq!(initial(&[2, 3, 1], &live), (3, vec![3, 1]));
        assert_eq!(initial(&[2], &live), (-1, vec![]));
    }
}
