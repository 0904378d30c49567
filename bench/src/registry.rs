//! `runnel-bench registry`: requests per second and latency of a Schema
//! Registry (runnel-registry or Confluent's: the REST API is the same).
//!
//! Two phases, each over `--connections` keep-alive HTTP/1.1 connections
//! with one request in flight on each (as Confluent's clients hold them):
//! `register` POSTs distinct Avro schemas, each under a subject of its own
//! (every one is a write to `_schemas`), then `get-by-id` GETs
//! `/schemas/ids/{id}` over the ids just registered (what a deserializer
//! does on a cache miss). Every answer is checked: a request that fails
//! stops the run.

use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use crate::stats::{PhaseResult, Samples};

#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// The registry's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8081")]
    url: String,
    /// Concurrent connections (one request in flight on each).
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Schemas registered (spread over the connections).
    #[arg(long, default_value_t = 2000)]
    registers: usize,
    /// GET /schemas/ids/{id} requests (spread over the connections).
    #[arg(long, default_value_t = 200_000)]
    reads: usize,
}

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// One keep-alive connection.
struct Conn {
    sender: SendRequest<Full<Bytes>>,
    authority: String,
}

impl Conn {
    async fn open(authority: &str) -> anyhow::Result<Conn> {
        let stream = tokio::net::TcpStream::connect(authority)
            .await
            .with_context(|| format!("connecting to {authority}"))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        Ok(Conn {
            sender,
            authority: authority.to_string(),
        })
    }

    /// One request; the body of a 200 answer, an error for any other.
    async fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<String>,
    ) -> anyhow::Result<Bytes> {
        let req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.authority)
            .header("content-type", CONTENT_TYPE)
            .header("accept", CONTENT_TYPE)
            .body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        self.sender.ready().await?;
        let resp = self.sender.send_request(req).await?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            bail!(
                "{method} {path}: {status} {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        Ok(bytes)
    }
}

pub async fn run(args: RegistryArgs) -> anyhow::Result<()> {
    let authority = args
        .url
        .strip_prefix("http://")
        .context("--url must be http://host:port")?
        .trim_end_matches('/')
        .to_string();
    let n = args.connections.max(1);
    let run_id = std::process::id();

    // Register: every schema new, under a subject of its own.
    let mut tasks = Vec::new();
    let started = Instant::now();
    for c in 0..n {
        let authority = authority.clone();
        let count = share(args.registers, n, c);
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&authority).await?;
            let mut samples = Samples::with_capacity(count);
            let mut ids = Vec::with_capacity(count);
            for i in 0..count {
                let name = format!("B{run_id}_{c}_{i}");
                let schema = format!(
                    r#"{{"type":"record","name":"{name}","fields":[{{"name":"a","type":"long"}}]}}"#
                );
                let body = serde_json::json!({ "schema": schema }).to_string();
                let t = Instant::now();
                let answer = conn
                    .call(
                        "POST",
                        &format!("/subjects/bench-{name}/versions"),
                        Some(body),
                    )
                    .await?;
                samples.record(t.elapsed());
                let v: serde_json::Value = serde_json::from_slice(&answer)?;
                ids.push(v["id"].as_i64().context("no id in the answer")?);
            }
            anyhow::Ok((samples, ids))
        }));
    }
    let (samples, ids) = gather(tasks).await?;
    report(PhaseResult::new(
        "register",
        n,
        ids.len() as u64,
        started.elapsed(),
        &samples,
    ));

    // Reads by id, round robin over what was registered.
    if ids.is_empty() {
        return Ok(());
    }
    let mut tasks = Vec::new();
    let started = Instant::now();
    for c in 0..n {
        let authority = authority.clone();
        let count = share(args.reads, n, c);
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&authority).await?;
            let mut samples = Samples::with_capacity(count);
            for i in 0..count {
                let id = ids[(i * n + c) % ids.len()];
                let t = Instant::now();
                conn.call("GET", &format!("/schemas/ids/{id}"), None)
                    .await?;
                samples.record(t.elapsed());
            }
            anyhow::Ok((samples, Vec::new()))
        }));
    }
    let (samples, _) = gather(tasks).await?;
    report(PhaseResult::new(
        "get-by-id",
        n,
        args.reads as u64,
        started.elapsed(),
        &samples,
    ));
    Ok(())
}

/// Connection `c`'s part of `total` requests over `n` connections.
fn share(total: usize, n: usize, c: usize) -> usize {
    total / n + usize::from(c < total % n)
}

type Outcome = anyhow::Result<(Samples, Vec<i64>)>;

async fn gather(
    tasks: Vec<tokio::task::JoinHandle<Outcome>>,
) -> anyhow::Result<(Samples, Vec<i64>)> {
    let mut all = Samples::default();
    let mut ids = Vec::new();
    for t in tasks {
        let (samples, more) = t.await.context("a connection's task panicked")??;
        all.merge(samples);
        ids.extend(more);
    }
    Ok((all, ids))
}

fn report(result: PhaseResult) {
    println!("{}", result.human_line());
    println!("{}", result.result_line());
}

#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn shares_add_up() {
        for (total, n) in [(10, 3), (2000, 16), (5, 8)] {
            assert_eq!((0..n).map(|c| share(total, n, c)).sum::<usize>(), total);
        }
    }
}
