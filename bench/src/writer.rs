//! `runnel-bench coord-writer`: one session writing as fast as it can, for
//! failover measurements (`scripts/bench/coord-failover.sh`).
//!
//! The writer sets the data of one node in a closed loop (one request in
//! flight, each bounded by `--request-timeout-ms`, retried after any error)
//! and remembers when each write started and ended. The driving script talks
//! to it over stdin/stdout, one line each way:
//!
//! * out `READY server=… session=0x…` once `--warmup` writes succeeded;
//! * in  `mark <unix_us> [<from_us>]` (the moment the script killed a member,
//!   and the moment it saw the process gone): the writer answers
//!   `RECOVERY mark_us=… first_ok_us=… recovery_ms=… failed=… errors=…
//!   sessions=…` as soon as a write that *started* at or after `from_us`
//!   (default: the mark) has succeeded -- a SIGKILLed process can still
//!   commit for a few milliseconds until the kernel has taken it down.
//!   `recovery_ms` is that write's end minus the mark;
//!   `failed` counts attempts that ended after the mark without success,
//!   `errors` names them, `sessions` counts the sessions opened since the
//!   mark (0: the session survived the failover);
//! * in  `quit` (or end of input): delete the node, print `DONE writes=…`.
//!
//! Times are wall-clock microseconds since the Unix epoch, the same clock as
//! bash's `$EPOCHREALTIME`, so the script's kill time and our write times
//! can be compared on one machine.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use tokio::io::AsyncBufReadExt as _;
use tokio::sync::mpsc;
use zookeeper_client::{Acls, Client, CreateMode};

use crate::coord::check_loopback;

/// Options of `runnel-bench coord-writer`.
#[derive(Debug, Clone, clap::Args)]
pub struct WriterArgs {
    /// Connect string (loopback only), e.g. the ensemble's followers.
    #[arg(long)]
    pub server: String,
    /// Session timeout asked of the server, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub session_timeout_ms: u64,
    /// Give up on one write after this long and send the next.
    #[arg(long, default_value_t = 1_000)]
    pub request_timeout_ms: u64,
    /// Successful writes before `READY`.
    #[arg(long, default_value_t = 200)]
    pub warmup: u64,
    /// Longest time to wait for `READY` or for one recovery, in seconds.
    #[arg(long, default_value_t = 120)]
    pub max_wait_s: u64,
}

/// One finished write attempt.
#[derive(Debug, Clone)]
struct Attempt {
    started_us: u64,
    ended_us: u64,
    /// None: success; else the error's name.
    error: Option<String>,
    /// Sessions opened so far (the first one counts as 1).
    sessions: u64,
}

fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

async fn connect(args: &WriterArgs) -> anyhow::Result<Client> {
    Client::connector()
        .with_session_timeout(Duration::from_millis(args.session_timeout_ms))
        .connect(&args.server)
        .await
        .with_context(|| format!("cannot connect to {}", args.server))
}

/// The error's name without its details ("ConnectionLoss", "Timeout", ...).
fn error_name(error: &zookeeper_client::Error) -> String {
    let debug = format!("{error:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("Error")
        .to_string()
}

pub async fn run(args: WriterArgs) -> anyhow::Result<()> {
    check_loopback(&args.server)?;
    let path = format!("/runnel-writer-{}", std::process::id());
    let client = connect(&args).await?;
    match client
        .create(
            &path,
            b"0",
            &CreateMode::Persistent.with_acls(Acls::anyone_all()),
        )
        .await
    {
        Ok(_) | Err(zookeeper_client::Error::NodeExists) => {}
        Err(error) => return Err(error).with_context(|| format!("cannot create {path}")),
    }

    let (tx, mut attempts) = mpsc::unbounded_channel::<Attempt>();
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let loop_args = args.clone();
    let loop_path = path.clone();
    let writer = tokio::spawn(async move {
        let mut client = client;
        let mut sessions = 1u64;
        let mut seq = 0u64;
        let request_timeout = Duration::from_millis(loop_args.request_timeout_ms);
        while !*stop_rx.borrow() {
            seq += 1;
            let value = seq.to_string();
            let started_us = unix_us();
            let outcome = tokio::time::timeout(
                request_timeout,
                client.set_data(&loop_path, value.as_bytes(), None),
            )
            .await;
            let ended_us = unix_us();
            let (error, renew) = match outcome {
                Ok(Ok(_)) => (None, false),
                Ok(Err(error)) => {
                    let renew = matches!(
                        error,
                        zookeeper_client::Error::SessionExpired
                            | zookeeper_client::Error::ClientClosed
                    );
                    (Some(error_name(&error)), renew)
                }
                Err(_) => (Some("RequestTimeout".to_string()), false),
            };
            let failed = error.is_some();
            if tx
                .send(Attempt {
                    started_us,
                    ended_us,
                    error,
                    sessions,
                })
                .is_err()
            {
                break;
            }
            if renew {
                // The old session is gone: a failover that should not happen.
                loop {
                    if *stop_rx.borrow() {
                        return client;
                    }
                    match connect(&loop_args).await {
                        Ok(fresh) => {
                            client = fresh;
                            sessions += 1;
                            break;
                        }
                        Err(error) => {
                            tracing::warn!("reconnect failed: {error:#}");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            } else if failed {
                // Let a disconnected client move to another server.
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(5)) => {}
                    _ = stop_rx.changed() => {}
                }
            }
        }
        client
    });

    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut recent: VecDeque<Attempt> = VecDeque::new();
    let mut writes_ok = 0u64;
    let mut ready = false;
    let mut pending_mark: Option<(u64, u64, tokio::time::Instant)> = None;
    let ready_deadline = tokio::time::Instant::now() + Duration::from_secs(args.max_wait_s);
    let max_wait = Duration::from_secs(args.max_wait_s);
    let mut ticker = tokio::time::interval(Duration::from_millis(200));

    let result: anyhow::Result<()> = loop {
        tokio::select! {
            attempt = attempts.recv() => {
                let Some(attempt) = attempt else {
                    break Err(anyhow::anyhow!("the write loop ended"));
                };
                if attempt.error.is_none() {
                    writes_ok += 1;
                }
                recent.push_back(attempt);
                // Keep a minute of history at most (marks come within ms).
                let horizon = unix_us().saturating_sub(60_000_000);
                while recent.front().is_some_and(|a| a.ended_us < horizon) || recent.len() > 1_000_000 {
                    recent.pop_front();
                }
                if !ready && writes_ok >= args.warmup {
                    ready = true;
                    println!("READY server={} writes={writes_ok}", args.server);
                }
                if let Some((mark, from, _)) = pending_mark {
                    if report(mark, from, &recent) {
                        pending_mark = None;
                    }
                }
            }
            line = stdin.next_line() => {
                match line.context("reading stdin")? {
                    None => break Ok(()),
                    Some(line) => {
                        let words: Vec<&str> = line.split_whitespace().collect();
                        match words.as_slice() {
                            ["quit"] => break Ok(()),
                            ["mark", us, rest @ ..] if rest.len() <= 1 => {
                                let mark: u64 = us.parse().with_context(|| format!("bad mark {us:?}"))?;
                                let from: u64 = match rest.first() {
                                    Some(f) => f.parse().with_context(|| format!("bad mark {f:?}"))?,
                                    None => mark,
                                };
                                if report(mark, from.max(mark), &recent) {
                                    pending_mark = None;
                                } else {
                                    pending_mark = Some((mark, from.max(mark), tokio::time::Instant::now() + max_wait));
                                }
                            }
                            [] => {}
                            _ => {
                                eprintln!("coord-writer: unknown command {line:?} (mark <unix_us> | quit)");
                            }
                        }
                    }
                }
            }
            _ = ticker.tick() => {
                if !ready && tokio::time::Instant::now() >= ready_deadline {
                    break Err(anyhow::anyhow!("not {} successful writes within {}s", args.warmup, args.max_wait_s));
                }
                if let Some((mark, _, deadline)) = pending_mark {
                    if tokio::time::Instant::now() >= deadline {
                        println!("NORECOVERY mark_us={mark} waited_s={} {}", args.max_wait_s, summary(mark, &recent));
                        pending_mark = None;
                    }
                }
            }
        }
    };

    let _ = stop_tx.send(true);
    drop(attempts);
    let client = writer.await.context("write loop panicked")?;
    // Best effort: a node left behind only costs a few bytes.
    let _ = tokio::time::timeout(Duration::from_secs(5), client.delete(&path, None)).await;
    println!("DONE writes={writes_ok}");
    result
}

/// Counts what ended after the mark: failures by name, sessions opened.
fn summary(mark: u64, recent: &VecDeque<Attempt>) -> String {
    let mut failed = 0u64;
    let mut errors: BTreeMap<&str, u64> = BTreeMap::new();
    let sessions_before = recent
        .iter()
        .rev()
        .find(|a| a.ended_us <= mark)
        .map_or(1, |a| a.sessions);
    let mut sessions_now = sessions_before;
    for a in recent.iter().filter(|a| a.ended_us > mark) {
        sessions_now = a.sessions;
        if let Some(e) = &a.error {
            failed += 1;
            *errors.entry(e.as_str()).or_default() += 1;
        }
    }
    let errors = if errors.is_empty() {
        "-".to_string()
    } else {
        errors
            .iter()
            .map(|(name, n)| format!("{name}:{n}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "failed={failed} errors={errors} sessions={}",
        sessions_now - sessions_before
    )
}

/// Prints the RECOVERY line if a write started at or after `from` succeeded.
fn report(mark: u64, from: u64, recent: &VecDeque<Attempt>) -> bool {
    let Some(first) = recent
        .iter()
        .find(|a| a.error.is_none() && a.started_us >= from)
    else {
        return false;
    };
    let upto: VecDeque<Attempt> = recent
        .iter()
        .filter(|a| a.ended_us <= first.ended_us)
        .cloned()
        .collect();
    println!(
        "RECOVERY mark_us={mark} first_ok_us={} recovery_ms={:.1} {}",
        first.ended_us,
        first.ended_us.saturating_sub(mark) as f64 / 1000.0,
        summary(mark, &upto)
    );
    true
}
