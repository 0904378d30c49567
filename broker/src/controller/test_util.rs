//! What the unit tests of [`super::rebalance`] and [`super::shutdown`] share.

use crate::metadata::cache::LeaderAndIsr;

/// A partition state led by `leader` with ISR `isr` (leader epoch 3,
/// controller epoch 1, zk version 2).
pub fn state(leader: i32, isr: &[i32]) -> LeaderAndIsr {
    LeaderAndIsr {
        leader,
        leader_epoch: 3,
        isr: isr.to_vec(),
        controller_epoch: 1,
        zk_version: 2,
    }
}
