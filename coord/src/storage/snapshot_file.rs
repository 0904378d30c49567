//! A server's last snapshot, in a file of its own under `<dataDir>/snapshot/`
//! ([`ENSEMBLE`] for an ensemble member, [`STANDALONE`] for a standalone
//! server): one log frame (length, crc32c, postcard value; see
//! [`log_file`]). It is written whole to `<name>.tmp`, synced, renamed over
//! the previous one and the directory synced, so a crash leaves the
//! previous snapshot or the new one, never a mix.
//!
//! Not in sled: a snapshot is the whole tree (tens of MiB at a few hundred
//! thousand znodes), and writing it as one sled value held up the Raft
//! log's small metadata writes (vote, commit point) behind it.
//!

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::log_file;

/// An ensemble member's snapshot (with openraft's metadata).
pub const ENSEMBLE: &str = "snapshot";
/// A standalone server's snapshot (the tree alone).
pub const STANDALONE: &str = "standalone";

/// One writer at a time: a snapshot built and one installed from the
/// leader would share the temporary file.
static WRITING: Mutex<()> = Mutex::new(());

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// Bytes written between two syncs of a snapshot file.
const SYNC_EVERY: usize = 4 << 20;

/// How many transactions (or log entries) to wait before the next snapshot,
/// given `every`: between half of it and all of it, chosen at random, so
/// servers started together do not all snapshot at the same moment
/// (ZooKeeper randomizes its snapCount the same way). When every ensemble
/// member wrote its snapshot at once, the three encodings and flushes
/// stalled writes for 60–100 ms.
pub fn spread(every: u64) -> u64 {
    use rand::Rng;
    let half = every / 2;
    half + rand::thread_rng().gen_range(0..=every - half)
}

/// Replaces the snapshot `name` in `dir` with `value`, durably. Synced
/// every few MiB rather than once at the end: one flush of tens of MiB
/// holds the disk for tens of milliseconds, and every log append's sync
/// (each write's acknowledgement) would wait behind it.
pub fn write<T: Serialize>(dir: &Path, name: &str, value: &T) -> io::Result<()> {
    let (bytes, _) = log_file::encode_into(value, Vec::new()).map_err(invalid)?;
    let _one = WRITING.lock().unwrap_or_else(|p| p.into_inner());
    fs::create_dir_all(dir)?;
    let temp = dir.join(format!("{name}.tmp"));
    let mut file = File::create(&temp)?;
    for chunk in bytes.chunks(SYNC_EVERY) {
        file.write_all(chunk)?;
        file.sync_data()?;
    }
    drop(file);
    fs::rename(&temp, dir.join(name))?;
    log_file::sync_dir(dir)
}

/// Removes the snapshot `name` from `dir`, if there is one.
pub fn remove(dir: &Path, name: &str) -> io::Result<()> {
    match fs::remove_file(dir.join(name)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => log_file::sync_dir(dir).or(Ok(())),
    }
}

/// The snapshot `name` in `dir`; `None` if none was written there.
pub fn read<T: DeserializeOwned>(dir: &Path, name: &str) -> io::Result<Option<T>> {
    let path = dir.join(name);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let payload = log_file::payload(&bytes)
        .map_err(|reason| invalid(format!("{}: {reason}", path.display())))?;
    postcard::from_bytes(payload)
        .map(Some)
        .map_err(|e| invalid(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_snapshot_reads_back_and_replaces_the_previous_one() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read::<Vec<u32>>(dir.path(), ENSEMBLE).unwrap(), None);
        write(dir.path(), ENSEMBLE, &vec![1u32, 2, 3]).unwrap();
        write(dir.path(), ENSEMBLE, &vec![4u32]).unwrap();
        write(dir.path(), STANDALONE, &vec![5u32]).unwrap();
        assert_eq!(
            read::<Vec<u32>>(dir.path(), ENSEMBLE).unwrap(),
            Some(vec![4])
        );
        assert!(!dir.path().join("snapshot.tmp").exists());
        remove(dir.path(), STANDALONE).unwrap();
        remove(dir.path(), STANDALONE).unwrap();
        assert_eq!(read::<Vec<u32>>(dir.path(), STANDALONE).unwrap(), None);
        assert_eq!(
            read::<Vec<u32>>(dir.path(), ENSEMBLE).unwrap(),
            Some(vec![4])
        );
    }

    #[test]
    fn a_damaged_snapshot_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), ENSEMBLE, &vec![7u32; 100]).unwrap();
        let path = dir.path().join(ENSEMBLE);
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&path, &bytes).unwrap();
        let err = read::<Vec<u32>>(dir.path(), ENSEMBLE).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("checksum"), "{err}");
        assert!(err.to_string().contains("snapshot"), "{err}");
    }
}
