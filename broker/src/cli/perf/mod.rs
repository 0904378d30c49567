//! `runnel perf produce` and `runnel perf consume`: load generators in the
//! manner of Kafka's `kafka-producer-perf-test.sh` and
//! `kafka-consumer-perf-test.sh`, printing a progress line every reporting
//! interval and a final line with records/s, MB/s and latency percentiles.
//!
//! * [`produce`]: sends `--num-records` records of `--record-size` bytes
//!   (or as many as fit in `--duration` seconds), optionally throttled to
//!   `--throughput` records/s.
//! * [`consume`]: reads a topic from the start until `--messages` records,
//!   one fetch in flight per partition, and measures end-to-end latency.
//! * [`histogram`]: the latency histogram both use.
//!
//! The producer writes its send time into the first record of each batch
//! ([`write_send_time`]) so the consumer measures end to end in
//! microseconds rather than in the milliseconds of record timestamps.

pub mod consume;
pub mod histogram;
pub mod produce;

use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum PerfCommand {
    /// Producer load test (kafka-producer-perf-test.sh).
    Produce(produce::PerfProduceArgs),
    /// Consumer load test (kafka-consumer-perf-test.sh).
    Consume(consume::PerfConsumeArgs),
}

pub async fn run(cmd: PerfCommand) -> anyhow::Result<()> {
    match cmd {
        PerfCommand::Produce(a) => produce::run(a).await,
        PerfCommand::Consume(a) => consume::run(a).await,
    }
}

/// MB as Kafka's perf tools count them (2^20 bytes).
pub fn mb(bytes: f64) -> f64 {
    bytes / (1024.0 * 1024.0)
}

/// Marks a value that starts with a send time: these 4 bytes, then the
/// wall-clock time in microseconds since the epoch, big-endian. Lower-case
/// letters never occur in perf payloads (random capitals), so a payload
/// without a send time cannot be mistaken for one.
pub const SEND_TIME_MAGIC: &[u8; 4] = b"rnlt";
/// Bytes a send time takes at the start of a value.
pub const SEND_TIME_LEN: usize = 12;

/// Writes a send time over the start of `value` if it is long enough.
pub fn write_send_time(value: &mut [u8], micros: u64) -> bool {
    if value.len() < SEND_TIME_LEN {
        return false;
    }
    value[..4].copy_from_slice(SEND_TIME_MAGIC);
    value[4..SEND_TIME_LEN].copy_from_slice(&micros.to_be_bytes());
    true
}

/// The send time at the start of `value`, if it has one.
pub fn read_send_time(value: &[u8]) -> Option<u64> {
    if value.len() < SEND_TIME_LEN || &value[..4] != SEND_TIME_MAGIC {
        return None;
    }
    let mut b = [0u8; 8];
    b.copy_from_slice(&value[4..SEND_TIME_LEN]);
    Some(u64::from_be_bytes(b))
}

/// Wall-clock microseconds since the epoch.
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_time_round_trips() {
        let mut v = vec![b'Q'; 20];
        assert_eq!(read_send_time(&v), None);
        assert!(write_send_time(&mut v, 1_234_567));
        assert_eq!(read_send_time(&v), Some(1_234_567));
        assert_eq!(&v[SEND_TIME_LEN..], &[b'Q'; 8]);
        let mut short = vec![b'Q'; 11];
        assert!(!write_send_time(&mut short, 1));
        assert_eq!(read_send_time(&short), None);
    }
}
