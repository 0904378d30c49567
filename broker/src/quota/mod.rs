//! Client quotas (KIP-13, KIP-55, KIP-124, KIP-219, KIP-599): byte rates
//! for produce and fetch, request handling time and partition mutations,
//! per user, client id, or both, with Kafka's defaults and precedence.

pub mod entity;
pub mod manager;
pub mod rate;

pub use entity::{Filter, Name, QuotaEntity, QuotaKind, DEFAULT_NAME};
pub use manager::{MutationQuota, QuotaExceeded, QuotaFigures, QuotaManager};
pub use rate::Windows;
