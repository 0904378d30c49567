//! Controlled shutdown (Kafka's `controlled.shutdown.enable`): before a
//! broker stops, the controller moves every leadership it holds to another
//! ISR member and takes it out of the ISRs where it follows, so clients
//! switch leaders at once instead of after the coord session expires.
//!
//! [`decide`] is the controller's per-partition decision; the broker side
//! (asking the controller, retrying) is [`super::Controller::controlled_shutdown`].
//!
//! One difference from Kafka: partitions that cannot move because no other
//! replica is live are reported apart ("stranded") from those that could
//! move later (another replica is live but not in the ISR yet). The broker
//! retries only for the latter, so the last broker of a cluster does not
//! wait `controlled.shutdown.max.retries` × backoff for nothing.

use super::election::Brokers;
use crate::metadata::cache::LeaderAndIsr;

/// What controlled shutdown of one broker does to one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Not involved (not a replica, or a follower already out of the ISR).
    Untouched,
    /// Write this state: a new leader, or the broker removed from the ISR.
    Write(LeaderAndIsr),
    /// Still led by the broker; another replica is live but not in the ISR,
    /// so a retry may succeed once it catches up.
    Remaining,
    /// Still led by the broker and no other replica is live (or the
    /// partition has a single replica): nothing can take over.
    Stranded,
}

/// Moves `broker` (already in `brokers.shutting_down`) off one partition.
pub fn decide(
    broker: i32,
    replicas: &[i32],
    current: &LeaderAndIsr,
    brokers: &Brokers,
    controller_epoch: i32,
) -> Decision {
    if current.leader == broker {
        let successor = replicas
            .iter()
            .copied()
            .find(|r| *r != broker && current.isr.contains(r) && brokers.is_eligible(*r));
        return match successor {
            Some(leader) => Decision::Write(LeaderAndIsr {
                leader,
                leader_epoch: current.leader_epoch + 1,
                isr: isr_without(&current.isr, broker),
                controller_epoch,
                zk_version: current.zk_version,
            }),
            None if replicas
                .iter()
                .any(|r| *r != broker && brokers.is_eligible(*r)) =>
            {
                Decision::Remaining
            }
            None => Decision::Stranded,
        };
    }
    if current.leader >= 0 && current.isr.contains(&broker) {
        return Decision::Write(LeaderAndIsr {
            isr: isr_without(&current.isr, broker),
            controller_epoch,
            ..current.clone()
        });
    }
    Decision::Untouched
}

/// `isr` with `broker` taken out, order kept.
fn isr_without(isr: &[i32], broker: i32) -> Vec<i32> {
    isr.iter().copied().filter(|r| *r != broker).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::test_util::state;

    fn brokers(live: &[i32], shutting: &[i32]) -> Brokers {
        Brokers {
            live: live.iter().copied().collect(),
            shutting_down: shutting.iter().copied().collect(),
        }
    }

    #[test]
    fn leadership_moves_to_next_isr_member() {
        let b = brokers(&[1, 2, 3], &[1]);
        let d = decide(1, &[1, 2, 3], &state(1, &[1, 3, 2]), &b, 4);
        let Decision::Write(new) = d else {
            panic!("{d:?}")
        };
        assert_eq!(
            (new.leader, new.leader_epoch, new.controller_epoch),
            (2, 4, 4)
        );
        assert_eq!(new.isr, vec![3, 2]);
    }

    #[test]
    fn follower_leaves_the_isr_without_epoch_bump() {
        let b = brokers(&[1, 2, 3], &[1]);
        let d = decide(1, &[2, 1, 3], &state(2, &[2, 1, 3]), &b, 4);
        assert_eq!(
            d,
            Decision::Write(LeaderAndIsr {
                leader: 2,
                leader_epoch: 3,
                isr: vec![2, 3],
                controller_epoch: 4,
                zk_version: 2
            })
        );
        assert_eq!(
            decide(1, &[2, 1], &state(2, &[2]), &b, 4),
            Decision::Untouched
        );
        assert_eq!(
            decide(1, &[2, 3], &state(2, &[2, 3]), &b, 4),
            Decision::Untouched
        );
    }

    #[test]
    fn no_other_isr_member_remains_or_is_stranded() {
        let b = brokers(&[1, 2], &[1]);
        assert_eq!(
            decide(1, &[1, 2], &state(1, &[1]), &b, 4),
            Decision::Remaining
        );
        assert_eq!(
            decide(1, &[1, 3], &state(1, &[1, 3]), &b, 4),
            Decision::Stranded
        );
        assert_eq!(decide(1, &[1], &state(1, &[1]), &b, 4), Decision::Stranded);
        // Another broker shutting down too is no successor.
        let b = brokers(&[1, 2], &[1, 2]);
        assert_eq!(
            decide(1, &[1, 2], &state(1, &[1, 2]), &b, 4),
            Decision::Stranded
        );
    }
}
