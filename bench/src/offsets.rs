//! `runnel-bench offset-commit`: OffsetCommit requests per second on the
//! brokers that coordinate a set of consumer groups, loaded as real clients
//! load them: several connections, several requests in flight on each.
//!
//! Steps:
//! 1. Create the topic (or use it, if it has enough partitions) and wait
//!    until the broker's metadata knows its partitions (an OffsetCommit for
//!    an unknown partition is refused per partition).
//! 2. FindCoordinator for every group; open `--connections` connections to
//!    each coordinator. Every group is committed on one connection only, so
//!    its commits reach the broker, and coord, in the order they were sent.
//! 3. Warm-up: one commit per group, one at a time, so that every group is
//!    loaded on its coordinator and its znodes exist before timing starts.
//! 4. Load: every connection keeps `--in-flight` OffsetCommit requests in
//!    flight (pipelined, answered in order) until `--duration` has passed,
//!    then waits for the answers still due. Each request commits the next
//!    offset of one of the connection's groups (round robin) for all
//!    `--partitions` partitions: standalone commits (generation -1, empty
//!    member id), which Kafka accepts for a group without members.
//! 5. Verify: OffsetFetch for every group reads back the last acknowledged
//!    offset of every partition.
//!
//! Every error code in every answer is counted; any error, or any offset
//! that does not read back, fails the run after the figures are printed,
//! so a run that measured refusals cannot pass for a result.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{
    DeleteGroupsRequest, FindCoordinatorRequest, GroupId, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use runnel_common::kafka::{
    Client, Connection, ConnectionConfig, ErrorCode, NewTopic, PendingResponse,
};

use crate::stats::{PhaseResult, Samples};

/// OffsetCommit versions filled in here: v2 is the broker's lowest; v9 and
/// later belong to the new consumer protocol (member epochs).
const OFFSET_COMMIT_VERSIONS: (i16, i16) = (2, 8);
/// OffsetFetch v2+ has a group-level error code; v8+ batches groups.
const OFFSET_FETCH_VERSIONS: (i16, i16) = (2, 7);
/// FindCoordinator v1+ has a key type; v4+ batches keys.
const FIND_COORDINATOR_VERSIONS: (i16, i16) = (1, 3);
const DELETE_GROUPS_VERSIONS: (i16, i16) = (0, 2);

/// Kafka's error codes a group may answer while it is being loaded or
/// moved: retried during warm-up, counted as errors under load.
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
const COORDINATOR_NOT_AVAILABLE: i16 = 15;
const NOT_COORDINATOR: i16 = 16;

/// Options of `runnel-bench offset-commit`.
#[derive(Debug, Clone, clap::Args)]
pub struct OffsetCommitArgs {
    /// Bootstrap broker(s), `host:port[,host:port…]`; only loopback hosts
    /// are accepted (a benchmark must not load a shared cluster by mistake).
    #[arg(long, default_value = "127.0.0.1:9092")]
    pub bootstrap: String,
    /// Topic whose partitions the offsets are committed for; created with
    /// `--partitions` partitions if missing.
    #[arg(long, default_value = "runnel-bench-offsets")]
    pub topic: String,
    /// Consumer groups committing (offsets only, no members); at least
    /// `--connections`, since a group is committed on one connection.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub groups: u32,
    /// Partitions per commit (every request commits all of them).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub partitions: u32,
    /// Connections to each coordinating broker.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub connections: u32,
    /// OffsetCommit requests each connection keeps in flight.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub in_flight: u32,
    /// Seconds of load (after the warm-up).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub duration: u64,
    /// Group ids are PREFIX-0, PREFIX-1, … (default runnel-bench-oc-PID).
    #[arg(long)]
    pub group_prefix: Option<String>,
    /// Keep the groups (and their offsets in coord) at the end instead of
    /// deleting them with DeleteGroups.
    #[arg(long)]
    pub keep: bool,
}

/// One group, as one connection commits it.
#[derive(Debug, Clone)]
struct GroupLoad {
    id: String,
    /// Offset of the last commit sent.
    sent: i64,
    /// Offset of the last commit answered without error.
    acked: i64,
}

/// What one connection did under load.
#[derive(Debug, Default)]
struct WorkerResult {
    ops: u64,
    samples: Samples,
    /// Partition answers by error code (never 0).
    errors: BTreeMap<i16, u64>,
}

pub async fn run(args: OffsetCommitArgs) -> anyhow::Result<()> {
    crate::coord::check_loopback(&args.bootstrap)
        .with_context(|| format!("--bootstrap {}", args.bootstrap))?;
    ensure!(
        args.groups >= args.connections,
        "--groups ({}) must be at least --connections ({}): each group is committed on one \
         connection, so that its offsets are stored in the order they were sent",
        args.groups,
        args.connections
    );
    let config = ConnectionConfig {
        client_id: "runnel-bench".to_string(),
        ..ConnectionConfig::default()
    };
    let client = Client::connect(&args.bootstrap, config.clone())
        .await
        .with_context(|| format!("connecting to {}", args.bootstrap))?;
    let partitions = i32::try_from(args.partitions).context("--partitions")?;
    ensure_topic(&client, &args.topic, partitions).await?;

    let prefix = args
        .group_prefix
        .clone()
        .unwrap_or_else(|| format!("runnel-bench-oc-{}", std::process::id()));
    let group_ids: Vec<String> = (0..args.groups).map(|i| format!("{prefix}-{i}")).collect();
    let coordinators = find_coordinators(&client, &group_ids).await?;

    // Connections per coordinator, and each group on one of them.
    let mut by_coordinator: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (group, addr) in group_ids.iter().zip(&coordinators) {
        by_coordinator
            .entry(addr.clone())
            .or_default()
            .push(group.clone());
    }
    let mut workers: Vec<(Arc<Connection>, Vec<GroupLoad>)> = Vec::new();
    for (addr, groups) in &by_coordinator {
        let n = (args.connections as usize).min(groups.len());
        let mut shares: Vec<Vec<GroupLoad>> = vec![Vec::new(); n];
        for (i, g) in groups.iter().enumerate() {
            shares[i % n].push(GroupLoad {
                id: g.clone(),
                sent: 0,
                acked: 0,
            });
        }
        for share in shares {
            let conn = Connection::connect(addr, &config)
                .await
                .with_context(|| format!("connecting to coordinator {addr}"))?;
            workers.push((Arc::new(conn), share));
        }
    }
    let commit_version = workers[0]
        .0
        .version::<OffsetCommitRequest>(OFFSET_COMMIT_VERSIONS)?;
    eprintln!(
        "offset-commit: {} groups on {} coordinator(s), {} connection(s) x {} in flight, \
         {} partition(s) per commit, OffsetCommit v{commit_version}, {}s",
        group_ids.len(),
        by_coordinator.len(),
        workers.len(),
        args.in_flight,
        partitions,
        args.duration
    );

    // Warm-up: every group loaded and its znodes created before timing.
    let plan = Arc::new(Plan {
        topic: args.topic.clone(),
        partitions,
        version: commit_version,
    });
    let mut tasks = Vec::new();
    for (conn, mut groups) in workers {
        let plan = plan.clone();
        tasks.push(tokio::spawn(async move {
            for g in &mut groups {
                warm_up(&conn, &plan, g).await?;
            }
            anyhow::Ok((conn, groups))
        }));
    }
    let mut workers = Vec::new();
    for t in tasks {
        workers.push(t.await.context("warm-up task")??);
    }

    // Load.
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration);
    let in_flight = args.in_flight as usize;
    let mut tasks = Vec::new();
    for (conn, groups) in workers {
        let plan = plan.clone();
        tasks.push(tokio::spawn(async move {
            let mut groups = groups;
            let result = load(&conn, &plan, &mut groups, in_flight, deadline).await;
            (conn, groups, result)
        }));
    }
    let mut total = WorkerResult::default();
    let mut workers = Vec::new();
    let mut failure = None;
    for t in tasks {
        let (conn, groups, result) = t.await.context("load task")?;
        match result {
            Ok(r) => {
                total.ops += r.ops;
                total.samples.merge(r.samples);
                for (code, n) in r.errors {
                    *total.errors.entry(code).or_default() += n;
                }
            }
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
        workers.push((conn, groups));
    }
    let elapsed = started.elapsed();
    if let Some(e) = failure {
        return Err(e.context("under load"));
    }
    let connections = workers.len();
    let result = PhaseResult::new(
        "offset-commit",
        connections,
        total.ops,
        elapsed,
        &total.samples,
    );
    println!("{}", result.human_line());
    println!(
        "{} in_flight={} groups={} partitions={} errors={}",
        result.result_line(),
        args.in_flight,
        group_ids.len(),
        partitions,
        total.errors.values().sum::<u64>()
    );

    // Verify, then clean up.
    let mismatches = verify(&workers, &plan).await?;
    if !args.keep {
        delete_groups(&workers).await;
    }
    if !total.errors.is_empty() {
        let list: Vec<String> = total
            .errors
            .iter()
            .map(|(code, n)| format!("{} x{n}", ErrorCode(*code)))
            .collect();
        bail!(
            "partition errors in OffsetCommit answers: {}",
            list.join(", ")
        );
    }
    if !mismatches.is_empty() {
        bail!(
            "{} committed offset(s) did not read back with OffsetFetch, e.g. {}",
            mismatches.len(),
            mismatches
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    println!(
        "offset-commit: verified: OffsetFetch reads back the last acknowledged offset of all {} \
         group(s) x {} partition(s)",
        group_ids.len(),
        partitions
    );
    Ok(())
}

/// What every commit shares.
#[derive(Debug)]
struct Plan {
    topic: String,
    partitions: i32,
    version: i16,
}

/// Creates the topic unless it exists, then waits until the broker's
/// metadata shows at least `partitions` partitions, each with a leader.
async fn ensure_topic(client: &Client, topic: &str, partitions: i32) -> anyhow::Result<()> {
    let created = client
        .create_topics(
            &[NewTopic {
                name: topic.to_string(),
                partitions: Some(partitions),
                replication_factor: None,
                configs: Vec::new(),
            }],
            30_000,
        )
        .await
        .with_context(|| format!("creating topic {topic}"))?;
    for (_, result) in created {
        match result {
            Ok(()) => {}
            Err(e) if e.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS) => {}
            Err(e) => return Err(e).with_context(|| format!("creating topic {topic}")),
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let md = client.metadata(Some(&[topic]), false).await?;
        if let Some(t) = md.topics.get(topic) {
            let have = t.partitions.len() as i32;
            if t.error.is_none() && have > 0 && have < partitions {
                bail!("topic {topic} exists with {have} partition(s), fewer than --partitions {partitions}");
            }
            if t.error.is_none()
                && have >= partitions
                && t.partitions
                    .iter()
                    .take(partitions as usize)
                    .all(|p| p.leader >= 0)
            {
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            bail!("topic {topic} has no leaders for {partitions} partition(s) after 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The coordinator (`host:port`) of each group, in order; the requests are
/// pipelined on one connection.
async fn find_coordinators(client: &Client, groups: &[String]) -> anyhow::Result<Vec<String>> {
    let conn = client.any().await?;
    let version = conn.version::<FindCoordinatorRequest>(FIND_COORDINATOR_VERSIONS)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut out = Vec::with_capacity(groups.len());
    for chunk in groups.chunks(256) {
        let mut pending = Vec::with_capacity(chunk.len());
        for g in chunk {
            let req = FindCoordinatorRequest::default()
                .with_key(StrBytes::from_string(g.clone()))
                .with_key_type(0);
            pending.push(conn.send(&req, version).await?);
        }
        for (g, p) in chunk.iter().zip(pending) {
            let mut resp = p.wait().await?;
            // A broker that has just started may not know the live brokers yet.
            while resp.error_code != 0 {
                let code = ErrorCode(resp.error_code);
                if !code.is_retriable() || Instant::now() >= deadline {
                    bail!("FindCoordinator for group {g}: {code}");
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                let req = FindCoordinatorRequest::default()
                    .with_key(StrBytes::from_string(g.clone()))
                    .with_key_type(0);
                resp = conn.call(&req, version).await?;
            }
            out.push(format!("{}:{}", resp.host.as_str(), resp.port));
        }
    }
    Ok(out)
}

/// A standalone commit (no member, generation -1) of `offset` for every
/// partition of the topic.
fn commit_request(plan: &Plan, group: &str, offset: i64) -> OffsetCommitRequest {
    let partitions = (0..plan.partitions)
        .map(|p| {
            OffsetCommitRequestPartition::default()
                .with_partition_index(p)
                .with_committed_offset(offset)
                .with_committed_leader_epoch(-1)
                .with_committed_metadata(Some(StrBytes::from_static_str("")))
        })
        .collect();
    let topic = OffsetCommitRequestTopic::default()
        .with_name(TopicName(StrBytes::from_string(plan.topic.clone())))
        .with_partitions(partitions);
    OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
        .with_generation_id_or_member_epoch(-1)
        .with_member_id(StrBytes::from_static_str(""))
        .with_group_instance_id(None)
        .with_retention_time_ms(-1)
        .with_topics(vec![topic])
}

/// Partition answers by error code (0 included).
fn answer_codes(resp: &OffsetCommitResponse) -> BTreeMap<i16, u64> {
    let mut codes = BTreeMap::new();
    for t in &resp.topics {
        for p in &t.partitions {
            *codes.entry(p.error_code).or_default() += 1;
        }
    }
    codes
}

/// Commits offset 0 for the group, retrying while its coordinator loads it.
async fn warm_up(conn: &Connection, plan: &Plan, group: &mut GroupLoad) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let resp = conn
            .call(&commit_request(plan, &group.id, 0), plan.version)
            .await
            .with_context(|| format!("warm-up commit for group {}", group.id))?;
        let codes = answer_codes(&resp);
        let bad: Vec<i16> = codes.keys().copied().filter(|c| *c != 0).collect();
        if bad.is_empty() && codes.get(&0) == Some(&(plan.partitions as u64)) {
            return Ok(());
        }
        let retriable = bad.iter().all(|c| {
            matches!(
                *c,
                COORDINATOR_LOAD_IN_PROGRESS | COORDINATOR_NOT_AVAILABLE | NOT_COORDINATOR
            )
        });
        if bad.is_empty() || !retriable || Instant::now() >= deadline {
            let list: Vec<String> = bad.iter().map(|c| ErrorCode(*c).to_string()).collect();
            bail!(
                "warm-up commit for group {}: {} partition answer(s) for {} partition(s), errors [{}]",
                group.id,
                codes.values().sum::<u64>(),
                plan.partitions,
                list.join(", ")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One connection under load: `in_flight` requests pipelined until the
/// deadline, then the answers still due.
async fn load(
    conn: &Connection,
    plan: &Plan,
    groups: &mut [GroupLoad],
    in_flight: usize,
    deadline: Instant,
) -> anyhow::Result<WorkerResult> {
    let mut result = WorkerResult {
        samples: Samples::with_capacity(1 << 16),
        ..WorkerResult::default()
    };
    type Sent = (PendingResponse<OffsetCommitRequest>, Instant, usize, i64);
    let mut window: VecDeque<Sent> = VecDeque::with_capacity(in_flight);
    let mut next = 0usize;
    loop {
        while window.len() < in_flight && Instant::now() < deadline {
            let index = next;
            next = (next + 1) % groups.len();
            let g = &mut groups[index];
            g.sent += 1;
            let req = commit_request(plan, &g.id, g.sent);
            let sent_at = Instant::now();
            let pending = conn.send(&req, plan.version).await?;
            window.push_back((pending, sent_at, index, g.sent));
        }
        let Some((pending, sent_at, index, offset)) = window.pop_front() else {
            break;
        };
        let resp = pending.wait().await?;
        result.samples.record(sent_at.elapsed());
        result.ops += 1;
        let codes = answer_codes(&resp);
        let answered = codes.values().sum::<u64>();
        let mut ok = answered == plan.partitions as u64;
        if !ok {
            // A missing partition answer is an error too (code -1: unknown).
            *result.errors.entry(-1).or_default() += 1;
        }
        for (code, n) in codes {
            if code != 0 {
                ok = false;
                *result.errors.entry(code).or_default() += n;
            }
        }
        if ok {
            let g = &mut groups[index];
            g.acked = g.acked.max(offset);
        }
    }
    Ok(result)
}

/// OffsetFetch for every group: the offsets that do not read back as the
/// last acknowledged commit, described.
async fn verify(
    workers: &[(Arc<Connection>, Vec<GroupLoad>)],
    plan: &Plan,
) -> anyhow::Result<Vec<String>> {
    let mut mismatches = Vec::new();
    for (conn, groups) in workers {
        let version = conn.version::<OffsetFetchRequest>(OFFSET_FETCH_VERSIONS)?;
        for chunk in groups.chunks(256) {
            let mut pending = Vec::with_capacity(chunk.len());
            for g in chunk {
                let mut topic = OffsetFetchRequestTopic::default();
                topic.name = TopicName(StrBytes::from_string(plan.topic.clone()));
                topic.partition_indexes = (0..plan.partitions).collect();
                let mut req = OffsetFetchRequest::default();
                req.group_id = GroupId(StrBytes::from_string(g.id.clone()));
                req.topics = Some(vec![topic]);
                pending.push(conn.send(&req, version).await?);
            }
            for (g, p) in chunk.iter().zip(pending) {
                let resp = p
                    .wait()
                    .await
                    .with_context(|| format!("OffsetFetch for group {}", g.id))?;
                if resp.error_code != 0 {
                    mismatches.push(format!("group {}: {}", g.id, ErrorCode(resp.error_code)));
                    continue;
                }
                let mut found: BTreeMap<i32, (i64, i16)> = BTreeMap::new();
                for t in resp
                    .topics
                    .iter()
                    .filter(|t| t.name.0.as_str() == plan.topic)
                {
                    for p in &t.partitions {
                        found.insert(p.partition_index, (p.committed_offset, p.error_code));
                    }
                }
                for partition in 0..plan.partitions {
                    match found.get(&partition) {
                        Some((offset, 0)) if *offset == g.acked => {}
                        Some((offset, 0)) => mismatches.push(format!(
                            "group {} partition {partition}: read {offset}, last acknowledged {}",
                            g.id, g.acked
                        )),
                        Some((_, code)) => mismatches.push(format!(
                            "group {} partition {partition}: {}",
                            g.id,
                            ErrorCode(*code)
                        )),
                        None => mismatches.push(format!(
                            "group {} partition {partition}: not in the answer",
                            g.id
                        )),
                    }
                }
            }
        }
    }
    Ok(mismatches)
}

/// Deletes the groups (best effort: a failure is reported, not fatal).
async fn delete_groups(workers: &[(Arc<Connection>, Vec<GroupLoad>)]) {
    for (conn, groups) in workers {
        let version = match conn.version::<DeleteGroupsRequest>(DELETE_GROUPS_VERSIONS) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("offset-commit: not deleting the groups: {e}");
                return;
            }
        };
        let mut req = DeleteGroupsRequest::default();
        req.groups_names = groups
            .iter()
            .map(|g| GroupId(StrBytes::from_string(g.id.clone())))
            .collect();
        match conn.call(&req, version).await {
            Ok(resp) => {
                for r in resp.results.iter().filter(|r| r.error_code != 0) {
                    eprintln!(
                        "offset-commit: deleting group {}: {}",
                        r.group_id.0.as_str(),
                        ErrorCode(r.error_code)
                    );
                }
            }
            Err(e) => eprintln!("offset-commit: deleting the groups: {e}"),
        }
    }
}
