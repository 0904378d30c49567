//! Decoding a client request frame (after the handshake) into a typed
//! [`Request`], one variant per operation.

use bytes::Bytes;

use super::jute::{Decode, JuteError, Reader};
use super::opcode::OpCode;
use super::records::*;

/// A create of any kind: `create`, `create2`, `createContainer`, `createTTL`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CreateOp {
    /// Which create the client asked for; decides the response shape.
    pub op: OpCode,
    pub path: String,
    /// `None` when the client sent a null buffer.
    pub data: Option<Bytes>,
    pub acl: Vec<Acl>,
    pub flags: i32,
    /// Time to live in ms for TTL nodes, else -1.
    pub ttl: i64,
}

/// An operation that changes the tree (alone or inside a `multi`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum WriteOp {
    Create(CreateOp),
    Delete(PathVersion),
    SetData(SetDataRequest),
    SetAcl(SetAclRequest),
    Check(PathVersion),
}

/// A read inside a `multiRead`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOp {
    GetChildren(String),
    GetData(String),
}

/// One decoded client request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Write(WriteOp),
    Multi(Vec<WriteOp>),
    MultiRead(Vec<ReadOp>),
    Exists(PathWatch),
    GetData(PathWatch),
    GetAcl(PathOnly),
    GetChildren(PathWatch),
    GetChildren2(PathWatch),
    GetAllChildrenNumber(PathOnly),
    GetEphemerals(PathOnly),
    Sync(PathOnly),
    Ping,
    CloseSession,
    SetWatches(SetWatches2),
    AddWatch(AddWatchRequest),
    CheckWatches(PathType),
    RemoveWatches(PathType),
    WhoAmI,
    Auth(AuthPacket),
    /// A known operation this server does not serve (SASL, reconfig): the
    /// client gets `UNIMPLEMENTED`, as from a ZooKeeper without that feature.
    Unsupported(OpCode),
}

/// Why a request body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The op code is not one ZooKeeper defines: answered with UNIMPLEMENTED.
    #[error("unknown op code {0}")]
    UnknownOp(i32),
    /// The body does not decode: answered with MARSHALLINGERROR.
    #[error("cannot decode {op:?} body: {source}")]
    Body {
        op: OpCode,
        #[source]
        source: JuteError,
    },
    /// A multi holds an op type that may not appear there.
    #[error("op type {0} is not allowed inside a multi")]
    BadMultiOp(i32),
}

fn create(op: OpCode, r: &mut Reader) -> Result<CreateOp, JuteError> {
    if op == OpCode::CreateTtl {
        let c = CreateTtlRequest::decode(r)?;
        Ok(CreateOp {
            op,
            path: c.path,
            data: c.data,
            acl: c.acl,
            flags: c.flags,
            ttl: c.ttl,
        })
    } else {
        let c = CreateRequest::decode(r)?;
        Ok(CreateOp {
            op,
            path: c.path,
            data: c.data,
            acl: c.acl,
            flags: c.flags,
            ttl: -1,
        })
    }
}

/// Reads the `MultiHeader`-separated ops of a multi / multiRead body.
fn multi_ops<T>(
    r: &mut Reader,
    mut one: impl FnMut(OpCode, &mut Reader) -> Result<Option<T>, JuteError>,
) -> Result<Result<Vec<T>, i32>, JuteError> {
    let mut ops = Vec::new();
    loop {
        let header = MultiHeader::decode(r)?;
        if header.done {
            return Ok(Ok(ops));
        }
        let Some(op) = OpCode::from_i32(header.op) else {
            return Ok(Err(header.op));
        };
        match one(op, r)? {
            Some(item) => ops.push(item),
            None => return Ok(Err(header.op)),
        }
    }
}

fn write_op(op: OpCode, r: &mut Reader) -> Result<Option<WriteOp>, JuteError> {
    Ok(Some(match op {
        OpCode::Create | OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
            WriteOp::Create(create(op, r)?)
        }
        OpCode::Delete => WriteOp::Delete(PathVersion::decode(r)?),
        OpCode::SetData => WriteOp::SetData(SetDataRequest::decode(r)?),
        OpCode::Check => WriteOp::Check(PathVersion::decode(r)?),
        _ => return Ok(None),
    }))
}

fn read_op(op: OpCode, r: &mut Reader) -> Result<Option<ReadOp>, JuteError> {
    Ok(Some(match op {
        OpCode::GetChildren => ReadOp::GetChildren(PathWatch::decode(r)?.path),
        OpCode::GetData => ReadOp::GetData(PathWatch::decode(r)?.path),
        _ => return Ok(None),
    }))
}

impl Request {
    /// Decodes the body that follows a request header of type `op`.
    pub fn decode(op: i32, body: Bytes) -> Result<Request, RequestError> {
        let code = OpCode::from_i32(op).ok_or(RequestError::UnknownOp(op))?;
        let mut r = Reader::new(body);
        let wrap = |source| RequestError::Body { op: code, source };
        let r = &mut r;
        Ok(match code {
            OpCode::Create | OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
                Request::Write(WriteOp::Create(create(code, r).map_err(wrap)?))
            }
            OpCode::Delete => {
                Request::Write(WriteOp::Delete(PathVersion::decode(r).map_err(wrap)?))
            }
            OpCode::SetData => {
                Request::Write(WriteOp::SetData(SetDataRequest::decode(r).map_err(wrap)?))
            }
            OpCode::SetAcl => {
                Request::Write(WriteOp::SetAcl(SetAclRequest::decode(r).map_err(wrap)?))
            }
            OpCode::Check => Request::Write(WriteOp::Check(PathVersion::decode(r).map_err(wrap)?)),
            OpCode::Multi => Request::Multi(
                multi_ops(r, write_op)
                    .map_err(wrap)?
                    .map_err(RequestError::BadMultiOp)?,
            ),
            OpCode::MultiRead => Request::MultiRead(
                multi_ops(r, read_op)
                    .map_err(wrap)?
                    .map_err(RequestError::BadMultiOp)?,
            ),
            OpCode::Exists => Request::Exists(PathWatch::decode(r).map_err(wrap)?),
            OpCode::GetData => Request::GetData(PathWatch::decode(r).map_err(wrap)?),
            OpCode::GetAcl => Request::GetAcl(PathOnly::decode(r).map_err(wrap)?),
            OpCode::GetChildren => Request::GetChildren(PathWatch::decode(r).map_err(wrap)?),
            OpCode::GetChildren2 => Request::GetChildren2(PathWatch::decode(r).map_err(wrap)?),
            OpCode::GetAllChildrenNumber => {
                Request::GetAllChildrenNumber(PathOnly::decode(r).map_err(wrap)?)
            }
            OpCode::GetEphemerals => Request::GetEphemerals(PathOnly::decode(r).map_err(wrap)?),
            OpCode::Sync => Request::Sync(PathOnly::decode(r).map_err(wrap)?),
            OpCode::Ping => Request::Ping,
            OpCode::CloseSession => Request::CloseSession,
            OpCode::SetWatches => {
                let w = SetWatches::decode(r).map_err(wrap)?;
                Request::SetWatches(SetWatches2 {
                    relative_zxid: w.relative_zxid,
                    data_watches: w.data_watches,
                    exist_watches: w.exist_watches,
                    child_watches: w.child_watches,
                    persistent_watches: Vec::new(),
                    persistent_recursive_watches: Vec::new(),
                })
            }
            OpCode::SetWatches2 => Request::SetWatches(SetWatches2::decode(r).map_err(wrap)?),
            OpCode::AddWatch => Request::AddWatch(AddWatchRequest::decode(r).map_err(wrap)?),
            OpCode::CheckWatches => Request::CheckWatches(PathType::decode(r).map_err(wrap)?),
            OpCode::RemoveWatches => Request::RemoveWatches(PathType::decode(r).map_err(wrap)?),
            OpCode::WhoAmI => Request::WhoAmI,
            OpCode::Auth => Request::Auth(AuthPacket::decode(r).map_err(wrap)?),
            OpCode::Sasl
            | OpCode::Reconfig
            | OpCode::DeleteContainer
            | OpCode::CreateSession
            | OpCode::Notification
            | OpCode::Error => Request::Unsupported(code),
        })
    }

    /// True for requests that change state and so go through the commit path.
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Request::Write(_) | Request::Multi(_) | Request::CloseSession
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::jute::Encode;
    use bytes::BytesMut;

    type BodyWriter<'a> = &'a dyn Fn(&mut BytesMut);

    fn multi_body(ops: &[(i32, BodyWriter)]) -> Bytes {
        let mut w = BytesMut::new();
        for (op, body) in ops {
            MultiHeader {
                op: *op,
                done: false,
                err: -1,
            }
            .encode(&mut w);
            body(&mut w);
        }
        MultiHeader {
            op: -1,
            done: true,
            err: -1,
        }
        .encode(&mut w);
        w.freeze()
    }

    #[test]
    fn decodes_a_multi_of_create_and_check() {
        let body = multi_body(&[
            (1, &|w| {
                CreateRequest {
                    path: "/a".into(),
                    data: None,
                    acl: vec![Acl::open()],
                    flags: 0,
                }
                .encode(w)
            }),
            (13, &|w| {
                PathVersion {
                    path: "/a".into(),
                    version: 0,
                }
                .encode(w)
            }),
        ]);
        let Request::Multi(ops) = Request::decode(14, body).unwrap() else {
            panic!("not a multi")
        };
        assert_eq!(ops.len(), 2);
        assert!(matches!(&ops[0], WriteOp::Create(c) if c.path == "/a" && c.ttl == -1));
        assert!(matches!(&ops[1], WriteOp::Check(c) if c.version == 0));
    }

    #[test]
    fn rejects_reads_inside_a_write_multi_and_unknown_ops() {
        let body = multi_body(&[(4, &|w| {
            PathWatch {
                path: "/a".into(),
                watch: false,
            }
            .encode(w)
        })]);
        assert_eq!(Request::decode(14, body), Err(RequestError::BadMultiOp(4)));
        assert_eq!(
            Request::decode(999, Bytes::new()),
            Err(RequestError::UnknownOp(999))
        );
    }

    #[test]
    fn truncated_bodies_are_errors() {
        let body = PathVersion {
            path: "/abc".into(),
            version: 3,
        }
        .to_bytes()
        .freeze();
        for cut in 0..body.len() {
            assert!(matches!(
                Request::decode(2, body.slice(..cut)),
                Err(RequestError::Body { .. })
            ));
        }
    }
}
