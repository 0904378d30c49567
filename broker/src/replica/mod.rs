//! Replicas this broker hosts.
//!
//! * [`manager`]: which partitions are open, reconciliation with the
//!   metadata cache, background retention and flushing.
//! * [`partition`]: one partition's log and replication state (role, epoch,
//!   ISR, followers' progress, high watermark).
//! * [`log_cleaner`]: which compacted logs are cleaned when.
//! * [`fetcher`]: follower fetcher tasks, one per leader broker, with
//!   truncation by leader epoch.

pub mod fetch_session;
pub mod fetcher;
pub mod log_cleaner;
pub mod manager;
pub mod partition;

pub use manager::ReplicaManager;
pub use partition::Partition;
