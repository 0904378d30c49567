//! Per-API request counts, errors and total time, as Kafka's
//! `kafka.network:type=RequestMetrics` (`RequestsPerSec`, `ErrorsPerSec`,
//! `TotalTimeMs`, by `request`).
//!
//! The members of each API are made once, up front, in a table indexed by
//! API key, so a request costs two atomic increments and a histogram
//! observation.

use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use runnel_common::metrics::Registry;

use crate::control::message::InternalKey;
use crate::network::frame::Api;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabel {
    request: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabel {
    request: &'static str,
    error: String,
}

/// One API's members.
#[derive(Clone, Debug)]
pub struct ApiMetrics {
    name: &'static str,
    requests: Counter,
    total_time_ms: Histogram,
}

impl ApiMetrics {
    /// Counts a request answered after `elapsed` (from when it was read to
    /// when its answer was written).
    pub fn observe(&self, elapsed: Duration) {
        self.requests.inc();
        self.total_time_ms.observe(elapsed.as_secs_f64() * 1000.0);
    }
}

/// Highest Kafka API key kept in the table.
const MAX_KEY: i16 = 80;

pub struct RequestMetrics {
    requests: Family<RequestLabel, Counter>,
    total_time_ms: Family<RequestLabel, Histogram>,
    errors: Family<ErrorLabel, Counter>,
    kafka: Vec<Option<ApiMetrics>>,
    internal: Vec<(InternalKey, ApiMetrics)>,
}

impl Default for RequestMetrics {
    fn default() -> Self {
        let requests = Family::<RequestLabel, Counter>::default();
        let total_time_ms: Family<RequestLabel, Histogram> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.25, 2.0, 17)));
        let member = |name: &'static str| ApiMetrics {
            name,
            requests: requests
                .get_or_create(&RequestLabel { request: name })
                .clone(),
            total_time_ms: total_time_ms
                .get_or_create(&RequestLabel { request: name })
                .clone(),
        };
        let kafka = (0..=MAX_KEY)
            .map(|k| {
                ApiKey::try_from(k)
                    .ok()
                    .filter(|key| crate::api::api_versions::is_served(*key))
                    .map(|key| member(api_name(key)))
            })
            .collect();
        let internal = [
            (InternalKey::LeaderAndIsr, "LeaderAndIsr"),
            (InternalKey::StopReplica, "StopReplica"),
            (InternalKey::UpdateMetadata, "UpdateMetadata"),
            (InternalKey::ControlledShutdown, "ControlledShutdown"),
        ]
        .into_iter()
        .map(|(k, name)| (k, member(name)))
        .collect();
        RequestMetrics {
            requests,
            total_time_ms,
            errors: Family::default(),
            kafka,
            internal,
        }
    }
}

/// Kafka's name of an API (`Produce`, `OffsetCommit`, …): the variant's name.
fn api_name(key: ApiKey) -> &'static str {
    let name = format!("{key:?}");
    let name = name.strip_suffix("Key").unwrap_or(&name).to_string();
    // Made once per API at start-up; lives as long as the process.
    Box::leak(name.into_boxed_str())
}

/// Kafka's name of an error code (`NOT_LEADER_OR_FOLLOWER`).
fn error_name(code: i16) -> String {
    runnel_common::kafka::ErrorCode(code).name()
}

impl RequestMetrics {
    /// The members for a request's API, if it is one we count.
    pub fn api(&self, api: Api) -> Option<&ApiMetrics> {
        match api {
            Api::Kafka(key) => self.kafka.get(key as i16 as usize)?.as_ref(),
            Api::Internal(key) => self
                .internal
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, m)| m),
        }
    }

    /// Counts a non-zero error code in an answer to `api` (per partition
    /// for Produce and Fetch).
    pub fn error(&self, api: &ApiMetrics, code: i16) {
        if code != 0 {
            self.errors
                .get_or_create(&ErrorLabel {
                    request: api.name,
                    error: error_name(code),
                })
                .inc();
        }
    }

    /// Counts an error of a Kafka API by key.
    pub fn kafka_error(&self, key: ApiKey, code: i16) {
        if let Some(api) = self.api(Api::Kafka(key)) {
            self.error(api, code);
        }
    }

    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "kafka_network_requestmetrics_requests",
            "Requests answered, per API",
            self.requests.clone(),
        );
        registry.register(
            "kafka_network_requestmetrics_errors",
            "Error codes answered, per API and error (per partition for Produce and Fetch)",
            self.errors.clone(),
        );
        registry.register(
            "kafka_network_requestmetrics_totaltimems",
            "Milliseconds from reading a request to writing its answer, per API",
            self.total_time_ms.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kafkas() {
        assert_eq!(api_name(ApiKey::Produce), "Produce");
        assert_eq!(api_name(ApiKey::OffsetCommit), "OffsetCommit");
        assert_eq!(error_name(6), "NOT_LEADER_OR_FOLLOWER");
        assert_eq!(error_name(3), "UNKNOWN_TOPIC_OR_PARTITION");
    }

    #[test]
    fn every_served_api_has_members() {
        let m = RequestMetrics::default();
        for key in [
            ApiKey::Produce,
            ApiKey::Fetch,
            ApiKey::Metadata,
            ApiKey::ApiVersions,
        ] {
            assert!(m.api(Api::Kafka(key)).is_some(), "{key:?}");
        }
        assert!(m.api(Api::Internal(InternalKey::LeaderAndIsr)).is_some());
    }
}
