//! Length-prefixed framing: every ZooKeeper packet is a 4-byte big-endian
//! length followed by that many bytes. Splitting frames out of a read buffer
//! is kept apart from socket I/O so it can be tested on byte slices.

use bytes::{Buf, Bytes, BytesMut};

/// ZooKeeper's default `jute.maxbuffer`: the largest packet either side accepts.
pub const MAX_PACKET: usize = 0xfffff;

/// Why the peer's bytes cannot be framed; the connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame length {0} is negative or above the {MAX_PACKET}-byte limit")]
    BadLength(i64),
}

/// Takes one whole frame off the front of `buf`.
///
/// `Ok(None)` means more bytes are needed; the buffer is left as it was.
pub fn take_frame(buf: &mut BytesMut, max: usize) -> Result<Option<Bytes>, FrameError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if len < 0 || len as usize > max {
        return Err(FrameError::BadLength(len.into()));
    }
    let len = len as usize;
    if buf.len() < 4 + len {
        buf.reserve(4 + len - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(len).freeze()))
}

/// Writes `body` into `out` as one frame.
pub fn put_frame(out: &mut BytesMut, body: &[u8]) {
    out.extend_from_slice(&(body.len() as i32).to_be_bytes());
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_frames_and_waits_for_more() {
        let mut buf = BytesMut::new();
        put_frame(&mut buf, b"abc");
        put_frame(&mut buf, b"defg");
        buf.truncate(buf.len() - 1);
        assert_eq!(
            take_frame(&mut buf, MAX_PACKET).unwrap().unwrap(),
            &b"abc"[..]
        );
        assert_eq!(take_frame(&mut buf, MAX_PACKET).unwrap(), None);
        buf.extend_from_slice(b"g");
        assert_eq!(
            take_frame(&mut buf, MAX_PACKET).unwrap().unwrap(),
            &b"defg"[..]
        );
        assert_eq!(take_frame(&mut buf, MAX_PACKET).unwrap(), None);
    }

    #[test]
    fn rejects_negative_and_huge_lengths() {
        let mut buf = BytesMut::from(&(-5i32).to_be_bytes()[..]);
        assert_eq!(
            take_frame(&mut buf, MAX_PACKET),
            Err(FrameError::BadLength(-5))
        );
        let mut buf = BytesMut::from(&0x100000i32.to_be_bytes()[..]);
        assert!(take_frame(&mut buf, MAX_PACKET).is_err());
    }
}
