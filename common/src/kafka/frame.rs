//! Kafka framing, free of I/O: a 4-byte big-endian length, then a request
//! or response header, then the body.
//!
//! Kept apart from the socket (as mini-redis keeps `parse_frame` apart from
//! `read_frame`) so that "incomplete" and "broken" are told apart in one
//! place and unit-tested without a broker.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};

use super::error::{FrameError, KafkaError};

/// Largest response this client accepts. Kafka's consumer has no fixed cap;
/// this one only guards against a stream out of step (a length read from
/// the middle of a body), so it is generous: fetches ask for far less.
pub const MAX_RESPONSE_BYTES: usize = 1 << 30;

/// Encodes one request, length prefix included, ready to be written.
pub fn encode_request<R: Request>(
    request: &R,
    version: i16,
    correlation_id: i32,
    client_id: &StrBytes,
) -> Result<BytesMut, KafkaError> {
    let encode_err = |e: anyhow::Error| KafkaError::Encode {
        api: api_name(R::KEY),
        version,
        message: format!("{e:#}"),
    };
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(client_id.clone()));
    let header_version = R::header_version(version);
    let size = header
        .compute_size(header_version)
        .and_then(|h| Ok(h + request.compute_size(version)?))
        .map_err(encode_err)?;
    let len = i32::try_from(size)
        .map_err(|_| encode_err(anyhow::anyhow!("request of {size} bytes is too large")))?;
    let mut buf = BytesMut::with_capacity(4 + size);
    buf.put_i32(len);
    header
        .encode(&mut buf, header_version)
        .map_err(encode_err)?;
    request.encode(&mut buf, version).map_err(encode_err)?;
    Ok(buf)
}

/// Takes one whole frame (without its length prefix) off the front of
/// `buf`. `Ok(None)`: not all of it has arrived yet; nothing is consumed.
pub fn parse_frame(buf: &mut BytesMut, max: usize) -> Result<Option<Bytes>, FrameError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if len < 0 {
        return Err(FrameError::Negative(len));
    }
    let len = len as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    if buf.len() < 4 + len {
        // Make room once for the rest, rather than growing in small steps.
        buf.reserve(4 + len - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(len).freeze()))
}

/// Reads the correlation id of a response frame and leaves `frame` at the
/// start of the body. The header's shape depends on the request's API and
/// version (flexible versions add tagged fields; ApiVersions never does).
pub fn decode_response_header(frame: &mut Bytes, api: ApiKey, version: i16) -> Result<i32, String> {
    let header_version = api.response_header_version(version);
    ResponseHeader::decode(frame, header_version)
        .map(|h| h.correlation_id)
        .map_err(|e| format!("{e:#}"))
}

/// Decodes a response body of the request type `R`.
pub fn decode_response<R: Request>(
    mut body: Bytes,
    version: i16,
    addr: &str,
) -> Result<R::Response, KafkaError> {
    <R::Response as Decodable>::decode(&mut body, version).map_err(|e| KafkaError::Decode {
        addr: addr.to_string(),
        api: api_name(R::KEY),
        version,
        message: format!("{e:#}"),
    })
}

/// `Produce`, `Fetch`, …: for messages.
pub fn api_name(key: i16) -> String {
    match ApiKey::try_from(key) {
        Ok(api) => format!("{api:?}"),
        Err(()) => format!("api key {key}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::{ApiVersionsRequest, MetadataRequest};

    #[test]
    fn request_frame_has_length_and_v1_header() {
        let client = StrBytes::from_static_str("cli");
        let buf = encode_request(&MetadataRequest::default(), 4, 77, &client).unwrap();
        let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        assert_eq!(len, buf.len() - 4);
        // api key 3, version 4, correlation 77, client id "cli"
        assert_eq!(&buf[4..12], &[0, 3, 0, 4, 0, 0, 0, 77]);
        assert_eq!(&buf[12..17], &[0, 3, b'c', b'l', b'i']);
    }

    #[test]
    fn flexible_request_gets_header_v2() {
        let client = StrBytes::from_static_str("c");
        let buf = encode_request(&ApiVersionsRequest::default(), 3, 1, &client).unwrap();
        // header v2: key, version, correlation, client id (nullable string), tag count 0
        assert_eq!(&buf[4..15], &[0, 18, 0, 3, 0, 0, 0, 1, 0, 1, b'c']);
        assert_eq!(buf[15], 0);
    }

    #[test]
    fn parse_frame_waits_for_whole_frame() {
        let mut buf = BytesMut::new();
        assert_eq!(parse_frame(&mut buf, 100), Ok(None));
        buf.put_slice(&[0, 0, 0, 3, 1, 2]);
        assert_eq!(parse_frame(&mut buf, 100), Ok(None));
        assert_eq!(buf.len(), 6, "nothing consumed while incomplete");
        buf.put_slice(&[3, 0, 0]);
        assert_eq!(
            parse_frame(&mut buf, 100),
            Ok(Some(Bytes::from_static(&[1, 2, 3])))
        );
        assert_eq!(&buf[..], &[0, 0], "the next frame's start stays");
    }

    #[test]
    fn parse_frame_rejects_bad_lengths() {
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xfe][..]);
        assert_eq!(parse_frame(&mut buf, 100), Err(FrameError::Negative(-2)));
        let mut buf = BytesMut::from(&[0, 0, 1, 0][..]);
        assert_eq!(
            parse_frame(&mut buf, 100),
            Err(FrameError::TooLarge { len: 256, max: 100 })
        );
    }

    #[test]
    fn response_header_follows_api_version() {
        // Metadata v9+ is flexible: correlation id then a tag count.
        let mut flexible = Bytes::from_static(&[0, 0, 0, 9, 0, 0xaa]);
        assert_eq!(
            decode_response_header(&mut flexible, ApiKey::Metadata, 9),
            Ok(9)
        );
        assert_eq!(&flexible[..], &[0xaa]);
        // ApiVersions always answers with header v0, even for v3.
        let mut v0 = Bytes::from_static(&[0, 0, 0, 5, 0xbb]);
        assert_eq!(
            decode_response_header(&mut v0, ApiKey::ApiVersions, 3),
            Ok(5)
        );
        assert_eq!(&v0[..], &[0xbb]);
    }
}
