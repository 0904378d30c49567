//! Fuzz harnesses over everything a client or a peer can make this server
//! decode:
//!
//! * the client port, as `server::connection` reads it: frames
//!   ([`super::frame::take_frame`]), the ConnectRequest (and its optional
//!   read-only byte), then per frame the request header and the body of
//!   every op code ([`Request::decode`]), multi and multiRead included; an
//!   `addauth` packet as far as its digest id; SASL packets through
//!   [`request_token`] and a whole DIGEST-MD5 login ([`ConnAuth::sasl_step`]);
//! * the peer port, as `raft::peer` reads it: postcard [`PeerRequest`]s and
//!   [`PeerResponse`]s, and a snapshot received from a leader
//!   ([`SnapshotBody::decode`], then [`SnapshotBody::into_tree`], as
//!   `install_snapshot` does).
//!
//! Properties: decoding returns (never panics, never aborts) and the bytes
//! it allocates stay within [`bound`] of the input's length.
//!
//! Inputs: arbitrary bytes; valid messages of every kind mutated at every
//! offset (truncated, bytes flipped, 4-byte jute lengths and postcard
//! varints replaced with huge or negative values).
//!
//! # How memory is measured
//!
//! Jute lengths are checked against the bytes left before anything is
//! allocated (`jute::Reader::read_len`), and serde, under postcard, caps a
//! sequence's preallocation at 1 MiB whatever length it claims; so the
//! bytes *requested* are bounded and counting them is enough. This test
//! binary's global allocator ([`meter::Counting`]) counts the live bytes of
//! the fuzzing thread and their peak; the crate sets no allocator of its
//! own (only the `runnel-coord` binary sets jemalloc).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;

use super::frame::{put_frame, take_frame, MAX_PACKET};
use super::jute::{Decode, Encode, Reader};
use super::opcode::OpCode;
use super::records::*;
use super::request::{CreateOp, Request, WriteOp};
use crate::config::sasl::{AuthConfig, SaslUsers};
use crate::proposal::{Outcome, ProposalKind};
use crate::raft::peer::{Forwarded, PeerRequest, PeerResponse};
use crate::raft::{Command, Entry, Proposed};
use crate::server::sasl::digest_md5::{ZOOKEEPER_DIGEST_URI, ZOOKEEPER_REALM};
use crate::server::sasl::{request_token, ConnAuth};
use crate::tree::acl::digest_id;
use crate::tree::snapshot::SnapshotBody;
use crate::tree::{DataTree, Node, SessionRecord};
use crate::txn::Txn;

/// Counting allocator for this test binary; see the module documentation.
mod meter {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    /// What one metered stretch of code allocated.
    #[derive(Clone, Copy, Debug)]
    pub struct Usage {
        on: bool,
        live: usize,
        /// Peak bytes live.
        pub peak: usize,
        /// Largest single block.
        pub largest: usize,
    }

    const IDLE: Usage = Usage {
        on: false,
        live: 0,
        peak: 0,
        largest: 0,
    };

    thread_local! {
        // Const-initialised and without a destructor: safe to use from
        // inside the allocator.
        static USAGE: Cell<Usage> = const { Cell::new(IDLE) };
    }

    fn update(f: impl FnOnce(&mut Usage)) {
        let _ = USAGE.try_with(|cell| {
            let mut u = cell.get();
            if u.on {
                f(&mut u);
                cell.set(u);
            }
        });
    }

    fn grow(size: usize) {
        update(|u| {
            u.live += size;
            u.peak = u.peak.max(u.live);
            u.largest = u.largest.max(size);
        });
    }

    fn shrink(size: usize) {
        update(|u| u.live = u.live.saturating_sub(size));
    }

    /// Runs `f` metered; the meter is switched off even if `f` panics.
    pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Usage) {
        struct Off;
        impl Drop for Off {
            fn drop(&mut self) {
                let _ = USAGE.try_with(|c| {
                    let mut u = c.get();
                    u.on = false;
                    c.set(u);
                });
            }
        }
        USAGE.with(|c| c.set(Usage { on: true, ..IDLE }));
        let off = Off;
        let r = f();
        drop(off);
        (r, USAGE.with(|c| c.get()))
    }

    /// The system allocator, counted.
    pub struct Counting;

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            grow(layout.size());
            // SAFETY: same contract as ours.
            unsafe { System.alloc(layout) }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            grow(layout.size());
            // SAFETY: same contract as ours.
            unsafe { System.alloc_zeroed(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            shrink(layout.size());
            // SAFETY: `ptr` came from System with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            shrink(layout.size());
            grow(new_size);
            // SAFETY: same contract as ours.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }
}

#[global_allocator]
static COUNTING: meter::Counting = meter::Counting;

/// Bytes one decode may allocate: a few sequences' capped preallocation
/// (serde's 1 MiB) plus a generous factor of the input (a decoded node or
/// ACL is larger than its encoding).
fn bound(input_len: usize) -> usize {
    (8 << 20) + 64 * input_len
}

/// Longest one decode may take.
const SLOW: Duration = Duration::from_secs(2);

/// Case count: `PROPTEST_CASES` when set (scripts/fuzz.sh), else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(default: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(default),
        // Failing inputs are kept as unit tests, not in files beside the
        // sources that several people edit.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Runs `f` on an input of `len` bytes, metered, and checks the properties.
fn check<R>(len: usize, f: impl FnOnce() -> R) -> R {
    let started = Instant::now();
    let (r, usage) = meter::measure(f);
    let took = started.elapsed();
    assert!(took < SLOW, "decoding {len} bytes took {took:?}");
    assert!(
        usage.peak <= bound(len),
        "decoding {len} bytes allocated {} ({usage:?})",
        usage.peak
    );
    r
}

// ---------------------------------------------------------------- client port

/// The first frame of a connection, as `connection::handshake` reads it.
fn connect(frame: Bytes) -> bool {
    let len = frame.len();
    check(len, || {
        let mut r = Reader::new(frame);
        let decoded = ConnectRequest::decode(&mut r).is_ok();
        // The optional read-only flag: whatever follows the record.
        let _read_only = r.remaining() > 0;
        decoded
    })
}

/// An AuthConfig offering DIGEST-MD5 to one user.
fn sasl_config() -> AuthConfig {
    AuthConfig {
        jaas_file: Some("/fuzz/jaas.conf".into()),
        jaas_section: "Server".into(),
        sasl_users: SaslUsers([("alice".to_string(), "secret".to_string())].into()),
        sasl_super_users: vec!["alice".into()],
        ..AuthConfig::default()
    }
}

/// One request frame after the handshake, as `connection::dispatch` reads
/// it; `auth` carries a SASL login across frames. `true` if it decoded.
fn request(frame: Bytes, auth: &mut ConnAuth, config: &AuthConfig) -> bool {
    let len = frame.len();
    check(len, || {
        let mut r = Reader::new(frame.clone());
        let Ok(header) = RequestHeader::decode(&mut r) else {
            return false;
        };
        let body = frame.slice(8..);
        if header.op == OpCode::Sasl as i32 {
            return match request_token(body) {
                Ok(token) => auth.sasl_step(config, &token).is_ok(),
                Err(_) => false,
            };
        }
        match Request::decode(header.op, body) {
            Ok(Request::Auth(packet)) => {
                // What `connection::authenticate` does with it.
                let _ = digest_id(&String::from_utf8_lossy(&packet.auth));
                true
            }
            Ok(_) => true,
            Err(_) => false,
        }
    })
}

fn with_header(op: i32, body: &[u8]) -> Bytes {
    let mut out = RequestHeader { xid: 1, op }.to_bytes();
    out.put_slice(body);
    out.freeze()
}

fn bytes_of(record: &impl Encode) -> Vec<u8> {
    record.to_bytes().to_vec()
}

fn acls() -> Vec<Acl> {
    vec![
        Acl::open(),
        Acl {
            perms: perms::READ | perms::ADMIN,
            id: Id {
                scheme: "digest".into(),
                id: "bob:h4sh".into(),
            },
        },
    ]
}

fn multi(ops: &[(OpCode, Vec<u8>)]) -> Vec<u8> {
    let mut w = BytesMut::new();
    for (op, body) in ops {
        MultiHeader {
            op: *op as i32,
            done: false,
            err: -1,
        }
        .encode(&mut w);
        w.put_slice(body);
    }
    MultiHeader {
        op: -1,
        done: true,
        err: -1,
    }
    .encode(&mut w);
    w.to_vec()
}

/// A valid body for every op code a client may send.
fn valid_bodies() -> Vec<(OpCode, Vec<u8>)> {
    let path = |p: &str| bytes_of(&PathOnly { path: p.into() });
    let watch = bytes_of(&PathWatch {
        path: "/a/b".into(),
        watch: true,
    });
    let create = bytes_of(&CreateRequest {
        path: "/a/b".into(),
        data: Some(Bytes::from_static(b"payload")),
        acl: acls(),
        flags: 1,
    });
    let version = bytes_of(&PathVersion {
        path: "/a".into(),
        version: 3,
    });
    let set_data = bytes_of(&SetDataRequest {
        path: "/a".into(),
        data: None,
        version: -1,
    });
    let watches = vec!["/a".to_string(), "/b/c".to_string()];
    vec![
        (OpCode::Create, create.clone()),
        (OpCode::Create2, create.clone()),
        (OpCode::CreateContainer, create.clone()),
        (
            OpCode::CreateTtl,
            bytes_of(&CreateTtlRequest {
                path: "/t".into(),
                data: Some(Bytes::new()),
                acl: acls(),
                flags: 5,
                ttl: 1000,
            }),
        ),
        (OpCode::Delete, version.clone()),
        (OpCode::Check, version.clone()),
        (OpCode::Exists, watch.clone()),
        (OpCode::GetData, watch.clone()),
        (OpCode::GetChildren, watch.clone()),
        (OpCode::GetChildren2, watch.clone()),
        (OpCode::SetData, set_data.clone()),
        (OpCode::GetAcl, path("/a")),
        (OpCode::Sync, path("/")),
        (OpCode::GetAllChildrenNumber, path("/a")),
        (OpCode::GetEphemerals, path("/")),
        (
            OpCode::SetAcl,
            bytes_of(&SetAclRequest {
                path: "/a".into(),
                acl: acls(),
                version: 0,
            }),
        ),
        (
            OpCode::Multi,
            multi(&[
                (OpCode::Create, create),
                (OpCode::SetData, set_data),
                (OpCode::Check, version.clone()),
                (OpCode::Delete, version),
            ]),
        ),
        (
            OpCode::MultiRead,
            multi(&[
                (OpCode::GetChildren, watch.clone()),
                (OpCode::GetData, watch),
            ]),
        ),
        (
            OpCode::SetWatches,
            bytes_of(&SetWatches {
                relative_zxid: 9,
                data_watches: watches.clone(),
                exist_watches: watches.clone(),
                child_watches: vec![],
            }),
        ),
        (
            OpCode::SetWatches2,
            bytes_of(&SetWatches2 {
                relative_zxid: 9,
                data_watches: watches.clone(),
                exist_watches: vec![],
                child_watches: watches.clone(),
                persistent_watches: watches.clone(),
                persistent_recursive_watches: watches,
            }),
        ),
        (
            OpCode::AddWatch,
            bytes_of(&AddWatchRequest {
                path: "/a".into(),
                mode: 1,
            }),
        ),
        (
            OpCode::CheckWatches,
            bytes_of(&PathType {
                path: "/a".into(),
                kind: 1,
            }),
        ),
        (
            OpCode::RemoveWatches,
            bytes_of(&PathType {
                path: "/a".into(),
                kind: 3,
            }),
        ),
        (
            OpCode::Auth,
            bytes_of(&AuthPacket {
                kind: 0,
                scheme: "digest".into(),
                auth: Bytes::from_static(b"bob:secret"),
            }),
        ),
        (OpCode::Ping, vec![]),
        (OpCode::CloseSession, vec![]),
        (OpCode::WhoAmI, vec![]),
        (OpCode::Reconfig, vec![]),
    ]
}

fn valid_connect() -> Vec<Bytes> {
    let request = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 12,
        time_out: 30_000,
        session_id: 0x1234,
        passwd: Bytes::from_static(&[7; 16]),
    };
    let plain = request.to_bytes().freeze();
    let mut read_only = request.to_bytes();
    true.encode(&mut read_only);
    vec![plain, read_only.freeze()]
}

// ------------------------------------------------------------------- mutations

/// Values written over a field: jute's 4-byte lengths (huge, negative,
/// -1 for null), and postcard's varints (u64::MAX, 2^32, too long).
const WIDE: [&[u8]; 12] = [
    &[0x7f, 0xff, 0xff, 0xff],
    &[0x80, 0x00, 0x00, 0x00],
    &[0xff, 0xff, 0xff, 0xff],
    &[0xff, 0xff, 0xff, 0xfe],
    &[0x00, 0x0f, 0xff, 0xff],
    &[0x00, 0x10, 0x00, 0x00],
    &[0xff, 0xff, 0xff, 0xff, 0x0f],
    &[0x80, 0x80, 0x80, 0x80, 0x10],
    &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    &[
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
    ],
    &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
    &[0xfe, 0xff, 0xff, 0xff, 0x07],
];

#[derive(Debug, Clone, Copy)]
enum Mutation {
    Truncate(usize),
    Flip(usize, u8),
    /// Write `WIDE[value]` over the bytes at the offset.
    Overwrite(usize, usize),
    /// Replace the byte at the offset by `WIDE[value]` (a one-byte varint
    /// becomes a long one).
    Splice(usize, usize),
}

fn mutate(valid: &[u8], mutation: Mutation) -> Vec<u8> {
    let mut out = valid.to_vec();
    match mutation {
        Mutation::Truncate(len) => out.truncate(len),
        Mutation::Flip(at, mask) => {
            if let Some(b) = out.get_mut(at) {
                *b ^= mask;
            }
        }
        Mutation::Overwrite(at, value) => {
            for (i, b) in WIDE[value].iter().enumerate() {
                if let Some(slot) = out.get_mut(at + i) {
                    *slot = *b;
                }
            }
        }
        Mutation::Splice(at, value) => {
            let at = at.min(out.len());
            let end = (at + 1).min(out.len());
            out.splice(at..end, WIDE[value].iter().copied());
        }
    }
    out
}

fn every_mutation(len: usize) -> impl Iterator<Item = Mutation> {
    (0..len).flat_map(|at| {
        let cut = std::iter::once(Mutation::Truncate(at));
        let flips = [0x01, 0x80, 0xff].map(|mask| Mutation::Flip(at, mask));
        let wide = (0..WIDE.len())
            .flat_map(move |v| [Mutation::Overwrite(at, v), Mutation::Splice(at, v)]);
        cut.chain(flips).chain(wide)
    })
}

fn mutation() -> impl Strategy<Value = (prop::sample::Index, usize, usize, u8)> {
    (
        any::<prop::sample::Index>(),
        0usize..4,
        0..WIDE.len(),
        any::<u8>(),
    )
}

fn pick(len: usize, (at, kind, value, mask): (prop::sample::Index, usize, usize, u8)) -> Mutation {
    let at = at.index(len.max(1));
    match kind {
        0 => Mutation::Truncate(at),
        1 => Mutation::Flip(at, mask | 1),
        2 => Mutation::Overwrite(at, value),
        _ => Mutation::Splice(at, value),
    }
}

// ------------------------------------------------------------------------ SASL

fn md5_hex(parts: &[&[u8]]) -> String {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A client's DIGEST-MD5 response (RFC 2831 §2.1.2) to `challenge`.
fn digest_response(challenge: &[u8], user: &str, password: &str) -> Option<Vec<u8>> {
    use md5::{Digest, Md5};
    let text = std::str::from_utf8(challenge).ok()?;
    let start = text.find("nonce=\"")? + "nonce=\"".len();
    let nonce = &text[start..start + text[start..].find('"')?];
    let cnonce = "0a4f113b";
    let secret = Md5::digest(format!("{user}:{ZOOKEEPER_REALM}:{password}"));
    let ha1 = md5_hex(&[&secret, b":", nonce.as_bytes(), b":", cnonce.as_bytes()]);
    let ha2 = md5_hex(&[b"AUTHENTICATE:", ZOOKEEPER_DIGEST_URI.as_bytes()]);
    let response = md5_hex(&[
        ha1.as_bytes(),
        b":",
        nonce.as_bytes(),
        b":00000001:",
        cnonce.as_bytes(),
        b":auth:",
        ha2.as_bytes(),
    ]);
    Some(
        format!(
            "charset=utf-8,username=\"{user}\",realm=\"{ZOOKEEPER_REALM}\",nonce=\"{nonce}\",\
             nc=00000001,cnonce=\"{cnonce}\",digest-uri=\"{ZOOKEEPER_DIGEST_URI}\",\
             maxbuf=65536,response={response},qop=auth"
        )
        .into_bytes(),
    )
}

fn sasl_frame(token: &[u8]) -> Bytes {
    with_header(
        OpCode::Sasl as i32,
        &bytes_of(&Bytes::copy_from_slice(token)),
    )
}

/// A DIGEST-MD5 login whose second packet (a GetSASLRequest frame holding
/// the response token) is passed through `change`; whether it succeeded.
fn sasl_login(change: impl FnOnce(Vec<u8>) -> Vec<u8>) -> bool {
    let config = sasl_config();
    let mut auth = ConnAuth::new(vec![]);
    let Ok(challenge) = auth.sasl_step(&config, b"") else {
        return false;
    };
    let Some(response) = digest_response(&challenge, "alice", "secret") else {
        return false;
    };
    let frame = sasl_frame(&response).to_vec();
    request(Bytes::from(change(frame)), &mut auth, &config) && auth.holds_any(&["sasl".into()])
}

// ------------------------------------------------------------------- peer port

fn log_id(term: u64, index: u64) -> openraft::LogId<u64> {
    openraft::LogId::new(openraft::CommittedLeaderId::new(term, 1), index)
}

fn create_op() -> WriteOp {
    WriteOp::Create(CreateOp {
        op: OpCode::Create,
        path: "/a/b".into(),
        data: Some(Bytes::from_static(b"data")),
        acl: acls(),
        flags: 0,
        ttl: -1,
    })
}

/// A snapshot of a small tree, encoded as a leader sends it.
fn snapshot_bytes() -> Vec<u8> {
    let mut tree = DataTree::new();
    for (path, data) in [("/a", &b"x"[..]), ("/a/b", b"yz"), ("/c", b"")] {
        tree.insert_loaded(
            path.into(),
            Node {
                data: Some(Bytes::copy_from_slice(data)),
                acl: acls(),
                stat: Stat {
                    czxid: 3,
                    mzxid: 4,
                    version: 1,
                    data_length: data.len() as i32,
                    ..Stat::default()
                },
                children: Default::default(),
            },
        );
    }
    tree.insert_loaded_session(
        0x55,
        SessionRecord {
            timeout_ms: 4000,
            password: [9; 16],
        },
    );
    tree.set_last_zxid(17);
    tree.snapshot().encode().expect("a snapshot encodes")
}

fn valid_peer_requests() -> Vec<Vec<u8>> {
    let vote = openraft::Vote::new(3, 1);
    let membership = openraft::Membership::new(
        vec![BTreeSet::from([1, 2, 3])],
        BTreeMap::from([
            (1, openraft::BasicNode::new("a:2888")),
            (2, openraft::BasicNode::new("b:2888")),
            (3, openraft::BasicNode::new("c:2888")),
        ]),
    );
    let command = Command {
        time: 1_700_000_000_000,
        proposals: vec![Proposed {
            session: 0x55,
            txns: vec![
                Txn::CreateSession {
                    timeout_ms: 4000,
                    password: [1; 16],
                },
                Txn::Multi(vec![
                    Txn::Create {
                        path: "/a".into(),
                        data: Some(Bytes::from_static(b"v")),
                        acl: acls(),
                        ephemeral_owner: 0,
                        parent_cversion: 1,
                    },
                    Txn::SetData {
                        path: "/a".into(),
                        data: None,
                        version: 2,
                    },
                ]),
            ],
        }],
    };
    let entries: Vec<Entry> = vec![
        Entry {
            log_id: log_id(3, 10),
            payload: openraft::EntryPayload::Blank,
        },
        Entry {
            log_id: log_id(3, 11),
            payload: openraft::EntryPayload::Normal(command),
        },
        Entry {
            log_id: log_id(3, 12),
            payload: openraft::EntryPayload::Membership(membership.clone()),
        },
    ];
    let requests = [
        PeerRequest::AppendEntries(openraft::raft::AppendEntriesRequest {
            vote,
            prev_log_id: Some(log_id(2, 9)),
            entries,
            leader_commit: Some(log_id(2, 8)),
        }),
        PeerRequest::Vote(openraft::raft::VoteRequest::new(vote, Some(log_id(2, 9)))),
        PeerRequest::InstallSnapshot(openraft::raft::InstallSnapshotRequest {
            vote,
            meta: openraft::SnapshotMeta {
                last_log_id: Some(log_id(3, 12)),
                last_membership: openraft::StoredMembership::new(Some(log_id(3, 12)), membership),
                snapshot_id: "3-12-1".into(),
            },
            offset: 0,
            data: snapshot_bytes(),
            done: true,
        }),
        PeerRequest::Forward(Forwarded {
            session: 0x55,
            ids: vec![Id {
                scheme: "digest".into(),
                id: "bob:h4sh".into(),
            }],
            kind: ProposalKind::Multi(vec![create_op(), create_op()]),
        }),
        PeerRequest::ReadIndex,
        PeerRequest::Touch(vec![1, 0x55, -3]),
    ];
    requests
        .iter()
        .map(|r| postcard::to_stdvec(r).expect("a peer request encodes"))
        .collect()
}

fn valid_peer_responses() -> Vec<Vec<u8>> {
    let vote = openraft::Vote::new(3, 1);
    let responses = [
        PeerResponse::AppendEntries(Ok(openraft::raft::AppendEntriesResponse::Success)),
        PeerResponse::AppendEntries(Ok(openraft::raft::AppendEntriesResponse::Conflict)),
        PeerResponse::Vote(Ok(openraft::raft::VoteResponse {
            vote,
            vote_granted: true,
            last_log_id: Some(log_id(3, 12)),
        })),
        PeerResponse::InstallSnapshot(Ok(openraft::raft::InstallSnapshotResponse { vote })),
        PeerResponse::Forward(Outcome::Done {
            zxid: 17,
            results: vec![],
        }),
        PeerResponse::Forward(Outcome::MultiFailed {
            zxid: 17,
            codes: vec![super::ErrorCode::Ok, super::ErrorCode::NoNode],
        }),
        PeerResponse::ReadIndex(Some(99)),
        PeerResponse::Touched(5),
    ];
    responses
        .iter()
        .map(|r| postcard::to_stdvec(r).expect("a peer response encodes"))
        .collect()
}

/// A snapshot's bytes as `install_snapshot` handles them.
fn install(data: &[u8]) -> bool {
    match SnapshotBody::decode(data) {
        Ok(body) => {
            let _ = body.into_tree();
            true
        }
        Err(_) => false,
    }
}

/// A peer frame's body as `peer::serve` handles it (and, for a snapshot,
/// what `install_snapshot` does with its data).
fn peer_request(body: &[u8]) -> bool {
    check(body.len(), || {
        match postcard::from_bytes::<PeerRequest>(body) {
            Ok(PeerRequest::InstallSnapshot(req)) => {
                install(&req.data);
                true
            }
            Ok(_) => true,
            Err(_) => false,
        }
    })
}

/// A peer frame's body as `PeerClient`'s reader handles it.
fn peer_response(body: &[u8]) -> bool {
    check(body.len(), || {
        postcard::from_bytes::<PeerResponse>(body).is_ok()
    })
}

fn snapshot(data: &[u8]) -> bool {
    check(data.len(), || install(data))
}

// ------------------------------------------------------------------ harnesses

/// Every valid message decodes, then survives every mutation of the
/// battery. Deterministic; a few seconds in release.
#[test]
fn valid_messages_decode_and_survive_every_mutation() {
    let config = AuthConfig::default();
    let mut decodes = 0usize;
    for frame in valid_connect() {
        assert!(connect(frame.clone()));
        for m in every_mutation(frame.len()) {
            connect(Bytes::from(mutate(&frame, m)));
            decodes += 1;
        }
    }
    for (op, body) in valid_bodies() {
        let frame = with_header(op as i32, &body);
        let mut auth = ConnAuth::new(vec![]);
        assert!(request(frame.clone(), &mut auth, &config), "{op:?}");
        for m in every_mutation(frame.len()) {
            request(Bytes::from(mutate(&frame, m)), &mut auth, &config);
            decodes += 1;
        }
    }
    for body in valid_peer_requests() {
        assert!(peer_request(&body));
        for m in every_mutation(body.len()) {
            peer_request(&mutate(&body, m));
            decodes += 1;
        }
    }
    for body in valid_peer_responses() {
        assert!(peer_response(&body));
        for m in every_mutation(body.len()) {
            peer_response(&mutate(&body, m));
            decodes += 1;
        }
    }
    let mut login = Vec::new();
    assert!(sasl_login(|frame| {
        login = frame.clone();
        frame
    }));
    for m in every_mutation(login.len()) {
        sasl_login(|_| mutate(&login, m));
        decodes += 1;
    }
    let data = snapshot_bytes();
    assert!(snapshot(&data));
    for m in every_mutation(data.len()) {
        snapshot(&mutate(&data, m));
        decodes += 1;
    }
    assert!(decodes > 10_000, "only {decodes} mutated messages");
}

#[test]
fn an_unmutated_sasl_login_succeeds() {
    assert!(sasl_login(|t| t));
}

proptest! {
    #![proptest_config(config(3000))]

    /// A connection's bytes, arbitrary: cut into frames, the first read as
    /// a ConnectRequest, the others as requests (op codes drawn from the
    /// known ones half the time).
    #[test]
    fn arbitrary_client_streams(
        chunks in proptest::collection::vec(
            (any::<bool>(), any::<prop::sample::Index>(),
             proptest::collection::vec(any::<u8>(), 0..96)), 0..6),
    ) {
        let config = sasl_config();
        let mut auth = ConnAuth::new(vec![]);
        let ops = valid_bodies();
        let mut stream = BytesMut::new();
        for (known, op, body) in &chunks {
            let frame = if *known {
                with_header(ops[op.index(ops.len())].0 as i32, body)
            } else {
                Bytes::copy_from_slice(body)
            };
            put_frame(&mut stream, &frame);
        }
        let mut first = true;
        while let Ok(Some(frame)) = take_frame(&mut stream, MAX_PACKET) {
            if first {
                connect(frame);
                first = false;
            } else {
                request(frame, &mut auth, &config);
            }
        }
    }

    /// Valid bodies of every op code with stacked random mutations.
    #[test]
    fn mutated_requests(
        pick_op in any::<prop::sample::Index>(),
        steps in proptest::collection::vec(mutation(), 1..5),
    ) {
        let ops = valid_bodies();
        let (op, body) = &ops[pick_op.index(ops.len())];
        let mut frame = with_header(*op as i32, body).to_vec();
        for step in steps {
            frame = mutate(&frame, pick(frame.len(), step));
        }
        let mut auth = ConnAuth::new(vec![]);
        request(Bytes::from(frame), &mut auth, &AuthConfig::default());
    }

    /// Arbitrary peer frame bodies, both directions, and arbitrary
    /// snapshot bytes.
    #[test]
    fn arbitrary_peer_bodies(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        peer_request(&body);
        peer_response(&body);
        snapshot(&body);
    }

    /// Valid peer messages and snapshots with stacked random mutations.
    #[test]
    fn mutated_peer_messages(
        which in any::<prop::sample::Index>(),
        steps in proptest::collection::vec(mutation(), 1..5),
    ) {
        thread_local! {
            static VALID: (Vec<Vec<u8>>, Vec<Vec<u8>>) =
                (valid_peer_requests(), valid_peer_responses());
        }
        let (requests, responses) = VALID.with(|v| v.clone());
        let n = requests.len() + responses.len() + 1;
        let i = which.index(n);
        let mut body = if i < requests.len() {
            requests[i].clone()
        } else if i < n - 1 {
            responses[i - requests.len()].clone()
        } else {
            snapshot_bytes()
        };
        for step in steps {
            body = mutate(&body, pick(body.len(), step));
        }
        if i < requests.len() {
            peer_request(&body);
        } else if i < n - 1 {
            peer_response(&body);
        } else {
            snapshot(&body);
        }
    }
}

proptest! {
    #![proptest_config(config(500))]

    /// A DIGEST-MD5 login whose response token is mutated, plus arbitrary
    /// tokens after a real challenge.
    #[test]
    fn mutated_sasl_logins(
        step in mutation(),
        token in proptest::collection::vec(any::<u8>(), 0..128),
    ) {
        sasl_login(|frame| {
            let m = pick(frame.len(), step);
            mutate(&frame, m)
        });
        let config = sasl_config();
        let mut auth = ConnAuth::new(vec![]);
        request(sasl_frame(b""), &mut auth, &config);
        request(sasl_frame(&token), &mut auth, &config);
        request(with_header(OpCode::Sasl as i32, &token), &mut auth, &config);
    }
}
