//! Walking the batches of a segment file with positional reads through one
//! reusable buffer, so that a scan costs one read per chunk rather than one
//! per batch. Used by lookups (header only, small chunks) and by recovery
//! (whole batches for the CRC, large chunks).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::batch::{frame, frame_header, BatchHeader, Frame, HEADER_SIZE};
use super::error::LogError;

/// Chunk size for header-only scans (a little over `index.interval.bytes`).
pub const LOOKUP_CHUNK: usize = 16 * 1024;
/// Chunk size for recovery, which reads everything.
pub const RECOVERY_CHUNK: usize = 1024 * 1024;

/// What a scan found at a position.
pub enum Scanned<'a> {
    /// A batch: its header and, when the bytes were asked for, the whole batch.
    Batch {
        /// Position of the batch in the file.
        position: u64,
        /// Its header.
        header: BatchHeader,
        /// The whole batch (`Some` only for [`Scanner::next_batch`]).
        bytes: Option<&'a [u8]>,
    },
    /// The bytes at `position` are not a complete batch before `end`.
    Incomplete {
        /// Where the incomplete batch starts.
        position: u64,
    },
    /// The bytes at `position` cannot be a batch.
    Corrupt {
        /// Where the corruption starts.
        position: u64,
        /// Why.
        reason: String,
    },
    /// `end` was reached exactly.
    End,
}

/// A forward scan over `[position, end)` of a file.
pub struct Scanner<'f> {
    file: &'f File,
    path: &'f Path,
    position: u64,
    end: u64,
    chunk: usize,
    buf: Vec<u8>,
    buf_start: u64,
}

impl<'f> Scanner<'f> {
    /// Starts a scan at `position`, never reading at or past `end`.
    pub fn new(file: &'f File, path: &'f Path, position: u64, end: u64, chunk: usize) -> Self {
        Scanner {
            file,
            path,
            position,
            end,
            chunk,
            buf: Vec::new(),
            buf_start: position,
        }
    }

    /// Makes `[pos, pos + need)` (clipped to `end`) available in the buffer
    /// and returns the buffered bytes from `pos`.
    fn fill(&mut self, pos: u64, need: usize) -> Result<&[u8], LogError> {
        let want_end = (pos + need as u64).min(self.end);
        let buf_end = self.buf_start + self.buf.len() as u64;
        if pos < self.buf_start || want_end > buf_end {
            let len = (need.max(self.chunk) as u64).min(self.end.saturating_sub(pos)) as usize;
            self.buf.resize(len, 0);
            let got = read_fully_at(self.file, &mut self.buf, pos)
                .map_err(|e| LogError::io(self.path, e))?;
            self.buf.truncate(got);
            self.buf_start = pos;
        }
        let from = (pos - self.buf_start) as usize;
        Ok(&self.buf[from.min(self.buf.len())..])
    }

    /// The next batch's header, skipping its body without reading it.
    pub fn next_header(&mut self) -> Result<Scanned<'_>, LogError> {
        self.next(false)
    }

    /// The next batch with its bytes (for CRC checks).
    pub fn next_batch(&mut self) -> Result<Scanned<'_>, LogError> {
        self.next(true)
    }

    fn next(&mut self, whole: bool) -> Result<Scanned<'_>, LogError> {
        let position = self.position;
        if position >= self.end {
            return Ok(Scanned::End);
        }
        let end = self.end;
        let avail = self.fill(position, HEADER_SIZE)?;
        let header = match frame_header(avail) {
            Frame::Complete(h) => h,
            Frame::Incomplete => return Ok(Scanned::Incomplete { position }),
            Frame::Corrupt(reason) => return Ok(Scanned::Corrupt { position, reason }),
        };
        let size = header.size();
        if position + size as u64 > end {
            return Ok(Scanned::Incomplete { position });
        }
        self.position = position + size as u64;
        if !whole {
            return Ok(Scanned::Batch {
                position,
                header,
                bytes: None,
            });
        }
        let avail = self.fill(position, size)?;
        match frame(avail) {
            Frame::Complete(_) => Ok(Scanned::Batch {
                position,
                header,
                bytes: Some(&avail[..size]),
            }),
            // The file shrank between the two reads (a concurrent truncation).
            _ => Ok(Scanned::Incomplete { position }),
        }
    }
}

/// Reads `len` bytes from `pos` onto the end of `buf` (fewer only where the
/// file ends), straight into its spare capacity: a fetch's record bytes are
/// not zeroed first only to be overwritten (zeroing every byte served was
/// 5 % of a broker's CPU under a TLS consume load). Returns how many were
/// read.
pub fn read_appending_at(
    file: &File,
    buf: &mut bytes::BytesMut,
    len: usize,
    pos: u64,
) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    buf.reserve(len);
    let start = buf.len();
    let mut done = 0;
    while done < len {
        let at = libc::off_t::try_from(pos + done as u64)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file position too large"))?;
        let spare = buf.spare_capacity_mut();
        // SAFETY: `spare` starts at the buffer's end and holds at least
        // `len - done` bytes (reserved above; the length only grows by what
        // was read); pread writes at most that many there and says how many.
        let n = unsafe { libc::pread(file.as_raw_fd(), spare.as_mut_ptr().cast(), len - done, at) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            break;
        }
        done += n as usize;
        // SAFETY: the first `done` bytes after `start` were written by pread.
        unsafe { buf.set_len(start + done) };
    }
    Ok(done)
}

/// Reads into `buf` from `pos` until it is full or the file ends; returns
/// how many bytes were read (short only at end of file).
pub fn read_fully_at(file: &File, buf: &mut [u8], pos: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], pos + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_appending_at_appends_what_the_file_has() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let content: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let file = File::open(&path).unwrap();
        let mut buf = bytes::BytesMut::from(&b"head"[..]);
        assert_eq!(read_appending_at(&file, &mut buf, 1000, 20).unwrap(), 1000);
        assert_eq!(&buf[..4], b"head");
        assert_eq!(&buf[4..], &content[20..1020]);
        // Past the end: only what is there.
        let mut tail = bytes::BytesMut::new();
        assert_eq!(
            read_appending_at(&file, &mut tail, 5000, 9000).unwrap(),
            1000
        );
        assert_eq!(&tail[..], &content[9000..]);
        let mut none = bytes::BytesMut::new();
        assert_eq!(read_appending_at(&file, &mut none, 10, 20_000).unwrap(), 0);
        assert!(none.is_empty());
    }
}
