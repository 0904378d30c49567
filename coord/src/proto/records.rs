//! The jute records of `zookeeper.jute` that clients send and receive.
//! Field order and types follow the jute definitions exactly.

use bytes::Bytes;

use super::jute::record;

record!(
    /// An identity: `world:anyone`, `digest:user:hash`, `ip:10.0.0.1`, ...
    Id { scheme: String, id: String }
);
record!(
    /// One access-control entry: permission bits for an identity.
    Acl { perms: i32, id: Id }
);
record!(
    /// A znode's metadata as clients see it.
    Stat {
        czxid: i64,
        mzxid: i64,
        ctime: i64,
        mtime: i64,
        version: i32,
        cversion: i32,
        aversion: i32,
        ephemeral_owner: i64,
        data_length: i32,
        num_children: i32,
        pzxid: i64,
    }
);
record!(ClientInfo {
    auth_scheme: String,
    user: String
});
record!(
    /// The first frame of a connection (the trailing `readOnly` byte is
    /// optional and read separately).
    ConnectRequest {
        protocol_version: i32,
        last_zxid_seen: i64,
        time_out: i32,
        session_id: i64,
        passwd: Bytes,
    }
);
record!(ConnectResponse {
    protocol_version: i32,
    time_out: i32,
    session_id: i64,
    passwd: Bytes,
});
record!(SetWatches {
    relative_zxid: i64,
    data_watches: Vec<String>,
    exist_watches: Vec<String>,
    child_watches: Vec<String>,
});
record!(SetWatches2 {
    relative_zxid: i64,
    data_watches: Vec<String>,
    exist_watches: Vec<String>,
    child_watches: Vec<String>,
    persistent_watches: Vec<String>,
    persistent_recursive_watches: Vec<String>,
});
record!(RequestHeader { xid: i32, op: i32 });
record!(MultiHeader {
    op: i32,
    done: bool,
    err: i32
});
record!(AuthPacket {
    kind: i32,
    scheme: String,
    auth: Bytes
});
record!(ReplyHeader {
    xid: i32,
    zxid: i64,
    err: i32
});
record!(PathWatch {
    path: String,
    watch: bool
});
record!(SetDataRequest {
    path: String,
    data: Option<Bytes>,
    version: i32
});
record!(StatResponse { stat: Stat });
record!(CreateRequest { path: String, data: Option<Bytes>, acl: Vec<Acl>, flags: i32 });
record!(CreateTtlRequest { path: String, data: Option<Bytes>, acl: Vec<Acl>, flags: i32, ttl: i64 });
record!(PathVersion {
    path: String,
    version: i32
});
record!(PathOnly { path: String });
record!(SetAclRequest { path: String, acl: Vec<Acl>, version: i32 });
record!(AddWatchRequest {
    path: String,
    mode: i32
});
record!(WatcherEvent {
    kind: i32,
    state: i32,
    path: String
});
record!(ErrorResponse { err: i32 });
record!(Create2Response {
    path: String,
    stat: Stat
});
record!(GetDataResponse {
    data: Option<Bytes>,
    stat: Stat
});
record!(ChildrenResponse { children: Vec<String> });
record!(Children2Response { children: Vec<String>, stat: Stat });
record!(CountResponse { total_number: i32 });
record!(GetAclResponse { acl: Vec<Acl>, stat: Stat });
record!(PathType {
    path: String,
    kind: i32
});
record!(WhoAmIResponse { client_info: Vec<ClientInfo> });

/// Permission bits of an [`Acl`].
pub mod perms {
    pub const READ: i32 = 1;
    pub const WRITE: i32 = 2;
    pub const CREATE: i32 = 4;
    pub const DELETE: i32 = 8;
    pub const ADMIN: i32 = 16;
    pub const ALL: i32 = READ | WRITE | CREATE | DELETE | ADMIN;
}

impl Acl {
    /// `world:anyone` with every permission: ZooKeeper's `OPEN_ACL_UNSAFE`.
    pub fn open() -> Acl {
        Acl {
            perms: perms::ALL,
            id: Id {
                scheme: "world".into(),
                id: "anyone".into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::jute::{Decode, Encode};

    #[test]
    fn stat_is_68_bytes_in_field_order() {
        let stat = Stat {
            czxid: 1,
            mzxid: 2,
            ctime: 3,
            mtime: 4,
            version: 5,
            cversion: 6,
            aversion: 7,
            ephemeral_owner: 8,
            data_length: 9,
            num_children: 10,
            pzxid: 11,
        };
        let bytes = stat.to_bytes();
        assert_eq!(bytes.len(), 68);
        assert_eq!(&bytes[..8], &1i64.to_be_bytes());
        assert_eq!(&bytes[60..], &11i64.to_be_bytes());
        assert_eq!(Stat::from_bytes(bytes.freeze()).unwrap(), stat);
    }

    #[test]
    fn create_request_round_trips_and_rejects_truncation() {
        let req = CreateRequest {
            path: "/a".into(),
            data: Some(Bytes::from_static(b"x")),
            acl: vec![Acl::open()],
            flags: 3,
        };
        let bytes = req.to_bytes().freeze();
        assert_eq!(CreateRequest::from_bytes(bytes.clone()).unwrap(), req);
        for cut in 0..bytes.len() {
            assert!(
                CreateRequest::from_bytes(bytes.slice(..cut)).is_err(),
                "cut {cut}"
            );
        }
    }
}
