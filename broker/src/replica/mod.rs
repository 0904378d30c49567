//! Replicas this broker hosts.
//!
//! * [`manager`]: which partitions are open, reconciliation with the
//!   metadata cache, background retention and flushing.
//! * [`partition`]: one partition's log and leader state (epoch, ISR,
//!   high watermark).

pub mod manager;
pub mod partition;

pub use manager::ReplicaManager;
pub use partition::Partition;
