//! Data-tree semantics checked without a server: prepare + apply as the
//! commit thread runs them.

use bytes::Bytes;

use super::prepare::{prepare, prepare_expiry, prepare_multi, Caller};
use super::*;
use crate::proto::records::{Acl, PathVersion, SetDataRequest};
use crate::proto::request::{CreateOp, WriteOp};
use crate::proto::{ErrorCode, OpCode};
use crate::txn::{Txn, TxnEntry};

const SESSION: i64 = 0x1234;

struct Harness {
    tree: DataTree,
    triggers: Vec<Trigger>,
    /// Every transaction committed through [`Harness::commit`].
    log: Vec<TxnEntry>,
}

impl Harness {
    fn new() -> Harness {
        let mut tree = DataTree::new();
        let entry = TxnEntry {
            zxid: 1,
            time: 1,
            session: SESSION,
            txn: Txn::CreateSession {
                timeout_ms: 1000,
                password: [0; 16],
            },
        };
        tree.apply(&entry, &mut Vec::new());
        Harness {
            tree,
            triggers: Vec::new(),
            log: Vec::new(),
        }
    }

    fn commit(&mut self, txn: Txn) -> Vec<OpResult> {
        let entry = TxnEntry {
            zxid: self.tree.last_zxid() + 1,
            time: 1000 + self.tree.last_zxid(),
            session: SESSION,
            txn,
        };
        let results = self.tree.apply(&entry, &mut self.triggers);
        self.log.push(entry);
        results
    }

    fn run(&mut self, op: WriteOp) -> Result<Vec<OpResult>, ErrorCode> {
        let caller = Caller {
            session: SESSION,
            ids: &[],
        };
        let txn = prepare(&self.tree, &caller, &op)?;
        Ok(self.commit(txn))
    }

    fn create(&mut self, path: &str, flags: i32) -> Result<String, ErrorCode> {
        match self.run(create_op(path, flags))?.pop() {
            Some(OpResult::Created { path, .. }) => Ok(path),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn stat(&self, path: &str) -> Stat {
        DataTree::stat(self.tree.node(path).expect("node exists"))
    }
}

fn create_op(path: &str, flags: i32) -> WriteOp {
    WriteOp::Create(CreateOp {
        op: OpCode::Create,
        path: path.into(),
        data: Some(Bytes::from_static(b"d")),
        acl: vec![Acl::open()],
        flags,
        ttl: -1,
    })
}

fn delete_op(path: &str, version: i32) -> WriteOp {
    WriteOp::Delete(PathVersion {
        path: path.into(),
        version,
    })
}

#[test]
fn sequence_numbers_come_from_the_parents_cversion_and_survive_deletes() {
    let mut h = Harness::new();
    h.create("/q", 0).unwrap();
    assert_eq!(h.create("/q/n-", 2).unwrap(), "/q/n-0000000000");
    assert_eq!(h.create("/q/n-", 2).unwrap(), "/q/n-0000000001");
    h.run(delete_op("/q/n-0000000000", -1)).unwrap();
    h.run(delete_op("/q/n-0000000001", -1)).unwrap();
    // Clients see cversion count creates and deletes; numbering counts
    // creates only, so it carries on after deletes.
    assert_eq!(h.stat("/q").cversion, 4);
    assert_eq!(h.create("/q/n-", 2).unwrap(), "/q/n-0000000002");
    let stat = h.stat("/q");
    assert_eq!((stat.cversion, stat.num_children), (5, 1));
}

#[test]
fn stats_track_versions_and_zxids() {
    let mut h = Harness::new();
    h.create("/a", 0).unwrap();
    let created = h.stat("/a");
    assert_eq!(created.czxid, created.mzxid);
    assert_eq!(created.data_length, 1);
    h.run(WriteOp::SetData(SetDataRequest {
        path: "/a".into(),
        data: Some(Bytes::from_static(b"xyz")),
        version: 0,
    }))
    .unwrap();
    let changed = h.stat("/a");
    assert_eq!(changed.version, 1);
    assert!(changed.mzxid > changed.czxid);
    assert_eq!(changed.data_length, 3);
    let stale = WriteOp::SetData(SetDataRequest {
        path: "/a".into(),
        data: None,
        version: 0,
    });
    assert_eq!(h.run(stale), Err(ErrorCode::BadVersion));
    assert_eq!(h.run(delete_op("/a", 5)), Err(ErrorCode::BadVersion));
}

#[test]
fn refusals_match_zookeeper() {
    let mut h = Harness::new();
    h.create("/p", 0).unwrap();
    h.create("/p/c", 0).unwrap();
    h.create("/e", 1).unwrap();
    assert_eq!(h.create("/p", 0), Err(ErrorCode::NodeExists));
    assert_eq!(h.create("/x/y", 0), Err(ErrorCode::NoNode));
    assert_eq!(
        h.create("/e/child", 0),
        Err(ErrorCode::NoChildrenForEphemerals)
    );
    assert_eq!(h.create("bad", 0), Err(ErrorCode::BadArguments));
    assert_eq!(
        h.create("/bad/", 0),
        Err(ErrorCode::NoNode),
        "parent looked up first"
    );
    assert_eq!(h.create("/p/", 0), Err(ErrorCode::BadArguments));
    assert_eq!(h.create("/", 0), Err(ErrorCode::NodeExists));
    assert_eq!(h.create("/p", 9), Err(ErrorCode::BadArguments));
    assert_eq!(h.run(delete_op("/p", -1)), Err(ErrorCode::NotEmpty));
    assert_eq!(h.run(delete_op("/", -1)), Err(ErrorCode::BadArguments));
    assert_eq!(
        h.run(delete_op("/zookeeper", -1)),
        Err(ErrorCode::BadArguments)
    );
    assert_eq!(h.run(delete_op("/nope", -1)), Err(ErrorCode::NoNode));
    let mut no_acl = create_op("/n", 0);
    if let WriteOp::Create(c) = &mut no_acl {
        c.acl.clear();
    }
    assert_eq!(h.run(no_acl), Err(ErrorCode::InvalidAcl));
}

#[test]
fn multi_is_all_or_nothing_with_zookeepers_result_codes() {
    let mut h = Harness::new();
    let caller = Caller {
        session: SESSION,
        ids: &[],
    };
    let ops = vec![
        create_op("/m", 0),
        create_op("/m/s-", 2),
        create_op("/m/s-", 2),
        create_op("/m", 0),
        delete_op("/m", -1),
    ];
    let codes = prepare_multi(&h.tree, &caller, &ops).unwrap_err();
    assert_eq!(
        codes,
        vec![
            ErrorCode::Ok,
            ErrorCode::Ok,
            ErrorCode::Ok,
            ErrorCode::NodeExists,
            ErrorCode::RuntimeInconsistency
        ]
    );
    assert!(h.tree.node("/m").is_none());
    // Later ops see earlier ones: the second sequential create is numbered 1.
    let txn = prepare_multi(&h.tree, &caller, &ops[..3]).unwrap();
    let results = h.commit(txn);
    let paths: Vec<_> = results
        .iter()
        .map(|r| match r {
            OpResult::Created { path, .. } => path.as_str(),
            _ => "",
        })
        .collect();
    assert_eq!(paths, vec!["/m", "/m/s-0000000000", "/m/s-0000000001"]);
}

#[test]
fn closing_a_session_deletes_its_ephemerals_and_reports_them() {
    let mut h = Harness::new();
    h.create("/app", 0).unwrap();
    h.create("/app/lock", 1).unwrap();
    assert_eq!(h.stat("/app/lock").ephemeral_owner, SESSION);
    assert_eq!(h.tree.ephemerals(SESSION).count(), 1);
    h.triggers.clear();
    h.commit(Txn::CloseSession);
    assert!(h.tree.node("/app/lock").is_none());
    assert!(h.tree.session(SESSION).is_none());
    assert_eq!(
        h.triggers,
        vec![
            Trigger {
                kind: EventType::NodeDeleted,
                path: "/app/lock".into()
            },
            Trigger {
                kind: EventType::NodeChildrenChanged,
                path: "/app".into()
            },
        ]
    );
}

#[test]
fn containers_go_once_emptied_and_ttl_nodes_once_stale() {
    let mut h = Harness::new();
    let container = WriteOp::Create(CreateOp {
        op: OpCode::CreateContainer,
        path: "/c".into(),
        data: None,
        acl: vec![Acl::open()],
        flags: 4,
        ttl: -1,
    });
    h.run(container).unwrap();
    assert_eq!(
        h.tree.node("/c").map(|n| n.stat.ephemeral_owner),
        Some(i64::MIN)
    );
    assert_eq!(
        h.stat("/c").ephemeral_owner,
        0,
        "clients see 0 for containers"
    );
    assert_eq!(
        prepare_expiry(&h.tree, "/c", i64::MAX),
        None,
        "never had children"
    );
    h.create("/c/x", 0).unwrap();
    h.run(delete_op("/c/x", -1)).unwrap();
    assert!(prepare_expiry(&h.tree, "/c", 0).is_some());

    let ttl = WriteOp::Create(CreateOp {
        op: OpCode::CreateTtl,
        path: "/t".into(),
        data: None,
        acl: vec![Acl::open()],
        flags: 5,
        ttl: 100,
    });
    h.run(ttl).unwrap();
    let mtime = h.stat("/t").mtime;
    assert_eq!(prepare_expiry(&h.tree, "/t", mtime + 50), None);
    assert!(prepare_expiry(&h.tree, "/t", mtime + 101).is_some());
}

/// The per-znode state older versions kept in sled reads back whole
/// (it is read once, to be converted to a snapshot).
#[test]
fn storage_round_trip_keeps_nodes_sessions_and_zxid() {
    use crate::storage::{SledStore, Store};
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new();
    h.create("/a", 0).unwrap();
    h.create("/a/b", 1).unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    store.replace_all(&h.tree, &[]).unwrap();
    drop(store);
    let loaded = SledStore::open(dir.path()).unwrap().load().unwrap();
    assert_eq!(loaded.last_zxid(), h.tree.last_zxid());
    assert_eq!(loaded.node("/a/b"), h.tree.node("/a/b"));
    assert_eq!(DataTree::stat(loaded.node("/a").unwrap()), h.stat("/a"));
    assert_eq!(
        loaded.session(SESSION).map(|s| s.password),
        h.tree.session(SESSION).map(|s| s.password)
    );
    assert_eq!(loaded.ephemerals(SESSION).count(), 1);
}

/// A standalone server's durable record is the log; the snapshot catches
/// up behind it. Whatever was appended survives a restart whether or not a
/// snapshot covered it; once recovery wrote a snapshot of the replay, the
/// old log files are gone.
#[test]
fn logged_batches_are_replayed_after_the_snapshot() {
    use crate::storage::snapshot_file::{self, STANDALONE};
    use crate::storage::standalone::recover;
    use crate::storage::{LogRecord, SledStore, TxnLog};
    let dir = tempfile::tempdir().unwrap();
    let (state_dir, log_dir) = (dir.path().join("store"), dir.path().join("txnlog"));
    let snapshot_dir = dir.path().join("snapshot");
    let mut h = Harness::new();
    let store = SledStore::open(&state_dir).unwrap();
    let (log, _) = TxnLog::open(&log_dir).unwrap();
    let append = |h: &mut Harness, path: &str| {
        h.create(path, 0).unwrap();
        let entries: Vec<TxnEntry> = h.log.drain(..).collect();
        log.append(&[LogRecord::encode(&entries).unwrap()]).unwrap();
    };
    append(&mut h, "/a");
    // A snapshot of the tree as it is now: covers "/a" only.
    let snapshot = h.tree.snapshot();
    append(&mut h, "/b");
    append(&mut h, "/b/c");
    snapshot_file::write(&snapshot_dir, STANDALONE, &snapshot).unwrap();
    drop((store, log));

    let store = SledStore::open(&state_dir).unwrap();
    let (log, logged) = TxnLog::open(&log_dir).unwrap();
    assert_eq!(logged.len(), 3);
    let loaded = recover(&store, &snapshot_dir, &log, logged).unwrap();
    assert_eq!(loaded.last_zxid(), h.tree.last_zxid());
    for path in ["/a", "/b", "/b/c"] {
        assert_eq!(loaded.node(path), h.tree.node(path), "{path}");
    }
    drop((store, log));
    // The replay is in a snapshot now and the log files it came from gone.
    let store = SledStore::open(&state_dir).unwrap();
    let (log, logged) = TxnLog::open(&log_dir).unwrap();
    assert!(logged.is_empty());
    let again = recover(&store, &snapshot_dir, &log, logged).unwrap();
    assert_eq!(again.node("/b/c"), h.tree.node("/b/c"));
    assert_eq!(again.last_zxid(), h.tree.last_zxid());
}

/// The per-znode state an older version kept in sled, and its log, become
/// a snapshot on the first start; the per-znode records are cleared, so
/// they are never read again in place of newer state.
#[test]
fn an_older_versions_state_becomes_a_snapshot() {
    use crate::storage::snapshot_file::{self, STANDALONE};
    use crate::storage::standalone::recover;
    use crate::storage::{LogRecord, SledStore, Store, TxnLog};
    use crate::tree::snapshot::SnapshotBody;
    let dir = tempfile::tempdir().unwrap();
    let (state_dir, log_dir) = (dir.path().join("store"), dir.path().join("txnlog"));
    let snapshot_dir = dir.path().join("snapshot");
    let mut h = Harness::new();
    h.create("/old", 0).unwrap();
    let store = SledStore::open(&state_dir).unwrap();
    store.replace_all(&h.tree, &[]).unwrap();
    let (log, _) = TxnLog::open(&log_dir).unwrap();
    h.log.clear();
    h.create("/old/logged", 0).unwrap();
    let entries: Vec<TxnEntry> = h.log.drain(..).collect();
    log.append(&[LogRecord::encode(&entries).unwrap()]).unwrap();
    drop(log);

    let (log, logged) = TxnLog::open(&log_dir).unwrap();
    let loaded = recover(&store, &snapshot_dir, &log, logged).unwrap();
    assert_eq!(loaded.node("/old/logged"), h.tree.node("/old/logged"));
    let body: SnapshotBody = snapshot_file::read(&snapshot_dir, STANDALONE)
        .unwrap()
        .unwrap();
    assert_eq!(body.last_zxid, h.tree.last_zxid());
    assert!(store.load().unwrap().node("/old").is_none());
}

/// approximate_data_size and the ephemeral count are kept as the tree
/// changes; they must equal a recount after every kind of change, and
/// after a load from storage (parents arriving after their children).
#[test]
fn kept_counts_match_a_recount() {
    fn recount(tree: &DataTree) -> (usize, usize) {
        let bytes = tree.nodes.iter().map(|(p, n)| node_bytes(p, n)).sum();
        let ephemerals = tree.ephemerals.values().map(BTreeSet::len).sum();
        (bytes, ephemerals)
    }
    fn kept(tree: &DataTree) -> (usize, usize) {
        (tree.data_size(), tree.ephemeral_count())
    }
    let mut h = Harness::new();
    assert_eq!(kept(&h.tree), recount(&h.tree));
    h.create("/app", 0).unwrap();
    h.create("/app/lock", 1).unwrap();
    h.create("/app/seq-", 3).unwrap();
    assert_eq!(kept(&h.tree), recount(&h.tree));
    assert_eq!(h.tree.ephemeral_count(), 2);
    h.run(WriteOp::SetData(SetDataRequest {
        path: "/app".into(),
        data: Some(Bytes::from_static(b"a longer value")),
        version: -1,
    }))
    .unwrap();
    h.run(WriteOp::SetData(SetDataRequest {
        path: "/app/lock".into(),
        data: None,
        version: -1,
    }))
    .unwrap();
    assert_eq!(kept(&h.tree), recount(&h.tree));
    h.run(delete_op("/app/seq-0000000001", -1)).unwrap();
    assert_eq!(kept(&h.tree), recount(&h.tree));
    assert_eq!(h.tree.ephemeral_count(), 1);

    let mut loaded = DataTree::new();
    let mut nodes: Vec<(String, Node)> = h
        .tree
        .nodes
        .iter()
        .map(|(p, n)| (p.clone(), n.clone()))
        .collect();
    nodes.reverse(); // children before their parents: placeholders first
    for (path, node) in nodes.iter().cloned().chain(nodes.iter().cloned()) {
        loaded.insert_loaded(path, node);
    }
    assert_eq!(kept(&loaded), recount(&loaded));
    assert_eq!(kept(&loaded), kept(&h.tree));

    h.commit(Txn::CloseSession);
    assert_eq!(kept(&h.tree), recount(&h.tree));
    assert_eq!(h.tree.ephemeral_count(), 0);
}
