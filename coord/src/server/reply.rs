//! Building reply frames: length prefix, reply header, body.

use bytes::{Bytes, BytesMut};

use crate::proto::jute::Encode;
use crate::proto::records::{
    Create2Response, ErrorResponse, MultiHeader, PathOnly, ReplyHeader, StatResponse,
};
use crate::proto::request::WriteOp;
use crate::proto::{ErrorCode, OpCode};
use crate::tree::OpResult;

/// A reply under construction: header written, body to follow.
pub struct Reply(BytesMut);

impl Reply {
    pub fn new(xid: i32, zxid: i64, err: ErrorCode) -> Reply {
        let mut buf = BytesMut::with_capacity(64);
        buf.extend_from_slice(&[0; 4]);
        ReplyHeader {
            xid,
            zxid,
            err: err.code(),
        }
        .encode(&mut buf);
        Reply(buf)
    }

    /// A reply with a body.
    pub fn with(xid: i32, zxid: i64, body: &impl Encode) -> Bytes {
        let mut reply = Reply::new(xid, zxid, ErrorCode::Ok);
        body.encode(reply.buf());
        reply.finish()
    }

    /// A header-only reply.
    pub fn bare(xid: i32, zxid: i64, err: ErrorCode) -> Bytes {
        Reply::new(xid, zxid, err).finish()
    }

    pub fn buf(&mut self) -> &mut BytesMut {
        &mut self.0
    }

    /// Patches the length prefix and hands the frame over.
    pub fn finish(mut self) -> Bytes {
        let len = (self.0.len() - 4) as i32;
        self.0[..4].copy_from_slice(&len.to_be_bytes());
        self.0.freeze()
    }
}

/// Whether a create's reply carries the new node's stat (create2 and later kinds).
fn create_with_stat(op: &WriteOp) -> bool {
    matches!(op, WriteOp::Create(c) if c.op != OpCode::Create)
}

/// Encodes the body of a committed single write.
pub fn write_body(buf: &mut BytesMut, op: &WriteOp, result: Option<&OpResult>) {
    match result {
        Some(OpResult::Created { path, stat }) => {
            if create_with_stat(op) {
                Create2Response {
                    path: path.clone(),
                    stat: stat.clone(),
                }
                .encode(buf)
            } else {
                PathOnly { path: path.clone() }.encode(buf)
            }
        }
        Some(OpResult::SetData { stat }) | Some(OpResult::SetAcl { stat }) => {
            StatResponse { stat: stat.clone() }.encode(buf)
        }
        _ => {}
    }
}

fn multi_header(buf: &mut BytesMut, op: i32, err: i32) {
    MultiHeader {
        op,
        done: false,
        err,
    }
    .encode(buf);
}

fn multi_end(buf: &mut BytesMut) {
    MultiHeader {
        op: -1,
        done: true,
        err: -1,
    }
    .encode(buf);
}

/// Encodes a committed multi's results, one per op. Inside a multi,
/// ZooKeeper answers create2 like create (path only); container and TTL
/// creates carry the stat.
pub fn multi_body(buf: &mut BytesMut, ops: &[WriteOp], results: &[OpResult]) {
    for (op, result) in ops.iter().zip(results) {
        let with_stat = matches!(op, WriteOp::Create(c) if matches!(c.op, OpCode::CreateContainer | OpCode::CreateTtl));
        match result {
            OpResult::Created { path, stat } => {
                if with_stat {
                    multi_header(buf, OpCode::Create2 as i32, 0);
                    Create2Response {
                        path: path.clone(),
                        stat: stat.clone(),
                    }
                    .encode(buf);
                } else {
                    multi_header(buf, OpCode::Create as i32, 0);
                    PathOnly { path: path.clone() }.encode(buf);
                }
                continue;
            }
            OpResult::Deleted => multi_header(buf, OpCode::Delete as i32, 0),
            OpResult::SetData { .. } => multi_header(buf, OpCode::SetData as i32, 0),
            OpResult::Checked => multi_header(buf, OpCode::Check as i32, 0),
            _ => multi_header(buf, OpCode::Error as i32, 0),
        }
        write_body(buf, op, Some(result));
    }
    multi_end(buf);
}

/// Encodes a refused multi: every op an error result.
pub fn multi_error_body(buf: &mut BytesMut, codes: &[ErrorCode]) {
    for code in codes {
        multi_header(buf, OpCode::Error as i32, code.code());
        ErrorResponse { err: code.code() }.encode(buf);
    }
    multi_end(buf);
}

/// Starts one result of a multiRead.
pub fn multi_read_item(buf: &mut BytesMut, op: OpCode, err: ErrorCode) {
    multi_header(buf, op as i32, err.code());
}

/// Ends a multiRead's results.
pub fn multi_read_end(buf: &mut BytesMut) {
    multi_end(buf);
}
