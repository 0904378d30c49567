//! The registry's state and where it lives: the `_schemas` topic.
//!
//! * [`records`]: the topic's keys and values (Confluent's layout).
//! * [`state`]: the records folded into maps.
//! * [`kafka`]: reading the topic into the state, and writing to it.

pub mod kafka;
pub mod records;
pub mod state;

pub use kafka::{KafkaStore, StoreConfig};
pub use records::{Key, Write};
pub use state::{Content, State, Version};
