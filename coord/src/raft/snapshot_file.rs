//! An ensemble member's last snapshot, in a file of its own:
//! `<dataDir>/snapshot/snapshot`, one log frame (length, crc32c, postcard
//! value; see [`log_file`]). It is written whole to `snapshot.tmp`, synced,
//! renamed over the previous one and the directory synced, so a crash
//! leaves the previous snapshot or the new one, never a mix.
//!
//! Not in sled: a snapshot is the whole tree (tens of MiB at a few hundred
//! thousand znodes), and writing it as one sled value held up the Raft
//! log's small metadata writes (vote, commit point) behind it.
//!
//! [`log_file`]: crate::storage::log_file

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::storage::log_file;

const NAME: &str = "snapshot";
const TEMP: &str = "snapshot.tmp";

/// One writer at a time: a snapshot built and one installed from the
/// leader would share the temporary file.
static WRITING: Mutex<()> = Mutex::new(());

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// Replaces the snapshot in `dir` with `value`, durably.
pub fn write<T: Serialize>(dir: &Path, value: &T) -> io::Result<()> {
    let (bytes, _) = log_file::encode_into(value, Vec::new()).map_err(invalid)?;
    let _one = WRITING.lock().unwrap_or_else(|p| p.into_inner());
    fs::create_dir_all(dir)?;
    let temp = dir.join(TEMP);
    let mut file = File::create(&temp)?;
    file.write_all(&bytes)?;
    file.sync_data()?;
    drop(file);
    fs::rename(&temp, dir.join(NAME))?;
    log_file::sync_dir(dir)
}

/// The snapshot in `dir`; `None` if none was written there.
pub fn read<T: DeserializeOwned>(dir: &Path) -> io::Result<Option<T>> {
    let path = dir.join(NAME);
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
        assert_eq!(read::<Vec<u32>>(dir.path()).unwrap(), None);
        write(dir.path(), &vec![1u32, 2, 3]).unwrap();
        write(dir.path(), &vec![4u32]).unwrap();
        assert_eq!(read::<Vec<u32>>(dir.path()).unwrap(), Some(vec![4]));
        assert!(!dir.path().join(TEMP).exists());
    }

    #[test]
    fn a_damaged_snapshot_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &vec![7u32; 100]).unwrap();
        let path = dir.path().join(NAME);
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&path, &bytes).unwrap();
        let err = read::<Vec<u32>>(dir.path()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("checksum"), "{err}");
        assert!(err.to_string().contains("snapshot"), "{err}");
    }
}
