//! Client quotas (KIP-13, KIP-55, KIP-124, KIP-219, KIP-599): byte rates
//! for produce and fetch, request handling time and partition mutations,
//! per user, client id, or both, with Kafka's defaults and precedence;
//! connection rates and counts per IP address (KIP-612).

pub mod connections;
pub mod entity;
pub mod manager;
pub mod rate;

pub use connections::{Admission, ConnectionQuotas};
pub use entity::{Filter, Name, QuotaConfigs, QuotaEntity, QuotaKind, DEFAULT_NAME};
pub use manager::{Charged, MutationQuota, QuotaExceeded, QuotaFigures, QuotaManager};
pub use rate::Windows;
