//! Cluster metadata kept in coord under Kafka's ZooKeeper layout, and the
//! broker's cached view of it.
//!
//! * [`layout`]: znode paths and their JSON.
//! * [`store`]: the coord session: reads, writes, watches (all
//!   `zookeeper-client` use is here).
//! * [`controller_store`]: the controller's lease and fenced partition-state
//!   writes, and applying the states it pushes to brokers.
//! * [`groups`]: consumer groups' records and committed offsets under
//!   `/consumers` (the only other `zookeeper-client` user).
//! * [`transactions`]: producer-id blocks (`/latest_producer_id_block`)
//!   and the transaction coordinator's records under `/transactions`.
//! * [`acls`]: ACL bindings under `/kafka-acl` and `/kafka-acl-extended`,
//!   and their change notifications.
//! * [`cache`]: the snapshot request handlers read.
//! * [`assignment`]: replica placement for new topics and partitions.
//! * [`znode_acl`]: the ACL each new znode gets (`zookeeper.set.acl`).

pub mod acls;
pub mod assignment;
pub mod cache;
pub mod controller_store;
pub mod groups;
pub mod layout;
pub mod quotas;
pub mod reload;
pub mod store;
pub mod transactions;
pub mod znode_acl;

pub use cache::{BrokerInfo, MetadataCache, PartitionInfo, Snapshot, TopicInfo};
pub use store::{CoordSettings, MetadataError, MetadataStore, NewTopic};
