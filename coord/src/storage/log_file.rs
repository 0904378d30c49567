//! What both log files share (the standalone [`TxnLog`] and an ensemble
//! member's Raft log): their names, `log.<16 hex digits>` as ZooKeeper's
//! `log.<zxid>` files, so they sort in the order they were started; and
//! their frame, `length u32 BE | crc32c u32 BE | payload`, the payload a
//! postcard value. A file is a run of frames; a crash during an append can
//! leave a torn last frame, which [`split`] reports instead of reading past
//! it.
//!
//! [`TxnLog`]: super::TxnLog

use std::fs::File;
use std::path::Path;

/// Bytes before a frame's payload.
pub const HEADER: usize = 8;

/// A payload longer than this is not one we wrote (a batch or a Raft entry
/// is at most a few MiB).
pub const MAX_PAYLOAD: usize = 1 << 30;

/// `log.<16 hex digits>` for `seq`.
pub fn file_name(seq: u64) -> String {
    format!("log.{seq:016x}")
}

/// The number in a log file's name, `None` for any other file.
pub fn parse_seq(name: &str) -> Option<u64> {
    u64::from_str_radix(name.strip_prefix("log.")?, 16).ok()
}

/// Makes a new or removed directory entry durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir).and_then(|d| d.sync_all())
}

/// Why a value could not be framed.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("cannot encode a log frame: {0}")]
    Encode(#[from] postcard::Error),
    #[error("a log frame of {0} bytes is larger than a frame may be")]
    TooLarge(usize),
}

/// Appends `value` as one frame to `out` and returns the frame's length.
pub fn encode_into<T: serde::Serialize + ?Sized>(
    value: &T,
    out: Vec<u8>,
) -> Result<(Vec<u8>, usize), FrameError> {
    let start = out.len();
    let mut out = out;
    out.extend_from_slice(&[0; HEADER]);
    let mut out = postcard::to_extend(value, out)?;
    let len = out.len() - start - HEADER;
    if len > MAX_PAYLOAD {
        return Err(FrameError::TooLarge(len));
    }
    let crc = crc32c::crc32c(&out[start + HEADER..]);
    out[start..start + 4].copy_from_slice(&(len as u32).to_be_bytes());
    out[start + 4..start + HEADER].copy_from_slice(&crc.to_be_bytes());
    Ok((out, HEADER + len))
}

/// The payload of the frame at the start of `bytes`, if it is whole and
/// its checksum matches; otherwise why not.
pub fn payload(bytes: &[u8]) -> Result<&[u8], String> {
    let Some(header) = bytes.get(..HEADER) else {
        return Err("torn header".into());
    };
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    if len == 0 || len > MAX_PAYLOAD {
        return Err(format!("frame length {len}"));
    }
    let Some(payload) = bytes.get(HEADER..HEADER + len) else {
        return Err("torn frame".into());
    };
    if crc32c::crc32c(payload) != crc {
        return Err("checksum mismatch".into());
    }
    Ok(payload)
}

/// What [`split`] found in a file's bytes.
#[derive(Debug)]
pub struct Frames<'a> {
    /// Each whole frame's offset and payload, in order.
    pub frames: Vec<(usize, &'a [u8])>,
    /// The length of the whole frames (where a torn tail starts).
    pub whole: usize,
    /// Why reading stopped early (`None`: the bytes end exactly after a
    /// frame).
    pub stopped: Option<String>,
}

/// Splits `bytes` into whole frames.
pub fn split(bytes: &[u8]) -> Frames<'_> {
    let mut frames = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match payload(&bytes[at..]) {
            Ok(p) => {
                frames.push((at, p));
                at += HEADER + p.len();
            }
            Err(reason) => {
                return Frames {
                    frames,
                    whole: at,
                    stopped: Some(reason),
                }
            }
        }
    }
    Frames {
        frames,
        whole: at,
        stopped: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_back_and_a_torn_or_damaged_tail_is_reported() {
        let (buf, first) = encode_into(&("a", 1u32), Vec::new()).unwrap();
        let (mut buf, second) = encode_into(&("bc", 2u32), buf).unwrap();
        assert_eq!(buf.len(), first + second);
        let Frames {
            frames,
            whole,
            stopped,
        } = split(&buf);
        assert_eq!((frames.len(), whole, stopped), (2, buf.len(), None));
        assert_eq!(frames[1].0, first);
        let decoded: (String, u32) = postcard::from_bytes(frames[1].1).unwrap();
        assert_eq!(decoded, ("bc".to_string(), 2));

        let torn = split(&buf[..buf.len() - 1]).stopped;
        assert_eq!(torn.as_deref(), Some("torn frame"));
        let last = buf.len() - 1;
        buf[last] ^= 1;
        let damaged = split(&buf);
        assert_eq!((damaged.frames.len(), damaged.whole), (1, first));
        assert_eq!(damaged.stopped.as_deref(), Some("checksum mismatch"));
    }
}
