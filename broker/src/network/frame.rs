//! Kafka framing without I/O: a 4-byte big-endian size, then the request.
//!
//! [`parse_frame`] takes bytes already read from a socket and says whether a
//! whole frame is there, not yet, or never will be (a size below 0 or above
//! `socket.request.max.bytes`: Kafka closes such a connection).
//! [`parse_request`] splits a frame into its header and body, choosing the
//! header version from the API key and version as Kafka does. The
//! controller's internal requests ([`crate::control`]) use header v1.

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::Decodable;

use crate::control::InternalKey;

/// Bytes of the size prefix.
pub const SIZE_LEN: usize = 4;

/// Why a connection must be closed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("negative frame size {0}")]
    NegativeSize(i32),
    #[error("frame size {size} is larger than socket.request.max.bytes ({max})")]
    TooLarge { size: i32, max: i32 },
    #[error("request header shorter than 4 bytes")]
    ShortHeader,
    #[error("unknown API key {0}")]
    UnknownApiKey(i16),
    #[error("unparsable request header for API key {key} version {version}: {reason}")]
    BadHeader {
        key: i16,
        version: i16,
        reason: String,
    },
}

/// Takes one whole frame (without its size prefix) off the front of `buf`.
///
/// `Ok(None)`: more bytes are needed; the buffer is left as it was (its
/// capacity is grown to hold the frame, so the next read can fill it).
pub fn parse_frame(buf: &mut BytesMut, max_size: i32) -> Result<Option<Bytes>, FrameError> {
    if buf.len() < SIZE_LEN {
        return Ok(None);
    }
    let size = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if size < 0 {
        return Err(FrameError::NegativeSize(size));
    }
    if size > max_size {
        return Err(FrameError::TooLarge {
            size,
            max: max_size,
        });
    }
    let total = SIZE_LEN + size as usize;
    if buf.len() < total {
        buf.reserve(total - buf.len());
        return Ok(None);
    }
    buf.advance(SIZE_LEN);
    Ok(Some(buf.split_to(size as usize).freeze()))
}

/// Which API a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// A Kafka API the `kafka-protocol` crate knows.
    Kafka(ApiKey),
    /// A controller ↔ broker request (Kafka's key numbers, our own bodies).
    Internal(InternalKey),
}

/// A request whose header has been decoded; the body is still raw.
#[derive(Debug, Clone)]
pub struct Request {
    pub api_key: Api,
    pub header: RequestHeader,
    pub body: Bytes,
    /// The client's address (set by the connection; group members report it).
    pub peer: Option<std::net::IpAddr>,
    /// The name of the listener it came in on (set by the connection).
    pub listener: std::sync::Arc<str>,
    /// Who sent it (`User:alice`; `User:ANONYMOUS` without SASL), set by
    /// the connection once authenticated.
    pub principal: std::sync::Arc<str>,
}

impl Request {
    pub fn version(&self) -> i16 {
        self.header.request_api_version
    }
}

/// Splits a frame into header and body. Only the API key must be known;
/// whether the version is supported is the dispatcher's business.
pub fn parse_request(mut frame: Bytes) -> Result<Request, FrameError> {
    if frame.len() < 4 {
        return Err(FrameError::ShortHeader);
    }
    let key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    if let Some(internal) = InternalKey::from_i16(key) {
        let header = RequestHeader::decode(&mut frame, 1).map_err(|e| FrameError::BadHeader {
            key,
            version,
            reason: e.to_string(),
        })?;
        return Ok(Request {
            api_key: Api::Internal(internal),
            header,
            body: frame,
            peer: None,
            listener: "".into(),
            principal: "User:ANONYMOUS".into(),
        });
    }
    let api_key = ApiKey::try_from(key).map_err(|_| FrameError::UnknownApiKey(key))?;
    let header_version = api_key.request_header_version(version);
    let mut rest = frame.clone();
    let header = match RequestHeader::decode(&mut rest, header_version) {
        Ok(h) => {
            frame = rest;
            h
        }
        // A client probing with an ApiVersions version newer than ours may
        // not use the flexible header; read it as v1 so it still gets the
        // UNSUPPORTED_VERSION answer it needs to retry.
        Err(_) if api_key == ApiKey::ApiVersions && header_version == 2 => {
            RequestHeader::decode(&mut frame, 1).map_err(|e| FrameError::BadHeader {
                key,
                version,
                reason: e.to_string(),
            })?
        }
        Err(e) => {
            return Err(FrameError::BadHeader {
                key,
                version,
                reason: e.to_string(),
            })
        }
    };
    Ok(Request {
        api_key: Api::Kafka(api_key),
        header,
        body: frame,
        peer: None,
        listener: "".into(),
        principal: "User:ANONYMOUS".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;
    use kafka_protocol::messages::ApiVersionsRequest;
    use kafka_protocol::protocol::{encode_request_header_into_buffer, Encodable, StrBytes};
    use proptest::prelude::*;

    fn framed(payload: &[u8]) -> BytesMut {
        let mut b = BytesMut::new();
        b.put_i32(payload.len() as i32);
        b.put_slice(payload);
        b
    }

    #[test]
    fn incomplete_then_complete() {
        let mut b = BytesMut::from(&[0u8, 0][..]);
        assert_eq!(parse_frame(&mut b, 100), Ok(None));
        let mut b = framed(b"hello");
        let tail = b.split_off(6);
        assert_eq!(parse_frame(&mut b, 100), Ok(None));
        assert_eq!(b.len(), 6, "an incomplete frame is not consumed");
        b.unsplit(tail);
        assert_eq!(
            parse_frame(&mut b, 100),
            Ok(Some(Bytes::from_static(b"hello")))
        );
        assert!(b.is_empty());
    }

    #[test]
    fn two_pipelined_frames() {
        let mut b = framed(b"one");
        b.unsplit(framed(b"two!"));
        assert_eq!(parse_frame(&mut b, 100).unwrap().unwrap(), &b"one"[..]);
        assert_eq!(parse_frame(&mut b, 100).unwrap().unwrap(), &b"two!"[..]);
        assert_eq!(parse_frame(&mut b, 100), Ok(None));
    }

    #[test]
    fn bad_sizes_are_errors() {
        let mut b = BytesMut::from(&(-1i32).to_be_bytes()[..]);
        assert_eq!(parse_frame(&mut b, 100), Err(FrameError::NegativeSize(-1)));
        let mut b = BytesMut::from(&101i32.to_be_bytes()[..]);
        assert_eq!(
            parse_frame(&mut b, 100),
            Err(FrameError::TooLarge {
                size: 101,
                max: 100
            })
        );
        let mut b = framed(&[0u8; 100]);
        assert!(parse_frame(&mut b, 100).unwrap().is_some());
    }

    #[test]
    fn header_round_trip_and_body_left() {
        let mut buf = BytesMut::new();
        let header = RequestHeader::default()
            .with_request_api_key(ApiKey::ApiVersions as i16)
            .with_request_api_version(3)
            .with_correlation_id(42)
            .with_client_id(Some(StrBytes::from_static_str("c")));
        encode_request_header_into_buffer(&mut buf, &header).unwrap();
        let body = ApiVersionsRequest::default();
        body.encode(&mut buf, 3).unwrap();
        let req = parse_request(buf.freeze()).unwrap();
        assert_eq!(req.api_key, Api::Kafka(ApiKey::ApiVersions));
        assert_eq!(req.header.correlation_id, 42);
        assert_eq!(req.header.client_id.as_deref(), Some("c"));
        assert!(!req.body.is_empty());
    }

    #[test]
    fn unknown_key_and_garbage() {
        assert_eq!(
            parse_request(Bytes::from_static(&[0x7f, 0x7f, 0, 0, 0, 0, 0, 1])).unwrap_err(),
            FrameError::UnknownApiKey(0x7f7f)
        );
        assert_eq!(
            parse_request(Bytes::from_static(&[0, 3])).unwrap_err(),
            FrameError::ShortHeader
        );
        // Metadata v1, correlation id, then a client id claiming 300 bytes.
        let err =
            parse_request(Bytes::from_static(&[0, 3, 0, 1, 0, 0, 0, 1, 1, 44, b'x'])).unwrap_err();
        assert!(matches!(err, FrameError::BadHeader { .. }), "{err:?}");
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut b = BytesMut::from(&data[..]);
            if let Ok(Some(frame)) = parse_frame(&mut b, 1 << 20) {
                let _ = parse_request(frame);
            }
            let _ = parse_request(Bytes::from(data));
        }

        #[test]
        fn frames_split_anywhere_reassemble(payload in proptest::collection::vec(any::<u8>(), 0..200), cut in 0usize..210) {
            let whole = framed(&payload);
            let cut = cut.min(whole.len());
            let mut b = BytesMut::from(&whole[..cut]);
            let first = parse_frame(&mut b, 1000).unwrap();
            if cut < whole.len() {
                prop_assert!(first.is_none());
                b.extend_from_slice(&whole[cut..]);
                prop_assert_eq!(parse_frame(&mut b, 1000).unwrap().unwrap(), Bytes::from(payload));
            } else {
                prop_assert_eq!(first.unwrap(), Bytes::from(payload));
            }
        }
    }
}
