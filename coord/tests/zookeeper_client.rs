//! End-to-end: a real `runnel-coord` process and the `zookeeper-client` crate
//! (the client the broker uses), over 127.0.0.1.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zookeeper_client::{Acls, Client, CreateMode, EventType};

/// One server process in its own temp dir; killed on drop.
struct Coord {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn four_letter(port: u16, word: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.write_all(word.as_bytes()).ok()?;
    let mut out = String::new();
    stream.read_to_string(&mut out).ok()?;
    Some(out)
}

impl Coord {
    fn start() -> Coord {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        std::fs::write(
            dir.path().join("zoo.cfg"),
            format!(
                "tickTime=100\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n",
                dir.path().join("data").display()
            ),
        )
        .expect("write zoo.cfg");
        let child = Self::spawn(dir.path());
        let coord = Coord { child, port, dir };
        coord.wait_ready();
        coord
    }

    fn spawn(dir: &Path) -> Child {
        Command::new(env!("CARGO_BIN_EXE_runnel-coord"))
            .arg("--config")
            .arg(dir.join("zoo.cfg"))
            .stderr(Stdio::null())
            .spawn()
            .expect("start runnel-coord")
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while four_letter(self.port, "ruok").as_deref() != Some("imok") {
            assert!(
                Instant::now() < deadline,
                "runnel-coord did not answer ruok"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL and start again on the same data.
    fn crash_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = Self::spawn(self.dir.path());
        self.wait_ready();
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    async fn client(&self) -> Client {
        Client::connector()
            .with_session_timeout(Duration::from_millis(1000))
            .connect(&self.addr())
            .await
            .expect("connect")
    }
}

impl Drop for Coord {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn crud_children_multi_and_watches() {
    let coord = Coord::start();
    let zk = coord.client().await;
    let open = CreateMode::Persistent.with_acls(Acls::anyone_all());
    let (stat, _) = zk.create("/app", b"v1", &open).await.expect("create");
    assert_eq!(stat.version, 0);
    assert_eq!(zk.get_data("/app").await.expect("get").0, b"v1");

    let seq = CreateMode::PersistentSequential.with_acls(Acls::anyone_all());
    let (_, first) = zk.create("/app/job-", b"", &seq).await.expect("seq");
    let (_, second) = zk.create("/app/job-", b"", &seq).await.expect("seq");
    assert_eq!((first.into_i64(), second.into_i64()), (0, 1));
    let mut children = zk.list_children("/app").await.expect("children");
    children.sort();
    assert_eq!(children, vec!["job-0000000000", "job-0000000001"]);

    // A data watch fires once, before the new data can be read.
    let (_, _, watcher) = zk.get_and_watch_data("/app").await.expect("watch");
    zk.set_data("/app", b"v2", Some(0)).await.expect("set");
    let event = tokio::time::timeout(Duration::from_secs(5), watcher.changed())
        .await
        .expect("event in time");
    assert_eq!(event.event_type, EventType::NodeDataChanged);
    assert_eq!(event.path, "/app");
    assert!(
        zk.set_data("/app", b"v3", Some(0)).await.is_err(),
        "stale version refused"
    );

    // Multi: all or nothing.
    let mut multi = zk.new_multi_writer();
    multi.add_create("/app/a", b"", &open).expect("op");
    multi.add_create("/app/a", b"", &open).expect("op");
    assert!(multi.commit().await.is_err());
    assert!(zk.check_stat("/app/a").await.expect("exists").is_none());
    let mut multi = zk.new_multi_writer();
    multi.add_create("/app/a", b"", &open).expect("op");
    multi.add_set_data("/app", b"v3", Some(1)).expect("op");
    assert_eq!(multi.commit().await.expect("multi").len(), 2);
    assert_eq!(zk.get_data("/app").await.expect("get").0, b"v3");
    assert_eq!(zk.count_descendants_number("/app").await.expect("count"), 3);
}

#[tokio::test]
async fn ephemerals_go_with_their_session_and_writes_survive_kill_9() {
    let mut coord = Coord::start();
    let owner = coord.client().await;
    let watcher_client = coord.client().await;
    let open = CreateMode::Persistent.with_acls(Acls::anyone_all());
    let ephemeral = CreateMode::Ephemeral.with_acls(Acls::anyone_all());
    owner.create("/locks", b"", &open).await.expect("create");
    owner
        .create("/locks/me", b"", &ephemeral)
        .await
        .expect("ephemeral");
    assert_eq!(
        owner.list_ephemerals("/").await.expect("ephemerals"),
        vec!["/locks/me".to_string()]
    );
    let (_, watch) = watcher_client
        .check_and_watch_stat("/locks/me")
        .await
        .expect("exists watch");
    drop(owner); // closes the session
    let event = tokio::time::timeout(Duration::from_secs(10), watch.changed())
        .await
        .expect("deletion seen");
    assert_eq!(event.event_type, EventType::NodeDeleted);

    for i in 0..20 {
        watcher_client
            .create(&format!("/locks/k{i}"), b"x", &open)
            .await
            .expect("acknowledged write");
    }
    drop(watcher_client);
    coord.crash_and_restart();
    let zk = coord.client().await;
    assert_eq!(
        zk.list_children("/locks").await.expect("children").len(),
        20
    );
}
