//! The ACL every znode the broker creates gets: the one place that decides
//! it (Kafka's `ZkData.defaultAcls(isSecure, path)`).
//!
//! * `zookeeper.set.acl=false` (the default): `world:anyone` ALL, so any
//!   coord client may change the cluster's metadata.
//! * `zookeeper.set.acl=true`: ALL for the creating session's authenticated
//!   identity (ZooKeeper's `auth` scheme, which coord expands to the
//!   session's ids, e.g. `x509:<subject DN>` for a client certificate) plus
//!   `world:anyone` READ, so tooling can still read the layout but only
//!   brokers presenting that identity (or a coord super user) can write.
//!   Under [`SENSITIVE_ROOTS`] (SCRAM credentials, broker configs with
//!   their passwords, delegation tokens) the world READ is left out too.
//!
//! Paths are chroot-relative, as in Kafka, except the chroot itself (which
//! is created before the chroot applies and is not sensitive either way).
//!
//! Every broker of a cluster must present the same identity, or their
//! znodes become read-only to each other: ACLs are per znode and name the
//! creator, not the cluster.

use zookeeper_client as zk;

/// `/consumers` (Kafka's old-consumer path) stays open even when secure:
/// Kafka keeps it writable for old consumers that register under it. Only
/// the node itself; its children follow the normal rule.
pub const CONSUMERS_ROOT: &str = "/consumers";

/// Kafka's `ZkData.SensitiveRootPaths`: `/config/users` (SCRAM
/// credentials, user quotas), `/config/brokers` (broker configs, which may
/// hold passwords) and `/delegation_token/tokens` (token HMACs). A path is
/// sensitive when it starts with one of them (string prefix, as Kafka's
/// `sensitivePath` tests it, so a sibling like `/config/usersX` is treated
/// as sensitive too, which errs on the safe side).
pub const SENSITIVE_ROOTS: &[&str] = &[
    "/config/users",
    "/config/brokers",
    "/delegation_token/tokens",
];

/// ZooKeeper's `CREATOR_ALL_ACL` + `READ_ACL_UNSAFE`.
static CREATOR_ALL_WORLD_READ: [zk::Acl; 2] = [
    zk::Acl::new_const(zk::Permission::ALL, "auth", ""),
    zk::Acl::new_const(zk::Permission::READ, "world", "anyone"),
];

/// Whether `path` holds secrets nobody but the brokers may read.
pub fn is_sensitive(path: &str) -> bool {
    SENSITIVE_ROOTS.iter().any(|root| path.starts_with(root))
}

/// The ACL for a new znode at `path` (for a sequential node, the prefix),
/// with `secure` = `zookeeper.set.acl`.
pub fn acls_for(path: &str, secure: bool) -> zk::Acls<'static> {
    if !secure || path == CONSUMERS_ROOT {
        zk::Acls::anyone_all()
    } else if is_sensitive(path) {
        zk::Acls::creator_all()
    } else {
        zk::Acls::new(&CREATOR_ALL_WORLD_READ)
    }
}

/// `zookeeper.set.acl` carried to every creating call site: builds the
/// `CreateOptions` for a path so no call site picks an ACL itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZnodeAcls {
    secure: bool,
}

impl ZnodeAcls {
    pub const fn new(secure: bool) -> ZnodeAcls {
        ZnodeAcls { secure }
    }

    /// Whether `zookeeper.set.acl` is on.
    pub const fn is_secure(&self) -> bool {
        self.secure
    }

    pub fn acls(&self, path: &str) -> zk::Acls<'static> {
        acls_for(path, self.secure)
    }

    pub fn persistent(&self, path: &str) -> zk::CreateOptions<'static> {
        zk::CreateMode::Persistent.with_acls(self.acls(path))
    }

    pub fn ephemeral(&self, path: &str) -> zk::CreateOptions<'static> {
        zk::CreateMode::Ephemeral.with_acls(self.acls(path))
    }

    /// For a sequential node; `prefix` is the path before the sequence number.
    pub fn sequential(&self, prefix: &str) -> zk::CreateOptions<'static> {
        zk::CreateMode::PersistentSequential.with_acls(self.acls(prefix))
    }

    /// Creates `path` and any missing ancestors (empty), each with its own
    /// ACL, as Kafka's `createRecursive` does: the crate's `mkdir` would
    /// give every ancestor the ACL of the leaf, leaving e.g. `/config`
    /// unreadable when the leaf is `/config/users`. Existing nodes are
    /// left as they are. The leaf is tried first, so the common case (it or
    /// its parent exists) costs one round trip.
    pub async fn mkdirs(&self, client: &zk::Client, path: &str) -> Result<(), zk::Error> {
        if path.len() <= 1 {
            // The root always exists.
            return Ok(());
        }
        match client.create(path, b"", &self.persistent(path)).await {
            Ok(_) | Err(zk::Error::NodeExists) => return Ok(()),
            Err(zk::Error::NoNode) => {}
            Err(e) => return Err(e),
        }
        let mut end = 0;
        while end < path.len() {
            end = match path[end + 1..].find('/') {
                Some(i) => end + 1 + i,
                None => path.len(),
            };
            let prefix = &path[..end];
            if prefix.len() <= 1 {
                continue;
            }
            match client.create(prefix, b"", &self.persistent(prefix)).await {
                Ok(_) | Err(zk::Error::NodeExists) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(acls: zk::Acls<'_>) -> Vec<String> {
        acls.iter()
            .map(|a| format!("{}:{}:{:?}", a.scheme(), a.id(), a.permission()))
            .collect()
    }

    #[test]
    fn insecure_is_open_everywhere() {
        for p in ["/brokers/topics/t", "/config/users/alice", "/consumers"] {
            assert_eq!(acls_for(p, false), zk::Acls::anyone_all(), "{p}");
        }
    }

    #[test]
    fn secure_gives_creator_all_and_world_read() {
        let acls = summary(acls_for("/brokers/topics/t", true));
        assert_eq!(acls.len(), 2);
        assert!(acls[0].starts_with("auth::"));
        assert!(acls[1].starts_with("world:anyone:"));
        assert_eq!(
            acls_for("/brokers/topics/t", true)[1].permission(),
            zk::Permission::READ
        );
        assert_eq!(
            acls_for("/brokers/topics/t", true)[0].permission(),
            zk::Permission::ALL
        );
    }

    #[test]
    fn sensitive_paths_drop_world_read() {
        for p in [
            "/config/users",
            "/config/users/alice",
            "/config/users/alice/clients/c",
            "/config/brokers",
            "/config/brokers/0",
            "/delegation_token/tokens/t1",
        ] {
            assert_eq!(acls_for(p, true), zk::Acls::creator_all(), "{p}");
        }
        for p in [
            "/config",
            "/config/topics/t",
            "/delegation_token",
            "/config/clients/c",
        ] {
            assert_eq!(acls_for(p, true).len(), 2, "{p}");
        }
    }

    #[test]
    fn consumers_root_stays_open() {
        assert_eq!(acls_for("/consumers", true), zk::Acls::anyone_all());
        assert_eq!(acls_for("/consumers/g", true).len(), 2);
    }
}
