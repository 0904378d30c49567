//! Four-letter words on the client port (`ruok`, `srvr`, `stat`, `mntr`,
//! `conf`, `cons`, `envi`), answered in ZooKeeper's formats so monitoring
//! scripts written for ZooKeeper keep working.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

use super::Shared;
use crate::config::FOUR_LETTER_WORDS;

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

fn mode(shared: &Shared) -> &'static str {
    shared.mode()
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
            let (min, avg, max) = shared.stats.latency();
            let _ = writeln!(out, "Latency min/avg/max: {min}/{avg:.4}/{max}");
            let _ = writeln!(out, "Received: {}", shared.stats.received.load(Relaxed));
            let _ = writeln!(out, "Sent: {}", shared.stats.sent.load(Relaxed));
            let _ = writeln!(out, "Connections: {}", shared.connections().len());
            let _ = writeln!(out, "Outstanding: 0");
            let _ = writeln!(out, "Zxid: 0x{:x}", shared.tree().last_zxid());
            let _ = writeln!(out, "Mode: {}", mode(shared));
            let _ = writeln!(out, "Node count: {}", shared.tree().node_count());
        }
        "mntr" => {
            let (min, avg, max) = shared.stats.latency();
            let (nodes, ephemerals, data_size) = {
                let tree = shared.tree();
                (tree.node_count(), tree.ephemeral_count(), tree.data_size())
            };
            let watches = shared.watches().count();
            let rows: Vec<(&str, String)> = vec![
                ("zk_version", format!("{VERSION}, built for Runnel")),
                ("zk_server_state", mode(shared).to_string()),
                ("zk_avg_latency", format!("{avg:.4}")),
                ("zk_max_latency", max.to_string()),
                ("zk_min_latency", min.to_string()),
                (
                    "zk_packets_received",
                    shared.stats.received.load(Relaxed).to_string(),
                ),
                (
                    "zk_packets_sent",
                    shared.stats.sent.load(Relaxed).to_string(),
                ),
                (
                    "zk_num_alive_connections",
                    shared.connections().len().to_string(),
                ),
                ("zk_outstanding_requests", "0".into()),
                ("zk_znode_count", nodes.to_string()),
                ("zk_watch_count", watches.to_string()),
                ("zk_ephemerals_count", ephemerals.to_string()),
                ("zk_approximate_data_size", data_size.to_string()),
                ("zk_global_sessions", shared.sessions.len().to_string()),
                (
                    "zk_uptime",
                    shared.stats.started.elapsed().as_millis().to_string(),
                ),
                ("zk_open_file_descriptor_count", open_fds().to_string()),
            ];
            for (key, value) in rows {
                let _ = writeln!(out, "{key}\t{value}");
            }
            if let Some(ensemble) = shared.ensemble.get() {
                let (peers, followers) = ensemble.peer_counts();
                let _ = writeln!(out, "zk_peers\t{peers}");
                if let Some((followers, synced)) = followers {
                    let _ = writeln!(out, "zk_followers\t{followers}");
                    let _ = writeln!(out, "zk_synced_followers\t{synced}");
                }
            }
        }
        "conf" => {
            let c = &shared.config;
            let _ = writeln!(out, "clientPort={}", c.client_port);
            let _ = writeln!(out, "secureClientPort=-1");
            let _ = writeln!(out, "dataDir={}", c.data_dir.display());
            let log_dir = c.data_log_dir.as_ref().unwrap_or(&c.data_dir);
            let _ = writeln!(out, "dataLogDir={}", log_dir.display());
            let _ = writeln!(out, "tickTime={}", c.tick_time_ms);
            let _ = writeln!(out, "maxClientCnxns={}", c.max_client_cnxns);
            let _ = writeln!(out, "minSessionTimeout={}", c.min_session_timeout_ms);
            let _ = writeln!(out, "maxSessionTimeout={}", c.max_session_timeout_ms);
            let _ = writeln!(out, "clientPortListenBacklog=-1");
            let _ = writeln!(out, "serverId={}", c.my_id);
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

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}
