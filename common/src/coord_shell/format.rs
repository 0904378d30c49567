//! Output exactly as zkCli prints it, so that people and scripts used to
//! zkCli read ours without surprise. Pure functions: tested without a server.

use std::fmt::Write as _;

use zookeeper_client::{EventType, SessionState, Stat, WatchedEvent};

/// The `stat` block (also printed by `get -s`, `ls -s`, `set -s`), one
/// `name = value` per line, zxids in hex, times as Java's `Date.toString()`.
pub fn stat_block(stat: &Stat) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored on purpose.
    let _ = writeln!(out, "cZxid = 0x{:x}", stat.czxid);
    let _ = writeln!(out, "ctime = {}", java_date(stat.ctime));
    let _ = writeln!(out, "mZxid = 0x{:x}", stat.mzxid);
    let _ = writeln!(out, "mtime = {}", java_date(stat.mtime));
    let _ = writeln!(out, "pZxid = 0x{:x}", stat.pzxid);
    let _ = writeln!(out, "cversion = {}", stat.cversion);
    let _ = writeln!(out, "dataVersion = {}", stat.version);
    let _ = writeln!(out, "aclVersion = {}", stat.aversion);
    let _ = writeln!(out, "ephemeralOwner = 0x{:x}", stat.ephemeral_owner);
    let _ = writeln!(out, "dataLength = {}", stat.data_length);
    let _ = writeln!(out, "numChildren = {}", stat.num_children);
    out
}

/// Milliseconds since the epoch as Java's `Date.toString()` prints them
/// (`Sun Nov 22 01:18:00 UTC 2026`). Always in UTC: zkCli uses the JVM's zone,
/// which is UTC on the servers this runs on, and we carry no zone database.
pub fn java_date(millis: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = millis.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let in_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    // Day 0 (1970-01-01) was a Thursday.
    let weekday = DAYS[days.rem_euclid(7) as usize];
    let month_name = MONTHS[(month - 1) as usize];
    format!(
        "{weekday} {month_name} {day:02} {:02}:{:02}:{:02} UTC {year}",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01
/// (Howard Hinnant's `civil_from_days`). Month and day are 1-based.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A list as Java's `List.toString()` prints it: `[a, b]`.
pub fn java_list<S: AsRef<str>>(items: &[S]) -> String {
    let joined: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    format!("[{}]", joined.join(", "))
}

/// Znode data as zkCli prints it: UTF-8 text, invalid bytes replaced.
///
/// zkCli prints `null` for a node created without data; this client cannot
/// tell "no data" from "zero bytes", so both print as an empty line.
pub fn data_text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// The Java client's name for a session state, as in zkCli's prompt
/// (`[zk: host:port(CONNECTED) 3]`).
pub fn prompt_state(state: SessionState) -> &'static str {
    match state {
        SessionState::SyncConnected => "CONNECTED",
        SessionState::ConnectedReadOnly => "CONNECTEDREADONLY",
        SessionState::Disconnected => "CONNECTING",
        SessionState::AuthFailed => "AUTH_FAILED",
        SessionState::Expired | SessionState::Closed => "CLOSED",
    }
}

/// Java's `Watcher.Event.KeeperState` name for a session state.
fn keeper_state(state: SessionState) -> &'static str {
    match state {
        SessionState::SyncConnected => "SyncConnected",
        SessionState::ConnectedReadOnly => "ConnectedReadOnly",
        SessionState::Disconnected => "Disconnected",
        SessionState::AuthFailed => "AuthFailed",
        SessionState::Expired => "Expired",
        SessionState::Closed => "Closed",
    }
}

/// One event as Java's `WatchedEvent.toString()`:
/// `WatchedEvent state:SyncConnected type:NodeDataChanged path:/x`.
pub fn watched_event(event: &WatchedEvent) -> String {
    let (kind, path) = match event.event_type {
        EventType::Session => ("None", "null"),
        EventType::NodeCreated => ("NodeCreated", event.path.as_str()),
        EventType::NodeDeleted => ("NodeDeleted", event.path.as_str()),
        EventType::NodeDataChanged => ("NodeDataChanged", event.path.as_str()),
        EventType::NodeChildrenChanged => ("NodeChildrenChanged", event.path.as_str()),
    };
    let state = match event.event_type {
        EventType::Session => keeper_state(event.session_state),
        _ => "SyncConnected",
    };
    format!("WatchedEvent state:{state} type:{kind} path:{path}")
}

/// The block zkCli prints when a `-w` watch fires while the prompt is up.
pub fn watcher_notice(event: &WatchedEvent) -> String {
    format!("\nWATCHER::\n\n{}", watched_event(event))
}

/// An operation's error as zkCli prints it (`CliWrapperException`), e.g.
/// `Node does not exist: /x`; codes without a special text fall back to
/// `KeeperException.getMessage()`: `KeeperErrorCode = Session expired for /x`.
pub fn zk_error(err: &zookeeper_client::Error, path: &str) -> String {
    use zookeeper_client::Error as E;
    let code = match err {
        E::NoNode => return format!("Node does not exist: {path}"),
        E::NoChildrenForEphemerals => return format!("Ephemerals cannot have children: {path}"),
        E::NodeExists => return format!("Node already exists: {path}"),
        E::NotEmpty => return format!("Node not empty: {path}"),
        E::NotReadOnly => return format!("Not a read-only call: {path}"),
        E::InvalidAcl => return format!("Acl is not valid : {path}"),
        E::NoAuth => return format!("Insufficient permission : {path}"),
        E::BadArguments(_) => return format!("Arguments are not valid : {path}"),
        E::BadVersion => return format!("version No is not valid : {path}"),
        E::ConnectionLoss => "ConnectionLoss",
        E::MarshallingError => "MarshallingError",
        E::Unimplemented => "Unimplemented",
        E::Timeout => "OperationTimeout",
        E::SessionExpired => "Session expired",
        E::SessionMoved => "Session moved",
        E::AuthFailed => "AuthFailed",
        E::NoWatcher => "No such watcher",
        E::ReconfigDisabled => "Reconfig is disabled",
        E::QuotaExceeded => "Quota has exceeded",
        E::Throttled => "Op throttled due to high load",
        E::RuntimeInconsistent => "RuntimeInconsistency",
        E::UnexpectedErrorCode(code) => {
            return format!("KeeperErrorCode = Unknown error {code} for {path}")
        }
        // Client-side failures have no ZooKeeper code: say what happened.
        other => return format!("{other}: {path}"),
    };
    format!("KeeperErrorCode = {code} for {path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_stat() -> Stat {
        Stat {
            czxid: 2,
            mzxid: 0x22,
            pzxid: 4,
            ctime: 1_795_310_280_000,
            mtime: 1_795_310_300_123,
            version: 1,
            cversion: 1,
            aversion: 0,
            ephemeral_owner: 0x1000003f7130008,
            data_length: 3,
            num_children: 1,
        }
    }

    #[test]
    fn stat_block_matches_zkcli() {
        let expected = "\
cZxid = 0x2
ctime = Sun Nov 22 01:18:00 UTC 2026
mZxid = 0x22
mtime = Sun Nov 22 01:18:20 UTC 2026
pZxid = 0x4
cversion = 1
dataVersion = 1
aclVersion = 0
ephemeralOwner = 0x1000003f7130008
dataLength = 3
numChildren = 1
";
        assert_eq!(stat_block(&sample_stat()), expected);
    }

    #[test]
    fn negative_zxid_prints_as_java_hex() {
        let stat = Stat {
            czxid: -1,
            ..sample_stat()
        };
        assert!(stat_block(&stat).starts_with("cZxid = 0xffffffffffffffff\n"));
    }

    #[test]
    fn java_dates() {
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(java_date(951_782_400_000), "Tue Feb 29 00:00:00 UTC 2000");
        assert_eq!(java_date(1_795_310_280_999), "Sun Nov 22 01:18:00 UTC 2026");
        assert_eq!(java_date(-1), "Wed Dec 31 23:59:59 UTC 1969");
    }

    #[test]
    fn lists() {
        assert_eq!(java_list::<&str>(&[]), "[]");
        assert_eq!(java_list(&["a", "b", "zookeeper"]), "[a, b, zookeeper]");
    }

    #[test]
    fn events() {
        let event = WatchedEvent::new(EventType::NodeDataChanged, "/x");
        assert_eq!(
            watched_event(&event),
            "WatchedEvent state:SyncConnected type:NodeDataChanged path:/x"
        );
        assert_eq!(
            watcher_notice(&event),
            "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:NodeDataChanged path:/x"
        );
        let session = WatchedEvent::new_session(SessionState::Disconnected);
        assert_eq!(
            watched_event(&session),
            "WatchedEvent state:Disconnected type:None path:null"
        );
    }

    #[test]
    fn errors_read_like_zkcli() {
        use zookeeper_client::Error as E;
        assert_eq!(zk_error(&E::NoNode, "/x"), "Node does not exist: /x");
        assert_eq!(zk_error(&E::NodeExists, "/x"), "Node already exists: /x");
        assert_eq!(zk_error(&E::NotEmpty, "/y"), "Node not empty: /y");
        assert_eq!(
            zk_error(&E::BadVersion, "/y"),
            "version No is not valid : /y"
        );
        assert_eq!(
            zk_error(&E::NoChildrenForEphemerals, "/e/c"),
            "Ephemerals cannot have children: /e/c"
        );
        assert_eq!(
            zk_error(&E::Unimplemented, "/ttl"),
            "KeeperErrorCode = Unimplemented for /ttl"
        );
        assert_eq!(
            zk_error(&E::SessionExpired, "/x"),
            "KeeperErrorCode = Session expired for /x"
        );
    }

    #[test]
    fn prompt_states() {
        assert_eq!(prompt_state(SessionState::SyncConnected), "CONNECTED");
        assert_eq!(prompt_state(SessionState::Disconnected), "CONNECTING");
        assert_eq!(prompt_state(SessionState::Closed), "CLOSED");
    }
}
