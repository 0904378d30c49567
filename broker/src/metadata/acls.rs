//! ACLs in coord, in Kafka's ZooKeeper layout:
//!
//! * literal patterns: `/kafka-acl/<ResourceType>/<name>`;
//! * prefixed patterns: `/kafka-acl-extended/prefixed/<ResourceType>/<name>`;
//!
//! each holding `{"version":1,"acls":[{"principal":…,"permissionType":…,
//! "operation":…,"host":…}]}`. Every change also creates a sequential node
//! under `/kafka-acl-changes` (literal) or `/kafka-acl-extended-changes`
//! (prefixed), which every broker watches to reload.
//!
//! A znode's entries are rewritten with a conditional `set` on the version
//! read, so two brokers adding entries at once both keep theirs.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use zookeeper_client as zk;

use super::store::{zkerr, MetadataError, MetadataStore};
use crate::security::acl::{AclBinding, AclEntry, PatternType, ResourcePattern, ResourceType};

const LITERAL_ROOT: &str = "/kafka-acl";
const PREFIXED_ROOT: &str = "/kafka-acl-extended/prefixed";
const LITERAL_CHANGES: &str = "/kafka-acl-changes";
const EXTENDED_CHANGES: &str = "/kafka-acl-extended-changes";
const CHANGE_PREFIX: &str = "acl_changes_";

/// Attempts at a conditional rewrite before giving up (each failure means
/// another broker wrote the same znode in between).
const ATTEMPTS: usize = 20;

#[derive(Debug, Serialize, Deserialize)]
struct AclJson {
    version: i32,
    acls: Vec<AclEntry>,
}

/// The prefixed change notification's body.
#[derive(Debug, Serialize)]
struct ExtendedChangeJson<'a> {
    version: i32,
    #[serde(rename = "resourceType")]
    resource_type: &'a str,
    name: &'a str,
    #[serde(rename = "patternType")]
    pattern_type: &'a str,
}

fn pattern_path(p: &ResourcePattern) -> String {
    let root = match p.pattern {
        PatternType::Literal => LITERAL_ROOT,
        PatternType::Prefixed => PREFIXED_ROOT,
    };
    format!("{root}/{}/{}", p.resource_type.name(), p.name)
}

impl MetadataStore {
    /// Every stored binding.
    pub async fn read_acls(&self) -> Result<Vec<AclBinding>, MetadataError> {
        let client = self.zk();
        let mut out = Vec::new();
        for (root, pattern) in [
            (LITERAL_ROOT, PatternType::Literal),
            (PREFIXED_ROOT, PatternType::Prefixed),
        ] {
            let types = match client.list_children(root).await {
                Ok(t) => t,
                Err(zk::Error::NoNode) => continue,
                Err(e) => return Err(zkerr("children", root)(e)),
            };
            for type_name in types {
                // `/kafka-acl-extended` has other children than "prefixed".
                let Some(resource_type) = ResourceType::from_name(&type_name) else {
                    continue;
                };
                let dir = format!("{root}/{type_name}");
                let names = match client.list_children(&dir).await {
                    Ok(n) => n,
                    Err(zk::Error::NoNode) => continue,
                    Err(e) => return Err(zkerr("children", &dir)(e)),
                };
                for name in names {
                    let p = ResourcePattern {
                        resource_type,
                        name,
                        pattern,
                    };
                    let path = pattern_path(&p);
                    let entries = match client.get_data(&path).await {
                        Ok((data, _)) => parse_entries(&path, &data)?,
                        Err(zk::Error::NoNode) => continue,
                        Err(e) => return Err(zkerr("get", &path)(e)),
                    };
                    out.extend(entries.into_iter().map(|entry| AclBinding {
                        pattern: p.clone(),
                        entry,
                    }));
                }
            }
        }
        Ok(out)
    }

    /// One-shot watches on both change-notification folders (created if
    /// missing): either firing means the ACLs changed somewhere.
    pub async fn watch_acl_changes(&self) -> Result<Vec<zk::OneshotWatcher>, MetadataError> {
        let client = self.zk();
        let mut out = Vec::new();
        for path in [LITERAL_CHANGES, EXTENDED_CHANGES] {
            match self.znode_acls().mkdirs(&client, path).await {
                Ok(()) | Err(zk::Error::NodeExists) => {}
                Err(e) => return Err(zkerr("create", path)(e)),
            }
            let (_, _, w) = client
                .get_and_watch_children(path)
                .await
                .map_err(zkerr("children", path))?;
            out.push(w);
        }
        Ok(out)
    }

    /// Adds `entries` to `pattern` (those already there are kept once).
    pub async fn add_acls(
        &self,
        pattern: &ResourcePattern,
        entries: &[AclEntry],
    ) -> Result<(), MetadataError> {
        self.rewrite_acls(pattern, |set| {
            set.extend(entries.iter().cloned());
        })
        .await
    }

    /// Removes `entries` from `pattern`; the znode goes once it is empty.
    pub async fn remove_acls(
        &self,
        pattern: &ResourcePattern,
        entries: &[AclEntry],
    ) -> Result<(), MetadataError> {
        self.rewrite_acls(pattern, |set| {
            for e in entries {
                set.remove(e);
            }
        })
        .await
    }

    async fn rewrite_acls(
        &self,
        pattern: &ResourcePattern,
        change: impl Fn(&mut BTreeSet<AclEntry>),
    ) -> Result<(), MetadataError> {
        let client = self.zk();
        let path = pattern_path(pattern);
        for _ in 0..ATTEMPTS {
            let (mut set, version) = match client.get_data(&path).await {
                Ok((data, stat)) => (
                    parse_entries(&path, &data)?
                        .into_iter()
                        .collect::<BTreeSet<_>>(),
                    Some(stat.version),
                ),
                Err(zk::Error::NoNode) => (BTreeSet::new(), None),
                Err(e) => return Err(zkerr("get", &path)(e)),
            };
            let before = set.clone();
            change(&mut set);
            if set == before {
                return Ok(());
            }
            let json = serde_json::to_vec(&AclJson {
                version: 1,
                acls: set.iter().cloned().collect(),
            })
            .unwrap_or_default();
            let written = match (version, set.is_empty()) {
                (Some(v), true) => client.delete(&path, Some(v)).await,
                (Some(v), false) => client.set_data(&path, &json, Some(v)).await.map(|_| ()),
                (None, _) => {
                    if let Some((parent, _)) = path.rsplit_once('/') {
                        match self.znode_acls().mkdirs(&client, parent).await {
                            Ok(()) | Err(zk::Error::NodeExists) => {}
                            Err(e) => return Err(zkerr("create", parent)(e)),
                        }
                    }
                    client
                        .create(&path, &json, &self.znode_acls().persistent(&path))
                        .await
                        .map(|_| ())
                }
            };
            match written {
                Ok(()) => return self.announce_acl_change(pattern).await,
                Err(zk::Error::BadVersion | zk::Error::NodeExists | zk::Error::NoNode) => continue,
                Err(e) => return Err(zkerr("write", &path)(e)),
            }
        }
        Err(MetadataError::Conflict { path })
    }

    async fn announce_acl_change(&self, pattern: &ResourcePattern) -> Result<(), MetadataError> {
        let (dir, body) = match pattern.pattern {
            PatternType::Literal => (
                LITERAL_CHANGES,
                format!("{}:{}", pattern.resource_type.name(), pattern.name).into_bytes(),
            ),
            PatternType::Prefixed => (
                EXTENDED_CHANGES,
                serde_json::to_vec(&ExtendedChangeJson {
                    version: 1,
                    resource_type: pattern.resource_type.name(),
                    name: &pattern.name,
                    pattern_type: "PREFIXED",
                })
                .unwrap_or_default(),
            ),
        };
        let client = self.zk();
        match self.znode_acls().mkdirs(&client, dir).await {
            Ok(()) | Err(zk::Error::NodeExists) => {}
            Err(e) => return Err(zkerr("create", dir)(e)),
        }
        let prefix = format!("{dir}/{CHANGE_PREFIX}");
        client
            .create(&prefix, &body, &self.znode_acls().sequential(&prefix))
            .await
            .map_err(zkerr("create", &prefix))?;
        Ok(())
    }
}

fn parse_entries(path: &str, data: &[u8]) -> Result<Vec<AclEntry>, MetadataError> {
    serde_json::from_slice::<AclJson>(data)
        .map(|j| j.acls)
        .map_err(|source| MetadataError::Json {
            path: path.to_string(),
            source,
        })
}
