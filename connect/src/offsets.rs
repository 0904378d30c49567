//! Source offsets of a standalone worker, in `offset.storage.file.filename`.
//!
//! Keys and values are Kafka's: the key is the JSON `["<connector>",
//! {<source partition>}]`, the value the source offset's JSON
//! (`{"position": 42}` for the file source), both as JsonConverter with
//! `schemas.enable=false` writes them. Kafka keeps the map in a Java
//! serialized file; this worker keeps it as JSON text
//! (`{"offsets": [[key, value], ...]}`), written whole to a temporary
//! file, synced and renamed over the old one, so a crash leaves either the
//! old or the new map.
//!
//! Tasks [`OffsetStore::put`] offsets once their records are acknowledged;
//! [`OffsetStore::flush`] writes them (every `offset.flush.interval.ms`,
//! when a task stops, and at shutdown). Reads see what was put, flushed or
//! not, as a task restarted in the same process must.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum OffsetError {
    #[error("cannot read the offsets file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the offsets file {path} is not an offsets map: {message}")]
    Corrupt { path: String, message: String },
    #[error("cannot write the offsets file {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Default)]
struct Offsets {
    /// Serialized key (`["conn",{...}]`) → offset.
    map: BTreeMap<String, Value>,
    /// Whether `map` has changes the file does not.
    dirty: bool,
}

pub struct OffsetStore {
    path: PathBuf,
    state: Mutex<Offsets>,
    /// Held by a flush from its snapshot to its rename, so that two flushes
    /// (the periodic one, a task's last, a REST offsets change) cannot
    /// write their snapshots in the wrong order and leave an older map in
    /// the file. `state` itself is not held while writing.
    writing: Mutex<()>,
}

/// The serialized key of a connector's source partition.
pub fn key(connector: &str, partition: &Value) -> String {
    json!([connector, partition]).to_string()
}

impl OffsetStore {
    /// Reads the file; a missing one is an empty map.
    pub fn open(path: &Path) -> Result<OffsetStore, OffsetError> {
        let shown = || path.display().to_string();
        let mut map = BTreeMap::new();
        match std::fs::read(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(OffsetError::Read {
                    path: shown(),
                    source,
                })
            }
            Ok(bytes) if bytes.is_empty() => {}
            Ok(bytes) => {
                let corrupt = |message: String| OffsetError::Corrupt {
                    path: shown(),
                    message,
                };
                let v: Value =
                    serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
                let entries = v
                    .get("offsets")
                    .and_then(Value::as_array)
                    .ok_or_else(|| corrupt("no \"offsets\" array".into()))?;
                for e in entries {
                    match e.as_array().map(Vec::as_slice) {
                        Some([k @ Value::Array(_), v]) => {
                            map.insert(k.to_string(), v.clone());
                        }
                        _ => return Err(corrupt(format!("bad entry {e}"))),
                    }
                }
            }
        }
        Ok(OffsetStore {
            path: path.to_path_buf(),
            state: Mutex::new(Offsets { map, dirty: false }),
            writing: Mutex::new(()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Offsets> {
        // The map stays consistent entry by entry even if a holder panicked.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The offset of a connector's source partition.
    pub fn get(&self, connector: &str, partition: &Value) -> Option<Value> {
        self.lock().map.get(&key(connector, partition)).cloned()
    }

    /// Records an offset (`Null` removes it), written at the next flush.
    pub fn put(&self, connector: &str, partition: &Value, offset: Value) {
        let mut st = self.lock();
        let k = key(connector, partition);
        if offset.is_null() {
            st.map.remove(&k);
        } else {
            st.map.insert(k, offset);
        }
        st.dirty = true;
    }

    /// Every partition and offset of one connector.
    pub fn connector_offsets(&self, connector: &str) -> Vec<(Value, Value)> {
        self.lock()
            .map
            .iter()
            .filter_map(|(k, v)| {
                let parsed: Value = serde_json::from_str(k).ok()?;
                match parsed.as_array().map(Vec::as_slice) {
                    Some([Value::String(c), p]) if c == connector => Some((p.clone(), v.clone())),
                    _ => None,
                }
            })
            .collect()
    }

    /// Removes every offset of a connector.
    pub fn remove_connector(&self, connector: &str) {
        for (p, _) in self.connector_offsets(connector) {
            self.put(connector, &p, Value::Null);
        }
    }

    /// Writes the map if it changed since the last flush.
    pub fn flush(&self) -> Result<(), OffsetError> {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let text = {
            let mut st = self.lock();
            if !st.dirty {
                return Ok(());
            }
            st.dirty = false;
            let entries: Vec<Value> = st
                .map
                .iter()
                .filter_map(|(k, v)| Some(json!([serde_json::from_str::<Value>(k).ok()?, v])))
                .collect();
            json!({ "offsets": entries }).to_string()
        };
        self.write(text.as_bytes())
            .inspect_err(|_| self.lock().dirty = true)
    }

    fn write(&self, bytes: &[u8]) -> Result<(), OffsetError> {
        let err = |source| OffsetError::Write {
            path: self.path.display().to_string(),
            source,
        };
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        f.write_all(bytes).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, &self.path).map_err(err)?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_kafkas() {
        assert_eq!(
            key("local-file-source", &json!({"filename": "/tmp/in.txt"})),
            r#"["local-file-source",{"filename":"/tmp/in.txt"}]"#
        );
    }

    #[test]
    fn survives_reopen_only_after_flush() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connect.offsets");
        let s = OffsetStore::open(&path).unwrap();
        let p = json!({"filename": "a.txt"});
        assert_eq!(s.get("c", &p), None);
        s.put("c", &p, json!({"position": 12}));
        s.put("d", &p, json!({"position": 3}));
        assert_eq!(s.get("c", &p), Some(json!({"position": 12})));
        assert_eq!(OffsetStore::open(&path).unwrap().get("c", &p), None);
        s.flush().unwrap();
        let again = OffsetStore::open(&path).unwrap();
        assert_eq!(again.get("c", &p), Some(json!({"position": 12})));
        assert_eq!(
            again.connector_offsets("d"),
            vec![(p.clone(), json!({"position": 3}))]
        );
        again.remove_connector("c");
        again.flush().unwrap();
        assert_eq!(OffsetStore::open(&path).unwrap().get("c", &p), None);
    }

    #[test]
    fn a_corrupt_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connect.offsets");
        std::fs::write(&path, b"\xac\xed\x00\x05").unwrap();
        let e = OffsetStore::open(&path).err().unwrap();
        assert!(e.to_string().contains("is not an offsets map"), "{e}");
    }
}
