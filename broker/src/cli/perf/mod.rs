//! `runnel perf produce` and `runnel perf consume`: load generators in the
//! manner of Kafka's `kafka-producer-perf-test.sh` and
//! `kafka-consumer-perf-test.sh`, printing a progress line every reporting
//! interval and a final line with records/s, MB/s and latency percentiles.
//!
//! * [`produce`]: sends `--num-records` records of `--record-size` bytes,
//!   optionally throttled to `--throughput` records/s.
//! * [`consume`]: reads a topic from the start until `--messages` records.
//! * [`histogram`]: the latency histogram both use.

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
