//! DescribeLogDirs: each `log.dirs` entry of this broker with the size of
//! every partition in it (what `kafka-log-dirs.sh --describe` and Admin
//! clients' `describe_log_dirs` show; the way to see a compacted log shrink).
//! `topics` null means every partition; a named partition this broker does
//! not host is left out, as Kafka does. v4 adds the volume's total and
//! usable bytes.

use std::collections::BTreeMap;
use std::path::Path;

use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse, RequestHeader};
use kafka_protocol::protocol::StrBytes;
use runnel_common::kafka::topic_name;

use crate::server::Broker;

/// Kafka's "unknown" for a volume's sizes.
const UNKNOWN_VOLUME_BYTES: i64 = -1;

pub async fn handle(
    broker: &Broker,
    _header: &RequestHeader,
    request: DescribeLogDirsRequest,
) -> DescribeLogDirsResponse {
    let wanted: Option<BTreeMap<String, Vec<i32>>> = request.topics.map(|topics| {
        topics
            .into_iter()
            .map(|t| (t.topic.0.to_string(), t.partitions))
            .collect()
    });
    let hosted = broker.replicas.hosted();
    let mut results = Vec::new();
    for (i, dir) in broker.replicas.log_dirs().iter().enumerate() {
        // topic -> partitions in this directory, sorted for a stable answer.
        let mut topics: BTreeMap<&str, Vec<DescribeLogDirsPartition>> = BTreeMap::new();
        for ((topic, index), p) in &hosted {
            if p.dir_index != i {
                continue;
            }
            if let Some(w) = &wanted {
                if !w.get(topic).is_some_and(|ps| ps.contains(index)) {
                    continue;
                }
            }
            let lag = (p.high_watermark() - p.log.log_end_offset()).max(0);
            topics.entry(topic).or_default().push(
                DescribeLogDirsPartition::default()
                    .with_partition_index(*index)
                    .with_partition_size(p.log.size_in_bytes() as i64)
                    .with_offset_lag(lag)
                    .with_is_future_key(false),
            );
        }
        let (total, usable) = volume_bytes(dir.path());
        results.push(
            DescribeLogDirsResult::default()
                .with_log_dir(StrBytes::from_string(dir.path().display().to_string()))
                .with_topics(
                    topics
                        .into_iter()
                        .map(|(t, mut ps)| {
                            ps.sort_by_key(|p| p.partition_index);
                            DescribeLogDirsTopic::default()
                                .with_name(topic_name(t))
                                .with_partitions(ps)
                        })
                        .collect(),
                )
                .with_total_bytes(total)
                .with_usable_bytes(usable),
        );
    }
    DescribeLogDirsResponse::default().with_results(results)
}

/// The total and available bytes of the file system holding `path`
/// (statvfs), or Kafka's "unknown" if it cannot be read.
fn volume_bytes(path: &Path) -> (i64, i64) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return (UNKNOWN_VOLUME_BYTES, UNKNOWN_VOLUME_BYTES);
    };
    // SAFETY: `c` is a NUL-terminated path and `stat` a plain struct that
    // statvfs fills in; nothing is kept past the call.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut stat) } != 0 {
        return (UNKNOWN_VOLUME_BYTES, UNKNOWN_VOLUME_BYTES);
    }
    let frsize = stat.f_frsize as i64;
    (
        (stat.f_blocks as i64).saturating_mul(frsize),
        (stat.f_bavail as i64).saturating_mul(frsize),
    )
}
