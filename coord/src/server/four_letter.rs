//! Four-letter words on the client port (`ruok`, `srvr`, `stat`, `mntr`,
//! `conf`, `cons`, `envi`), answered in ZooKeeper's formats so monitoring
//! scripts written for ZooKeeper keep working.

use std::fmt::Write as _;

use super::monitor::Monitor;
use super::Shared;
use crate::config::{FOUR_LETTER_WORDS, PROMETHEUS_PROVIDER};

/// The version string clients see: the ZooKeeper protocol level we serve,
/// then our own name and version.
pub const VERSION: &str = concat!("3.8.0-runnel-", env!("CARGO_PKG_VERSION"));

/// Every four-letter word ZooKeeper knows, so a disabled one gets
/// ZooKeeper's "not in the whitelist" answer rather than being read as a
/// frame length.
const ALL_WORDS: [&str; 19] = [
    "ruok", "srvr", "stat", "mntr", "conf", "cons", "envi", "dump", "wchs", "wchc", "wchp", "reqs",
    "crst", "srst", "dirs", "isro", "gtmk", "stmk", "hash",
];

/// The word, if the connection's first four bytes are one.
pub fn detect(first: &[u8]) -> Option<&'static str> {
    ALL_WORDS.iter().copied().find(|w| w.as_bytes() == first)
}

/// The text answering `word`.
pub fn answer(shared: &Shared, word: &str) -> String {
    let enabled = shared.config.four_letter_words.iter().any(|w| w == word);
    if !enabled || !FOUR_LETTER_WORDS.contains(&word) {
        return format!("{word} is not executed because it is not in the whitelist.\n");
    }
    let mut out = String::new();
    match word {
        "ruok" => out.push_str("imok"),
        "srvr" | "stat" | "mntr" if !shared.serving() => {
            out.push_str("This ZooKeeper instance is not currently serving requests\n");
        }
        "srvr" | "stat" => {
            let _ = writeln!(out, "Zookeeper version: {VERSION}, built for Runnel");
            if word == "stat" {
                out.push_str("Clients:\n");
                for conn in shared.connections() {
                    let _ = writeln!(out, "{}", conn.describe());
                }
                out.push('\n');
            }
            let m = Monitor::read(shared);
            let _ = writeln!(
                out,
                "Latency min/avg/max: {}/{:.4}/{}",
                m.min_latency_ms, m.avg_latency_ms, m.max_latency_ms
            );
            let _ = writeln!(out, "Received: {}", m.packets_received);
            let _ = writeln!(out, "Sent: {}", m.packets_sent);
            let _ = writeln!(out, "Connections: {}", m.num_alive_connections);
            let _ = writeln!(out, "Outstanding: {}", m.outstanding_requests);
            let _ = writeln!(out, "Zxid: 0x{:x}", m.last_zxid);
            let _ = writeln!(out, "Mode: {}", m.server_state);
            let _ = writeln!(out, "Node count: {}", m.znode_count);
        }
        "mntr" => {
            for (key, value) in Monitor::read(shared).mntr_rows(VERSION) {
                let _ = writeln!(out, "{key}\t{value}");
            }
        }
        "conf" => {
            let c = &shared.config;
            // ZooKeeper prints -1 for a port that is not configured.
            let port = |p: Option<u16>| p.map_or(-1, i32::from);
            let _ = writeln!(out, "clientPort={}", port(c.client_port));
            let secure = c.secure_client.as_ref().map(|s| s.port);
            let _ = writeln!(out, "secureClientPort={}", port(secure));
            let _ = writeln!(out, "dataDir={}", c.data_dir.display());
            let log_dir = c.data_log_dir.as_ref().unwrap_or(&c.data_dir);
            let _ = writeln!(out, "dataLogDir={}", log_dir.display());
            let _ = writeln!(out, "tickTime={}", c.tick_time_ms);
            let _ = writeln!(out, "maxClientCnxns={}", c.max_client_cnxns);
            let _ = writeln!(out, "minSessionTimeout={}", c.min_session_timeout_ms);
            let _ = writeln!(out, "maxSessionTimeout={}", c.max_session_timeout_ms);
            let _ = writeln!(out, "clientPortListenBacklog=-1");
            let _ = writeln!(out, "serverId={}", c.my_id);
            if let Some(m) = &c.metrics {
                let _ = writeln!(out, "metricsProvider.className={PROMETHEUS_PROVIDER}");
                let _ = writeln!(out, "metricsProvider.httpHost={}", m.http_host);
                let _ = writeln!(out, "metricsProvider.httpPort={}", m.http_port);
            }
        }
        "cons" => {
            for conn in shared.connections() {
                let _ = writeln!(out, "{}", conn.describe());
            }
            out.push('\n');
        }
        "envi" => {
            out.push_str("Environment:\n");
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
            let cwd = std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default();
            let rows = [
                ("zookeeper.version", format!("{VERSION}, built for Runnel")),
                ("host.name", host.trim().to_string()),
                ("os.name", std::env::consts::OS.to_string()),
                ("os.arch", std::env::consts::ARCH.to_string()),
                ("user.dir", cwd),
            ];
            for (key, value) in rows {
                let _ = writeln!(out, "{key}={value}");
            }
        }
        _ => {}
    }
    out
}
