//! Turning a write request into a transaction (ZooKeeper's
//! `PrepRequestProcessor`): every check a request must pass — paths, ACLs,
//! versions, parents, sequence numbers — happens here, against the tree as
//! it will be once everything already accepted is applied. Nothing here
//! changes the tree: a `multi` is checked op by op against an overlay of the
//! changes its earlier ops would make.

use std::collections::HashMap;

use super::{acl, path, DataTree};
use crate::proto::records::{perms, Acl, Id, Stat};
use crate::proto::request::{CreateOp, WriteOp};
use crate::proto::{ErrorCode, OpCode};
use crate::txn::{self, NodeKind, Txn};

/// Who asks, and the identities they hold.
pub struct Caller<'a> {
    pub session: i64,
    pub ids: &'a [Id],
}

/// What prepare needs to know of a node.
#[derive(Debug, Clone)]
struct Meta {
    stat: Stat,
    num_children: i32,
    acl: Vec<Acl>,
}

/// The tree plus the changes of the ops already prepared in this request.
struct Overlay<'t> {
    tree: &'t DataTree,
    changes: HashMap<String, Option<Meta>>,
}

impl Overlay<'_> {
    fn get(&self, path: &str) -> Option<Meta> {
        if let Some(change) = self.changes.get(path) {
            return change.clone();
        }
        self.tree.node(path).map(|n| Meta {
            stat: n.stat.clone(),
            num_children: n.children.len() as i32,
            acl: n.acl.clone(),
        })
    }

    fn require(&self, path: &str) -> Result<Meta, ErrorCode> {
        self.get(path).ok_or(ErrorCode::NoNode)
    }

    fn update(&mut self, path: &str, f: impl FnOnce(&mut Meta)) {
        if let Some(mut meta) = self.get(path) {
            f(&mut meta);
            self.changes.insert(path.to_string(), Some(meta));
        }
    }
}

/// ZooKeeper's `CreateMode` flags.
struct CreateMode {
    ephemeral: bool,
    sequential: bool,
    ttl: bool,
    container: bool,
}

fn create_mode(op: &CreateOp) -> Result<CreateMode, ErrorCode> {
    let mode = |ephemeral, sequential, ttl, container| CreateMode {
        ephemeral,
        sequential,
        ttl,
        container,
    };
    Ok(match op.flags {
        0 => mode(false, false, false, op.op == OpCode::CreateContainer),
        1 => mode(true, false, false, false),
        2 => mode(false, true, false, false),
        3 => mode(true, true, false, false),
        4 => mode(false, false, false, true),
        5 => mode(false, false, true, false),
        6 => mode(false, true, true, false),
        _ => return Err(ErrorCode::BadArguments),
    })
}

fn check_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(current.wrapping_add(1))
}

fn valid_path(p: &str) -> Result<(), ErrorCode> {
    path::validate(p, false).map_err(|_| ErrorCode::BadArguments)
}

/// ZooKeeper's `getParentPathAndValidate`: the parent of a node to delete;
/// the root and the `/zookeeper` system nodes may not be deleted.
fn parent_for_delete(p: &str) -> Result<&str, ErrorCode> {
    if p.contains('\0')
        || matches!(
            p,
            "/" | "/zookeeper" | "/zookeeper/quota" | "/zookeeper/config"
        )
    {
        return Err(ErrorCode::BadArguments);
    }
    path::parent(p).ok_or(ErrorCode::BadArguments)
}

fn prepare_create(o: &mut Overlay, caller: &Caller, op: &CreateOp) -> Result<Txn, ErrorCode> {
    let mode = create_mode(op)?;
    if mode.ttl {
        if op.ttl <= 0 || op.ttl > txn::MAX_TTL {
            return Err(ErrorCode::BadArguments);
        }
    } else if op.ttl >= 0 {
        return Err(ErrorCode::BadArguments);
    }
    // ZooKeeper's order: only the slash is checked before the parent is
    // looked up, so `/missing//x` is NONODE; the full path check comes after.
    if !op.path.contains('/') || op.path.contains('\0') {
        return Err(ErrorCode::BadArguments);
    }
    let parent_path = path::parent(&op.path).unwrap_or("/");
    let acl = acl::fixup(&op.acl, caller.ids)?;
    let parent = o.require(parent_path)?;
    acl::check(&parent.acl, perms::CREATE, caller.ids)?;
    let mut node_path = op.path.clone();
    if mode.sequential {
        node_path.push_str(&format!("{:010}", parent.stat.cversion));
    }
    valid_path(&node_path)?;
    if o.get(&node_path).is_some() {
        return Err(ErrorCode::NodeExists);
    }
    if matches!(
        NodeKind::of(parent.stat.ephemeral_owner),
        NodeKind::Ephemeral(_)
    ) {
        return Err(ErrorCode::NoChildrenForEphemerals);
    }
    let parent_cversion = parent.stat.cversion.wrapping_add(1);
    let ephemeral_owner = if mode.container {
        txn::CONTAINER_OWNER
    } else if mode.ttl {
        txn::ttl_owner(op.ttl)
    } else if mode.ephemeral {
        caller.session
    } else {
        0
    };
    let parent_path = parent_path.to_string();
    o.update(&parent_path, |m| {
        m.stat.cversion = parent_cversion;
        m.num_children += 1;
    });
    o.changes.insert(
        node_path.clone(),
        Some(Meta {
            stat: Stat {
                ephemeral_owner,
                ..Stat::default()
            },
            num_children: 0,
            acl: acl.clone(),
        }),
    );
    Ok(Txn::Create {
        path: node_path,
        data: owned(&op.data),
        acl,
        ephemeral_owner,
        parent_cversion,
    })
}

fn prepare_op(o: &mut Overlay, caller: &Caller, op: &WriteOp) -> Result<Txn, ErrorCode> {
    match op {
        WriteOp::Create(create) => prepare_create(o, caller, create),
        WriteOp::Delete(req) => {
            let parent_path = parent_for_delete(&req.path)?.to_string();
            let parent = o.require(&parent_path)?;
            acl::check(&parent.acl, perms::DELETE, caller.ids)?;
            let node = o.require(&req.path)?;
            check_version(node.stat.version, req.version)?;
            if node.num_children > 0 {
                return Err(ErrorCode::NotEmpty);
            }
            o.update(&parent_path, |m| m.num_children -= 1);
            o.changes.insert(req.path.clone(), None);
            Ok(Txn::Delete {
                path: req.path.clone(),
            })
        }
        WriteOp::SetData(req) => {
            valid_path(&req.path)?;
            let node = o.require(&req.path)?;
            acl::check(&node.acl, perms::WRITE, caller.ids)?;
            let version = check_version(node.stat.version, req.version)?;
            o.update(&req.path, |m| m.stat.version = version);
            Ok(Txn::SetData {
                path: req.path.clone(),
                data: owned(&req.data),
                version,
            })
        }
        WriteOp::SetAcl(req) => {
            valid_path(&req.path)?;
            let acl = acl::fixup(&req.acl, caller.ids)?;
            let node = o.require(&req.path)?;
            acl::check(&node.acl, perms::ADMIN, caller.ids)?;
            let aversion = check_version(node.stat.aversion, req.version)?;
            o.update(&req.path, |m| {
                m.stat.aversion = aversion;
                m.acl = acl.clone();
            });
            Ok(Txn::SetAcl {
                path: req.path.clone(),
                acl,
                aversion,
            })
        }
        WriteOp::Check(req) => {
            valid_path(&req.path)?;
            let node = o.require(&req.path)?;
            acl::check(&node.acl, perms::READ, caller.ids)?;
            check_version(node.stat.version, req.version)?;
            Ok(Txn::Check {
                path: req.path.clone(),
            })
        }
    }
}

/// Prepares a single write.
pub fn prepare(tree: &DataTree, caller: &Caller, op: &WriteOp) -> Result<Txn, ErrorCode> {
    let mut overlay = Overlay {
        tree,
        changes: HashMap::new(),
    };
    prepare_op(&mut overlay, caller, op)
}

/// Prepares a multi: all ops or none. On failure, the per-op results are
/// ZooKeeper's: OK for the ops before the failing one, its error, then
/// RUNTIMEINCONSISTENCY for the ops after it.
pub fn prepare_multi(
    tree: &DataTree,
    caller: &Caller,
    ops: &[WriteOp],
) -> Result<Txn, Vec<ErrorCode>> {
    let mut overlay = Overlay {
        tree,
        changes: HashMap::new(),
    };
    let mut txns = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        match prepare_op(&mut overlay, caller, op) {
            Ok(txn) => txns.push(txn),
            Err(code) => {
                let mut results = vec![ErrorCode::Ok; i];
                results.push(code);
                results.resize(ops.len(), ErrorCode::RuntimeInconsistency);
                return Err(results);
            }
        }
    }
    Ok(Txn::Multi(txns))
}

/// Prepares the server's own removal of an empty container or an expired
/// TTL node, re-checking that it still qualifies (`deleteContainer`).
pub fn prepare_expiry(tree: &DataTree, p: &str, now_ms: i64) -> Option<Txn> {
    let node = tree.node(p)?;
    if !node.children.is_empty() {
        return None;
    }
    let due = match NodeKind::of(node.stat.ephemeral_owner) {
        NodeKind::Container => node.stat.cversion > 0,
        NodeKind::Ttl(ttl) => now_ms - node.stat.mtime > ttl,
        _ => false,
    };
    due.then(|| Txn::Delete {
        path: p.to_string(),
    })
}

/// A node's data in an allocation of its own. A request's data is a slice
/// of the connection's read buffer; kept in the tree as such, every znode
/// would pin a piece of that buffer, and memory would not come back when
/// the znodes are deleted.
fn owned(data: &Option<bytes::Bytes>) -> Option<bytes::Bytes> {
    data.as_deref().map(bytes::Bytes::copy_from_slice)
}
