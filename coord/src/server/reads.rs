//! Answering requests that change nothing: reads, watch registration and
//! session-local requests. They run against the published tree, in the
//! connection's request order.

use bytes::Bytes;

use super::reply::{multi_read_end, multi_read_item, Reply};
use super::watches::{WatchKind, WatcherType};
use super::Shared;
use crate::proto::jute::Encode;
use crate::proto::records::*;
use crate::proto::request::{ReadOp, Request};
use crate::proto::{ErrorCode, OpCode};
use crate::tree::{acl, DataTree, EventType, Node};

/// Who is reading: the connection (for watches) and its session and identities.
pub struct Reader<'a> {
    pub conn: u64,
    pub session: i64,
    pub ids: &'a [Id],
}

fn readable<'t>(tree: &'t DataTree, p: &str, ids: &[Id]) -> Result<&'t Node, ErrorCode> {
    let node = tree.node(p).ok_or(ErrorCode::NoNode)?;
    acl::check(&node.acl, perms::READ, ids)?;
    Ok(node)
}

/// Answers one non-write request with a full reply frame.
pub fn answer(shared: &Shared, who: &Reader, xid: i32, request: &Request) -> Bytes {
    let tree = shared.tree();
    let zxid = tree.last_zxid();
    match evaluate(shared, &tree, who, xid, zxid, request) {
        Ok(frame) => frame,
        Err(code) => Reply::bare(xid, zxid, code),
    }
}

fn evaluate(
    shared: &Shared,
    tree: &DataTree,
    who: &Reader,
    xid: i32,
    zxid: i64,
    request: &Request,
) -> Result<Bytes, ErrorCode> {
    let ids = who.ids;
    Ok(match request {
        Request::Ping => Reply::bare(xid, zxid, ErrorCode::Ok),
        Request::Exists(req) => {
            if req.path.contains('\0') {
                return Err(ErrorCode::BadArguments);
            }
            if req.watch {
                shared.watches().add(who.conn, &req.path, WatchKind::Data);
            }
            let node = tree.node(&req.path).ok_or(ErrorCode::NoNode)?;
            Reply::with(
                xid,
                zxid,
                &StatResponse {
                    stat: DataTree::stat(node),
                },
            )
        }
        Request::GetData(req) => {
            let node = readable(tree, &req.path, ids)?;
            if req.watch {
                shared.watches().add(who.conn, &req.path, WatchKind::Data);
            }
            Reply::with(
                xid,
                zxid,
                &GetDataResponse {
                    data: node.data.clone(),
                    stat: DataTree::stat(node),
                },
            )
        }
        Request::GetChildren(req) | Request::GetChildren2(req) => {
            let node = readable(tree, &req.path, ids)?;
            if req.watch {
                shared.watches().add(who.conn, &req.path, WatchKind::Child);
            }
            let children: Vec<String> = node.children.iter().cloned().collect();
            if matches!(request, Request::GetChildren(_)) {
                Reply::with(xid, zxid, &ChildrenResponse { children })
            } else {
                Reply::with(
                    xid,
                    zxid,
                    &Children2Response {
                        children,
                        stat: DataTree::stat(node),
                    },
                )
            }
        }
        Request::GetAcl(req) => {
            let node = tree.node(&req.path).ok_or(ErrorCode::NoNode)?;
            acl::check(&node.acl, perms::READ | perms::ADMIN, ids)?;
            let acl = if acl::check(&node.acl, perms::ADMIN, ids).is_ok() {
                node.acl.clone()
            } else {
                // Without ADMIN, digest hashes are hidden, as ZooKeeper does.
                node.acl
                    .iter()
                    .map(|a| {
                        let mut a = a.clone();
                        if a.id.scheme == "digest" {
                            let user = a.id.id.split(':').next().unwrap_or_default();
                            a.id.id = format!("{user}:x");
                        }
                        a
                    })
                    .collect()
            };
            Reply::with(
                xid,
                zxid,
                &GetAclResponse {
                    acl,
                    stat: DataTree::stat(node),
                },
            )
        }
        Request::GetAllChildrenNumber(req) => {
            readable(tree, &req.path, ids)?;
            Reply::with(
                xid,
                zxid,
                &CountResponse {
                    total_number: tree.descendant_count(&req.path) as i32,
                },
            )
        }
        Request::GetEphemerals(req) => {
            let prefix = req.path.trim();
            let all = prefix.is_empty() || prefix == "/";
            let children = tree
                .ephemerals(who.session)
                .filter(|p| all || p.starts_with(prefix))
                .cloned()
                .collect();
            Reply::with(xid, zxid, &ChildrenResponse { children })
        }
        Request::Sync(req) => Reply::with(
            xid,
            zxid,
            &PathOnly {
                path: req.path.clone(),
            },
        ),
        Request::SetWatches(req) => {
            set_watches(shared, tree, who.conn, req);
            Reply::bare(xid, zxid, ErrorCode::Ok)
        }
        Request::AddWatch(req) => {
            let kind = match req.mode {
                0 => WatchKind::Persistent,
                1 => WatchKind::Recursive,
                // ZooKeeper fails to map the mode and reports a marshalling error.
                _ => return Err(ErrorCode::MarshallingError),
            };
            shared.watches().add(who.conn, &req.path, kind);
            Reply::with(xid, zxid, &ErrorResponse { err: 0 })
        }
        Request::CheckWatches(req) | Request::RemoveWatches(req) => {
            let kind = WatcherType::from_i32(req.kind).ok_or(ErrorCode::BadArguments)?;
            let mut watches = shared.watches();
            let found = if matches!(request, Request::CheckWatches(_)) {
                watches.contains(who.conn, &req.path, kind)
            } else {
                watches.remove(who.conn, &req.path, kind)
            };
            if !found {
                return Err(ErrorCode::NoWatcher);
            }
            Reply::bare(xid, zxid, ErrorCode::Ok)
        }
        Request::WhoAmI => {
            let client_info = ids
                .iter()
                .map(|id| ClientInfo {
                    auth_scheme: id.scheme.clone(),
                    user: match id.scheme.as_str() {
                        "digest" => id.id.split(':').next().unwrap_or_default().to_string(),
                        _ => id.id.clone(),
                    },
                })
                .collect();
            Reply::with(xid, zxid, &WhoAmIResponse { client_info })
        }
        Request::MultiRead(ops) => {
            let mut reply = Reply::new(xid, zxid, ErrorCode::Ok);
            for op in ops {
                let buf = reply.buf();
                match op {
                    ReadOp::GetChildren(p) => match readable(tree, p, ids) {
                        Ok(node) => {
                            multi_read_item(buf, OpCode::GetChildren, ErrorCode::Ok);
                            ChildrenResponse {
                                children: node.children.iter().cloned().collect(),
                            }
                            .encode(buf);
                        }
                        Err(code) => multi_read_error(buf, code),
                    },
                    ReadOp::GetData(p) => match readable(tree, p, ids) {
                        Ok(node) => {
                            multi_read_item(buf, OpCode::GetData, ErrorCode::Ok);
                            GetDataResponse {
                                data: node.data.clone(),
                                stat: DataTree::stat(node),
                            }
                            .encode(buf);
                        }
                        Err(code) => multi_read_error(buf, code),
                    },
                }
            }
            multi_read_end(reply.buf());
            reply.finish()
        }
        Request::Unsupported(_) => return Err(ErrorCode::Unimplemented),
        // Writes and connection-level requests are handled before this point.
        Request::Write(_) | Request::Multi(_) | Request::CloseSession | Request::Auth(_) => {
            return Err(ErrorCode::SystemError)
        }
    })
}

fn multi_read_error(buf: &mut bytes::BytesMut, code: ErrorCode) {
    multi_read_item(buf, OpCode::Error, code);
    ErrorResponse { err: code.code() }.encode(buf);
}

/// Re-registers a reconnecting client's watches; anything that changed
/// after `relative_zxid` fires at once instead (ZooKeeper's `setWatches`).
fn set_watches(shared: &Shared, tree: &DataTree, conn: u64, req: &SetWatches2) {
    let mut watches = shared.watches();
    let rel = req.relative_zxid;
    for p in &req.data_watches {
        match tree.node(p) {
            None => watches.notify(conn, EventType::NodeDeleted, p),
            Some(n) if n.stat.mzxid > rel => watches.notify(conn, EventType::NodeDataChanged, p),
            Some(_) => watches.add(conn, p, WatchKind::Data),
        }
    }
    for p in &req.exist_watches {
        match tree.node(p) {
            Some(_) => watches.notify(conn, EventType::NodeCreated, p),
            None => watches.add(conn, p, WatchKind::Data),
        }
    }
    for p in &req.child_watches {
        match tree.node(p) {
            None => watches.notify(conn, EventType::NodeDeleted, p),
            Some(n) if n.stat.pzxid > rel => {
                watches.notify(conn, EventType::NodeChildrenChanged, p)
            }
            Some(_) => watches.add(conn, p, WatchKind::Child),
        }
    }
    for p in &req.persistent_watches {
        watches.add(conn, p, WatchKind::Persistent);
    }
    for p in &req.persistent_recursive_watches {
        watches.add(conn, p, WatchKind::Recursive);
    }
}
