//! `runnel transactions`: kafka-transactions.sh's commands, flags and
//! output.
//!
//! ```text
//! runnel transactions --bootstrap-server B list
//! runnel transactions --bootstrap-server B describe --transactional-id X
//! runnel transactions --bootstrap-server B describe-producers --topic T --partition P
//! runnel transactions --bootstrap-server B find-hanging (--broker-id N | --topic T [--partition P])
//!                     [--max-transaction-timeout MINUTES]
//! runnel transactions --bootstrap-server B abort --topic T --partition P
//!                     (--start-offset O | --producer-id I --producer-epoch E --coordinator-epoch C)
//! ```
//!
//! Tables print as kafka-transactions.sh prints them: a header row, columns
//! padded to their widest cell and separated by tabs. Errors print
//! `Error: …` and exit with status 1.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::describe_producers_response::ProducerState;
use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{
    DescribeProducersRequest, DescribeTransactionsRequest, FindCoordinatorRequest,
    ListTransactionsRequest, ProducerId, TopicName, TransactionalId, WriteTxnMarkersRequest,
};
use kafka_protocol::protocol::StrBytes;
use runnel_common::kafka::{Client, Connection, ErrorCode, KafkaError};

use super::connect;

#[derive(Args, Debug)]
pub struct TransactionsArgs {
    /// host:port of a broker (comma-separated list allowed).
    #[arg(long)]
    pub bootstrap_server: String,
    /// A Kafka client properties file with the security settings to connect
    /// with (security.protocol, ssl.*, sasl.*), as kafka-transactions.sh takes it.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<String>,
    #[command(subcommand)]
    pub command: TxnCommand,
}

#[derive(Subcommand, Debug)]
pub enum TxnCommand {
    /// List transactions known to every broker's coordinator.
    List,
    /// Describe one transactional id at its coordinator.
    Describe {
        #[arg(long)]
        transactional_id: String,
    },
    /// The active producers of a partition (DescribeProducers at its leader).
    DescribeProducers {
        #[arg(long)]
        topic: String,
        #[arg(long)]
        partition: i32,
    },
    /// Open transactions older than --max-transaction-timeout on partitions
    /// whose coordinator does not have them open (Kafka's find-hanging).
    FindHanging {
        #[arg(long, conflicts_with = "topic")]
        broker_id: Option<i32>,
        #[arg(long)]
        topic: Option<String>,
        #[arg(long, requires = "topic")]
        partition: Option<i32>,
        /// Minutes (Kafka's default transaction.max.timeout.ms is 15 minutes).
        #[arg(long, default_value_t = 15)]
        max_transaction_timeout: i64,
    },
    /// Abort a hanging transaction by writing an abort marker to the partition.
    Abort {
        #[arg(long)]
        topic: String,
        #[arg(long)]
        partition: i32,
        /// The first offset of the transaction to abort (as find-hanging
        /// prints it): its producer is looked up with DescribeProducers.
        #[arg(long, conflicts_with_all = ["producer_id", "producer_epoch", "coordinator_epoch"])]
        start_offset: Option<i64>,
        #[arg(long, requires_all = ["producer_epoch", "coordinator_epoch"])]
        producer_id: Option<i64>,
        #[arg(long)]
        producer_epoch: Option<i16>,
        #[arg(long)]
        coordinator_epoch: Option<i32>,
    },
}

const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// FindCoordinator key type of a transactional id.
const TRANSACTION_KEY: i8 = 1;

pub async fn run(args: TransactionsArgs) -> anyhow::Result<()> {
    match execute(&args).await {
        Ok(()) => Ok(()),
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::exit(1);
        }
    }
}

async fn execute(a: &TransactionsArgs) -> anyhow::Result<()> {
    let client = connect(
        &a.bootstrap_server,
        REQUEST_TIMEOUT,
        a.command_config.as_deref(),
    )
    .await?;
    match &a.command {
        TxnCommand::List => list(&client).await,
        TxnCommand::Describe { transactional_id } => describe(&client, transactional_id).await,
        TxnCommand::DescribeProducers { topic, partition } => {
            let producers = describe_producers(&client, topic, *partition).await?;
            print_table(
                &[
                    "ProducerId",
                    "ProducerEpoch",
                    "LatestCoordinatorEpoch",
                    "LastSequence",
                    "LastTimestamp",
                    "CurrentTransactionStartOffset",
                ],
                producers
                    .iter()
                    .map(|p| {
                        vec![
                            p.producer_id.0.to_string(),
                            p.producer_epoch.to_string(),
                            p.coordinator_epoch.to_string(),
                            p.last_sequence.to_string(),
                            p.last_timestamp.to_string(),
                            if p.current_txn_start_offset < 0 {
                                "None".to_string()
                            } else {
                                p.current_txn_start_offset.to_string()
                            },
                        ]
                    })
                    .collect(),
            );
            Ok(())
        }
        TxnCommand::FindHanging {
            broker_id,
            topic,
            partition,
            max_transaction_timeout,
        } => {
            find_hanging(
                &client,
                *broker_id,
                topic.as_deref(),
                *partition,
                *max_transaction_timeout,
            )
            .await
        }
        TxnCommand::Abort {
            topic,
            partition,
            start_offset,
            producer_id,
            producer_epoch,
            coordinator_epoch,
        } => {
            let (pid, epoch, coordinator_epoch) = match (start_offset, producer_id) {
                (Some(offset), _) => {
                    let producers = describe_producers(&client, topic, *partition).await?;
                    let p = producers
                        .iter()
                        .find(|p| p.current_txn_start_offset == *offset)
                        .ok_or_else(|| {
                            anyhow!(
                                "Could not find any open transactions starting at offset {offset} on partition {topic}-{partition}"
                            )
                        })?;
                    let epoch = i16::try_from(p.producer_epoch)
                        .with_context(|| format!("producer epoch {}", p.producer_epoch))?;
                    (p.producer_id.0, epoch, p.coordinator_epoch.max(0))
                }
                (None, Some(pid)) => (
                    *pid,
                    producer_epoch.unwrap_or(0),
                    coordinator_epoch.unwrap_or(0),
                ),
                (None, None) => bail!("abort needs --start-offset or --producer-id"),
            };
            abort(&client, topic, *partition, pid, epoch, coordinator_epoch).await
        }
    }
}

/// Prints a header and rows, each column as wide as its widest cell.
fn print_table(headers: &[&str], rows: Vec<Vec<String>>) {
    print!("{}", format_table(headers, &rows));
}

fn format_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join("\t").trim_end())
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

fn check(code: i16, what: &str) -> Result<(), KafkaError> {
    ErrorCode::check(code).map_err(|c| KafkaError::broker(what, c, None))
}

async fn call_version<R: kafka_protocol::protocol::Request>(
    conn: &Connection,
    request: &R,
    versions: (i16, i16),
) -> anyhow::Result<R::Response> {
    let version = conn.version::<R>(versions)?;
    Ok(conn.call(request, version).await?)
}

/// One transaction as ListTransactions reports it, with its coordinator.
#[derive(Debug, Clone)]
struct Listed {
    coordinator: i32,
    transactional_id: String,
    producer_id: i64,
    state: String,
}

/// ListTransactions at every broker (each lists the ids it coordinates).
async fn list_all(client: &Client) -> anyhow::Result<Vec<Listed>> {
    let md = client.metadata(Some(&[]), false).await?;
    let mut out = Vec::new();
    for id in md.brokers.keys() {
        let conn = client.node(*id).await?;
        let resp = call_version(&conn, &ListTransactionsRequest::default(), (0, 0)).await?;
        check(
            resp.error_code,
            &format!("list transactions at broker {id}"),
        )?;
        for t in resp.transaction_states {
            out.push(Listed {
                coordinator: *id,
                transactional_id: t.transactional_id.to_string(),
                producer_id: t.producer_id.0,
                state: t.transaction_state.to_string(),
            });
        }
    }
    Ok(out)
}

async fn list(client: &Client) -> anyhow::Result<()> {
    let listed = list_all(client).await?;
    print_table(
        &[
            "TransactionalId",
            "Coordinator",
            "ProducerId",
            "TransactionState",
        ],
        listed
            .into_iter()
            .map(|t| {
                vec![
                    t.transactional_id,
                    t.coordinator.to_string(),
                    t.producer_id.to_string(),
                    t.state,
                ]
            })
            .collect(),
    );
    Ok(())
}

/// The broker coordinating a transactional id.
async fn coordinator(client: &Client, id: &str) -> anyhow::Result<(i32, Arc<Connection>)> {
    let conn = client.any().await?;
    let mut req = FindCoordinatorRequest::default().with_key_type(TRANSACTION_KEY);
    let version = conn.version::<FindCoordinatorRequest>((1, 4))?;
    if version >= 4 {
        req.coordinator_keys = vec![StrBytes::from_string(id.to_string())];
    } else {
        req.key = StrBytes::from_string(id.to_string());
    }
    let resp = conn.call(&req, version).await?;
    let (code, node) = match resp.coordinators.first() {
        Some(c) if version >= 4 => (c.error_code, c.node_id.0),
        _ => (resp.error_code, resp.node_id.0),
    };
    check(code, &format!("find the coordinator of {id}"))?;
    Ok((node, client.node(node).await?))
}

struct Described {
    coordinator: i32,
    producer_id: i64,
    producer_epoch: i16,
    state: String,
    timeout_ms: i32,
    start_ms: i64,
    partitions: Vec<(String, i32)>,
}

async fn describe_one(client: &Client, id: &str) -> anyhow::Result<Described> {
    let (node, conn) = coordinator(client, id).await?;
    let req = DescribeTransactionsRequest::default()
        .with_transactional_ids(vec![TransactionalId(StrBytes::from_string(id.to_string()))]);
    let resp = call_version(&conn, &req, (0, 0)).await?;
    let t = resp
        .transaction_states
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("no answer for {id}"))?;
    check(t.error_code, &format!("describe transactional id {id}"))?;
    Ok(Described {
        coordinator: node,
        producer_id: t.producer_id.0,
        producer_epoch: t.producer_epoch,
        state: t.transaction_state.to_string(),
        timeout_ms: t.transaction_timeout_ms,
        start_ms: t.transaction_start_time_ms,
        partitions: t
            .topics
            .iter()
            .flat_map(|tp| tp.partitions.iter().map(|p| (tp.topic.to_string(), *p)))
            .collect(),
    })
}

async fn describe(client: &Client, id: &str) -> anyhow::Result<()> {
    let d = describe_one(client, id).await?;
    let now = crate::server::now_ms();
    let (start, duration) = if d.start_ms < 0 {
        ("None".to_string(), "None".to_string())
    } else {
        (d.start_ms.to_string(), (now - d.start_ms).to_string())
    };
    let partitions: Vec<String> = d
        .partitions
        .iter()
        .map(|(t, p)| format!("{t}-{p}"))
        .collect();
    print_table(
        &[
            "CoordinatorId",
            "TransactionalId",
            "ProducerId",
            "ProducerEpoch",
            "TransactionState",
            "TransactionTimeoutMs",
            "CurrentTransactionStartTimeMs",
            "TransactionDurationMs",
            "TopicPartitions",
        ],
        vec![vec![
            d.coordinator.to_string(),
            id.to_string(),
            d.producer_id.to_string(),
            d.producer_epoch.to_string(),
            d.state,
            d.timeout_ms.to_string(),
            start,
            duration,
            partitions.join(","),
        ]],
    );
    Ok(())
}

/// The leader of a partition and a connection to it.
async fn leader(client: &Client, topic: &str, partition: i32) -> anyhow::Result<Arc<Connection>> {
    let md = client.metadata(Some(&[topic]), false).await?;
    let leader = md
        .leader(topic, partition)
        .filter(|l| *l >= 0)
        .ok_or_else(|| anyhow!("no leader known for {topic}-{partition}"))?;
    Ok(client.node(leader).await?)
}

async fn describe_producers(
    client: &Client,
    topic: &str,
    partition: i32,
) -> anyhow::Result<Vec<ProducerState>> {
    let conn = leader(client, topic, partition).await?;
    let req = DescribeProducersRequest::default().with_topics(vec![TopicRequest::default()
        .with_name(TopicName(StrBytes::from_string(topic.to_string())))
        .with_partition_indexes(vec![partition])]);
    let resp = call_version(&conn, &req, (0, 0)).await?;
    let p = resp
        .topics
        .into_iter()
        .flat_map(|t| t.partitions)
        .find(|p| p.partition_index == partition)
        .ok_or_else(|| anyhow!("no answer for {topic}-{partition}"))?;
    check(
        p.error_code,
        &format!("describe producers of {topic}-{partition}"),
    )?;
    Ok(p.active_producers)
}

async fn find_hanging(
    client: &Client,
    broker_id: Option<i32>,
    topic: Option<&str>,
    partition: Option<i32>,
    max_minutes: i64,
) -> anyhow::Result<()> {
    if broker_id.is_none() && topic.is_none() {
        bail!("find-hanging needs --broker-id or --topic");
    }
    let md = match topic {
        Some(t) => client.metadata(Some(&[t]), false).await?,
        None => client.metadata(None, false).await?,
    };
    let mut partitions = Vec::new();
    for (name, t) in &md.topics {
        if topic.is_some_and(|want| want != name) {
            continue;
        }
        for p in &t.partitions {
            let on_broker = broker_id.is_none_or(|b| p.replicas.contains(&b));
            let wanted = partition.is_none_or(|want| want == p.partition);
            if on_broker && wanted {
                partitions.push((name.clone(), p.partition));
            }
        }
    }
    let now = crate::server::now_ms();
    let max_ms = max_minutes.saturating_mul(60_000);
    // Open transactions by producer id, as their coordinators know them.
    let listed = list_all(client).await?;
    let mut open_by_producer: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for t in listed {
        if t.state == "Ongoing" || t.state == "PrepareCommit" || t.state == "PrepareAbort" {
            open_by_producer
                .entry(t.producer_id)
                .or_default()
                .push(t.transactional_id);
        }
    }
    let mut rows = Vec::new();
    for (t, p) in partitions {
        let producers = match describe_producers(client, &t, p).await {
            Ok(ps) => ps,
            Err(e) => {
                eprintln!("Skipping {t}-{p}: {e:#}");
                continue;
            }
        };
        for prod in producers {
            if prod.current_txn_start_offset < 0 {
                continue;
            }
            // As Kafka: a candidate is open longer than the maximum timeout;
            // it hangs if its coordinator has no open transaction for the
            // producer that includes this partition.
            let age = now - prod.last_timestamp;
            if age <= max_ms {
                continue;
            }
            let mut known = false;
            for id in open_by_producer
                .get(&prod.producer_id.0)
                .into_iter()
                .flatten()
            {
                if let Ok(d) = describe_one(client, id).await {
                    known |= d.producer_id == prod.producer_id.0
                        && d.partitions.contains(&(t.clone(), p));
                }
            }
            if known {
                continue;
            }
            rows.push(vec![
                t.clone(),
                p.to_string(),
                prod.producer_id.0.to_string(),
                prod.producer_epoch.to_string(),
                prod.coordinator_epoch.to_string(),
                prod.current_txn_start_offset.to_string(),
                prod.last_timestamp.to_string(),
                (age / 60_000).to_string(),
            ]);
        }
    }
    print_table(
        &[
            "Topic",
            "Partition",
            "ProducerId",
            "ProducerEpoch",
            "CoordinatorEpoch",
            "StartOffset",
            "LastTimestamp",
            "Duration(min)",
        ],
        rows,
    );
    Ok(())
}

/// Writes an abort marker for `producer_id` to the partition's leader, as
/// kafka-transactions.sh's abort does.
async fn abort(
    client: &Client,
    topic: &str,
    partition: i32,
    producer_id: i64,
    producer_epoch: i16,
    coordinator_epoch: i32,
) -> anyhow::Result<()> {
    let conn = leader(client, topic, partition).await?;
    let marker = WritableTxnMarker::default()
        .with_producer_id(ProducerId(producer_id))
        .with_producer_epoch(producer_epoch)
        .with_transaction_result(false)
        .with_coordinator_epoch(coordinator_epoch)
        .with_topics(vec![WritableTxnMarkerTopic::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partition_indexes(vec![partition])]);
    let req = WriteTxnMarkersRequest::default().with_markers(vec![marker]);
    let resp = call_version(&conn, &req, (1, 1)).await?;
    for m in resp.markers {
        for t in m.topics {
            for p in t.partitions {
                check(
                    p.error_code,
                    &format!("abort marker for {}-{}", t.name.as_str(), p.partition_index),
                )?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn tables_pad_columns() {
        let t = format_table(
            &["A", "Long"],
            &[
                vec!["xyz".into(), "1".into()],
                vec!["q".into(), "22".into()],
            ],
        );
        assert_eq!(t, "A  \tLong\nxyz\t1\nq  \t22\n");
    }

    #[test]
    fn kafka_transactions_flags_parse() {
        let parse = |args: &[&str]| {
            let mut v = vec!["runnel", "transactions", "--bootstrap-server", "b:1"];
            v.extend_from_slice(args);
            crate::cli::Cli::try_parse_from(v)
        };
        assert!(parse(&["list"]).is_ok());
        assert!(parse(&["describe", "--transactional-id", "x"]).is_ok());
        assert!(parse(&["describe-producers", "--topic", "t", "--partition", "0"]).is_ok());
        assert!(parse(&["find-hanging", "--broker-id", "1"]).is_ok());
        assert!(parse(&[
            "find-hanging",
            "--broker-id",
            "1",
            "--max-transaction-timeout",
            "5"
        ])
        .is_ok());
        assert!(parse(&[
            "abort",
            "--topic",
            "t",
            "--partition",
            "0",
            "--start-offset",
            "7"
        ])
        .is_ok());
        assert!(parse(&[
            "abort",
            "--topic",
            "t",
            "--partition",
            "0",
            "--producer-id",
            "3"
        ])
        .is_err());
    }
}
