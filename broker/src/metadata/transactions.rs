//! Exactly-once state in coord: producer-id blocks and the transaction
//! coordinator's records.
//!
//! Layout (JSON in every node):
//!
//! * `/latest_producer_id_block`: [`ProducerIdBlockJson`], Kafka's
//!   `ProducerIdBlockZNode`: the last block of producer ids any broker
//!   claimed. A broker claims the next block with a `setData` conditional on
//!   the version it read, so two brokers never get the same block.
//! * `/transactions/<transactional.id>`: [`TxnJson`], one transactional
//!   id's producer id, epoch, state and partitions. Every write is
//!   conditional on the znode version the writer last saw, so a coordinator
//!   that lost the id to another broker cannot overwrite what the new one
//!   decided.
//!
//! Transactional ids are znode names as they are, except `/`, `%` and the
//! names `.` and `..`, which are percent-escaped (see [`txn_path`]).

use serde::{Deserialize, Serialize};
use tracing::{debug, info};
use zookeeper_client as zk;

use super::store::{MetadataError, MetadataStore};

/// Kafka's `ProducerIdBlockZNode.path`.
pub const PRODUCER_ID_BLOCK: &str = "/latest_producer_id_block";

/// Parent of every transactional id's node.
pub const TRANSACTIONS: &str = "/transactions";

fn zkerr<'a>(op: &'static str, path: &'a str) -> impl FnOnce(zk::Error) -> MetadataError + 'a {
    move |source| MetadataError::Zk {
        op,
        path: path.to_string(),
        source,
    }
}

fn json_err(path: &str) -> impl FnOnce(serde_json::Error) -> MetadataError + '_ {
    move |source| MetadataError::Json {
        path: path.to_string(),
        source,
    }
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    // Serialising our own plain structs cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

/// `/latest_producer_id_block` as Kafka writes it: the bounds are strings
/// (Kafka's `ProducerIdBlockZNode` writes them so for JSON readers without
/// 64-bit integers).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProducerIdBlockJson {
    pub version: i32,
    pub broker: i32,
    pub block_start: String,
    pub block_end: String,
}

/// A claimed block of producer ids, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerIdBlock {
    pub first: i64,
    pub last: i64,
}

/// The block after `previous` (`None`: nothing claimed yet), or `None` when
/// the id space is used up.
pub fn next_block(previous: Option<&ProducerIdBlock>, size: i64) -> Option<ProducerIdBlock> {
    let first = match previous {
        None => 0,
        Some(p) => p.last.checked_add(1)?,
    };
    let last = first.checked_add(size - 1)?;
    Some(ProducerIdBlock { first, last })
}

fn parse_block(path: &str, data: &[u8]) -> Result<Option<ProducerIdBlock>, MetadataError> {
    if data.is_empty() {
        return Ok(None);
    }
    let json: ProducerIdBlockJson = serde_json::from_slice(data).map_err(json_err(path))?;
    let bad = |what: &str| MetadataError::Json {
        path: path.to_string(),
        source: serde::de::Error::custom(format!("{what} is not an integer")),
    };
    let first = json
        .block_start
        .parse::<i64>()
        .map_err(|_| bad("block_start"))?;
    let last = json
        .block_end
        .parse::<i64>()
        .map_err(|_| bad("block_end"))?;
    Ok(Some(ProducerIdBlock { first, last }))
}

/// Why no transactional record could be written.
#[derive(Debug, thiserror::Error)]
pub enum TxnStoreError {
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// Another writer changed the node since it was read: this broker is
    /// no longer the one deciding for the id.
    #[error("{path} was changed by another coordinator")]
    Fenced { path: String },
    #[error("the producer id space is exhausted")]
    ProducerIdsExhausted,
}

/// One topic partition of a transaction.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TxnPartitionJson {
    pub topic: String,
    pub partition: i32,
}

/// `/transactions/<transactional.id>`: Kafka's `TransactionLogValue` plus
/// the coordinator epoch (Kafka's is the transaction log partition's
/// leader epoch; ours counts the brokers that loaded the id).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TxnJson {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub last_producer_id: i64,
    pub last_producer_epoch: i16,
    pub timeout_ms: i32,
    /// Kafka's state name (`Ongoing`, `PrepareCommit`, …).
    pub state: String,
    #[serde(default)]
    pub partitions: Vec<TxnPartitionJson>,
    /// Consumer groups whose offsets are part of the transaction.
    #[serde(default)]
    pub groups: Vec<String>,
    pub txn_start_ms: i64,
    pub last_update_ms: i64,
    pub coordinator_epoch: i32,
}

/// A record with the znode version it was read or written at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    pub record: TxnJson,
    pub version: i32,
}

/// The znode of `transactional_id`.
pub fn txn_path(transactional_id: &str) -> String {
    format!("{TRANSACTIONS}/{}", escape(transactional_id))
}

/// Znode names cannot hold `/` nor be `.` or `..`; `%` is escaped so the
/// mapping is reversible.
fn escape(id: &str) -> String {
    if id == "." || id == ".." {
        return id.replace('.', "%2E");
    }
    id.replace('%', "%25").replace('/', "%2F")
}

/// Reverses [`escape`] in one pass (a name is never unescaped twice).
fn unescape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 3);
        match code {
            Some("25") => out.push('%'),
            Some("2F") => out.push('/'),
            Some("2E") => out.push('.'),
            _ => {
                // Not ours: keep it as it is.
                out.push('%');
                rest = &rest[i + 1..];
                continue;
            }
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    out
}

/// Transactional state and producer-id blocks in coord.
pub struct TxnStore {
    store: std::sync::Arc<MetadataStore>,
}

impl TxnStore {
    pub fn new(store: std::sync::Arc<MetadataStore>) -> TxnStore {
        TxnStore { store }
    }

    /// Claims the next `size` producer ids for `broker`: read the last
    /// claimed block, write the next one conditional on the version read,
    /// and start over if another broker was faster.
    pub async fn claim_producer_id_block(
        &self,
        broker: i32,
        size: i64,
    ) -> Result<ProducerIdBlock, TxnStoreError> {
        let client = self.store.zk();
        let path = PRODUCER_ID_BLOCK;
        loop {
            let current = match client.get_data(path).await {
                Ok((data, stat)) => Some((parse_block(path, &data)?, stat.version)),
                Err(zk::Error::NoNode) => None,
                Err(e) => return Err(zkerr("get", path)(e).into()),
            };
            let previous = current.as_ref().and_then(|(b, _)| b.as_ref());
            let block = next_block(previous, size).ok_or(TxnStoreError::ProducerIdsExhausted)?;
            let json = to_json(&ProducerIdBlockJson {
                version: 1,
                broker,
                block_start: block.first.to_string(),
                block_end: block.last.to_string(),
            });
            let written = match &current {
                Some((_, version)) => client
                    .set_data(path, &json, Some(*version))
                    .await
                    .map(|_| ()),
                None => client
                    .create(path, &json, &self.store.znode_acls().persistent(path))
                    .await
                    .map(|_| ()),
            };
            match written {
                Ok(()) => {
                    info!(
                        broker,
                        first = block.first,
                        last = block.last,
                        "claimed a producer id block"
                    );
                    return Ok(block);
                }
                Err(zk::Error::BadVersion) | Err(zk::Error::NodeExists) => {
                    debug!("{path} changed concurrently; claiming again");
                }
                Err(e) => return Err(zkerr("set", path)(e).into()),
            }
        }
    }

    /// Reads one transactional id's record (`None`: no node).
    pub async fn load(&self, transactional_id: &str) -> Result<Option<Versioned>, TxnStoreError> {
        let path = txn_path(transactional_id);
        match self.store.zk().get_data(&path).await {
            Ok((data, stat)) => {
                let record = serde_json::from_slice(&data).map_err(json_err(&path))?;
                Ok(Some(Versioned {
                    record,
                    version: stat.version,
                }))
            }
            Err(zk::Error::NoNode) => Ok(None),
            Err(e) => Err(zkerr("get", &path)(e).into()),
        }
    }

    /// Writes a record: creates the node when `expected_version` is `None`,
    /// else replaces it only if it is still at that version. Returns the new
    /// version. Coord has made it durable when this returns.
    pub async fn write(
        &self,
        transactional_id: &str,
        record: &TxnJson,
        expected_version: Option<i32>,
    ) -> Result<i32, TxnStoreError> {
        let client = self.store.zk();
        let path = txn_path(transactional_id);
        let data = to_json(record);
        let fenced = || TxnStoreError::Fenced { path: path.clone() };
        match expected_version {
            Some(v) => match client.set_data(&path, &data, Some(v)).await {
                Ok(stat) => Ok(stat.version),
                Err(zk::Error::BadVersion) | Err(zk::Error::NoNode) => Err(fenced()),
                Err(e) => Err(zkerr("set", &path)(e).into()),
            },
            None => {
                let acls = self.store.znode_acls();
                let options = acls.persistent(&path);
                let created = match client.create(&path, &data, &options).await {
                    Err(zk::Error::NoNode) => {
                        // The parent is missing (first transaction ever).
                        acls.mkdirs(&client, TRANSACTIONS)
                            .await
                            .map_err(zkerr("create", TRANSACTIONS))?;
                        client.create(&path, &data, &options).await
                    }
                    other => other,
                };
                match created {
                    Ok((stat, _)) => Ok(stat.version),
                    Err(zk::Error::NodeExists) => Err(fenced()),
                    Err(e) => Err(zkerr("create", &path)(e).into()),
                }
            }
        }
    }

    /// Deletes a record if it is still at `version` (expired ids).
    pub async fn delete(&self, transactional_id: &str, version: i32) -> Result<(), TxnStoreError> {
        let path = txn_path(transactional_id);
        match self.store.zk().delete(&path, Some(version)).await {
            Ok(()) | Err(zk::Error::NoNode) => Ok(()),
            Err(zk::Error::BadVersion) => Err(TxnStoreError::Fenced { path }),
            Err(e) => Err(zkerr("delete", &path)(e).into()),
        }
    }

    /// Every transactional id with a node.
    pub async fn list(&self) -> Result<Vec<String>, TxnStoreError> {
        match self.store.zk().list_children(TRANSACTIONS).await {
            Ok(names) => Ok(names.iter().map(|n| unescape(n)).collect()),
            Err(zk::Error::NoNode) => Ok(Vec::new()),
            Err(e) => Err(zkerr("children", TRANSACTIONS)(e).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_follow_each_other() {
        let first = next_block(None, 1000).unwrap();
        assert_eq!(
            first,
            ProducerIdBlock {
                first: 0,
                last: 999
            }
        );
        let second = next_block(Some(&first), 1000).unwrap();
        assert_eq!(
            second,
            ProducerIdBlock {
                first: 1000,
                last: 1999
            }
        );
        let end = ProducerIdBlock {
            first: 0,
            last: i64::MAX - 10,
        };
        assert_eq!(next_block(Some(&end), 1000), None);
    }

    #[test]
    fn block_json_is_kafkas() {
        let json = ProducerIdBlockJson {
            version: 1,
            broker: 2,
            block_start: "1000".into(),
            block_end: "1999".into(),
        };
        let text = String::from_utf8(to_json(&json)).unwrap();
        assert_eq!(
            text,
            r#"{"version":1,"broker":2,"block_start":"1000","block_end":"1999"}"#
        );
        let parsed = parse_block("p", text.as_bytes()).unwrap().unwrap();
        assert_eq!(parsed.last, 1999);
        assert_eq!(parse_block("p", b"").unwrap(), None);
        assert!(parse_block("p", b"{}").is_err());
    }

    #[test]
    fn transactional_ids_escape_reversibly() {
        for id in ["plain", "a/b", "50%", ".", "..", "a.b", "%2F"] {
            let path = txn_path(id);
            let name = path.trim_start_matches("/transactions/");
            assert!(!name.contains('/') && name != "." && name != "..", "{id}");
            assert_eq!(unescape(name), id, "{id}");
        }
    }
}
