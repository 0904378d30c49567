//! Record batch (magic v2) headers: framing, validation and the in-place
//! rewrites an append makes, without ever decoding the records.
//!
//! Layout of a v2 batch (all big-endian), offsets from the batch start:
//!
//! ```text
//!  0 baseOffset i64         12 partitionLeaderEpoch i32   21 attributes i16
//!  8 batchLength i32        16 magic i8                   23 lastOffsetDelta i32
//!                           17 crc u32 (CRC-32C of 21..end)
//! 27 baseTimestamp i64      35 maxTimestamp i64           43 producerId i64
//! 51 producerEpoch i16      53 baseSequence i32           57 recordCount i32
//! 61 records...
//! ```
//!
//! The CRC starts at `attributes`, so assigning offsets (bytes 0..8) and the
//! leader epoch (12..16) needs no new CRC; only LogAppendTime (attributes and
//! maxTimestamp) does, and then [`crc32c::crc32c_combine`] reuses the CRC of
//! the records computed during validation instead of a second pass.

use super::config::TimestampType;
use super::error::LogError;

pub use runnel_common::record_batch::*;

/// The timestamp type a batch's attributes declare.
pub fn timestamp_type(header: &BatchHeader) -> TimestampType {
    if header.log_append_time() {
        TimestampType::LogAppendTime
    } else {
        TimestampType::CreateTime
    }
}

/// What the bytes at a position hold, for scanners that must tell a torn
/// tail (stop, it is just not written yet) from garbage (stop and cut).
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A whole batch of this header is present (CRC not yet checked).
    Complete(BatchHeader),
    /// Fewer bytes than the header or the declared size are present.
    Incomplete,
    /// The framing itself is impossible (length below the minimum, magic
    /// not 0..=2); the message says why.
    Corrupt(String),
}

/// Frames the batch starting at `buf[0]`, checking the length and magic
/// fields the way Kafka's log input streams do before trusting the size.
/// `Complete` needs the whole batch in `buf`.
pub fn frame(buf: &[u8]) -> Frame {
    match frame_header(buf) {
        Frame::Complete(h) if buf.len() < h.size() => Frame::Incomplete,
        other => other,
    }
}

/// Like [`frame`], but `Complete` only needs the [`HEADER_SIZE`] header
/// bytes: for scanners that skip from header to header.
pub fn frame_header(buf: &[u8]) -> Frame {
    if buf.len() < LOG_OVERHEAD {
        return Frame::Incomplete;
    }
    let mut length = [0u8; 4];
    length.copy_from_slice(&buf[LENGTH_OFFSET..LENGTH_OFFSET + 4]);
    let length = i32::from_be_bytes(length);
    if length < MIN_RECORD_OVERHEAD {
        return Frame::Corrupt(format!(
            "record size {length} is less than the minimum record overhead ({MIN_RECORD_OVERHEAD})"
        ));
    }
    if buf.len() <= MAGIC_OFFSET {
        return Frame::Incomplete;
    }
    let magic = buf[MAGIC_OFFSET] as i8;
    if !(0..=MAGIC_V2).contains(&magic) {
        return Frame::Corrupt(format!("invalid magic found in record: {magic}"));
    }
    let size = length as usize + LOG_OVERHEAD;
    if magic == MAGIC_V2 && size < HEADER_SIZE {
        return Frame::Corrupt(format!(
            "record batch size {size} is smaller than the minimum allowed overhead {HEADER_SIZE}"
        ));
    }
    match BatchHeader::parse(buf) {
        Some(h) => Frame::Complete(h),
        None => Frame::Incomplete,
    }
}

/// Whether the stored CRC matches bytes `attributes..end` of `batch`
/// (`batch` is exactly one batch).
pub fn crc_is_valid(batch: &[u8], header: &BatchHeader) -> bool {
    batch.len() >= HEADER_SIZE && crc32c::crc32c(&batch[ATTRIBUTES_OFFSET..]) == header.crc
}

/// One validated batch of an append: where it is in the input and the CRC
/// of its records (for a cheap CRC recompute under LogAppendTime).
#[derive(Clone, Copy, Debug)]
pub struct ValidBatch {
    /// Start of the batch in the record set.
    pub position: usize,
    /// Its header as received.
    pub header: BatchHeader,
    /// CRC-32C of bytes `HEADER_SIZE..end`, computed only when the caller
    /// will rewrite the CRC-covered part of the header.
    pub records_crc: Option<u32>,
}

/// Who is appending, which decides how strict validation is (Kafka's
/// `AppendOrigin`): clients get every produce rule, replicas only framing,
/// CRC and offset order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A producer's request, on the leader.
    Client,
    /// Batches copied from the leader, offsets already assigned.
    Replication,
}

/// Validates every batch of a produce record set without decoding records.
///
/// Rules, in Kafka's order: framing (length, magic 0..=2 else
/// CORRUPT_MESSAGE), magic 2 only (INVALID_RECORD, as Produce v3+),
/// size <= `max_message_bytes` (MESSAGE_TOO_LARGE; not for replication),
/// CRC (CORRUPT_MESSAGE), then for clients: base offset 0, record count equal
/// to `lastOffsetDelta + 1`, no control batches, a sequence when there is a
/// producer id, a known compression codec (INVALID_RECORD). Trailing bytes
/// that are not a whole batch are CORRUPT_MESSAGE; an empty set is
/// INVALID_RECORD (Kafka: "must have at least one record batch").
///
/// `need_records_crc` asks for [`ValidBatch::records_crc`] (LogAppendTime).
pub fn validate_batches(
    records: &[u8],
    max_message_bytes: usize,
    origin: Origin,
    need_records_crc: bool,
) -> Result<Vec<ValidBatch>, LogError> {
    let mut out = Vec::with_capacity(1);
    let mut pos = 0;
    while pos < records.len() {
        let rest = &records[pos..];
        let header = match frame(rest) {
            Frame::Complete(h) => h,
            Frame::Corrupt(why) => return Err(LogError::CorruptRecord(why)),
            Frame::Incomplete => {
                // Magic can be read before the batch is complete; an old
                // format is INVALID_RECORD whether or not it is whole.
                if rest.len() > MAGIC_OFFSET && rest[MAGIC_OFFSET] as i8 != MAGIC_V2 {
                    return Err(magic_error(rest[MAGIC_OFFSET] as i8));
                }
                return Err(LogError::CorruptRecord(format!(
                    "{} trailing bytes at position {pos} are not a whole record batch",
                    rest.len()
                )));
            }
        };
        if header.magic != MAGIC_V2 {
            return Err(magic_error(header.magic));
        }
        let size = header.size();
        if origin == Origin::Client && size > max_message_bytes {
            return Err(LogError::RecordTooLarge {
                size,
                max: max_message_bytes,
            });
        }
        let batch = &rest[..size];
        let records_crc = if need_records_crc {
            let records_crc = crc32c::crc32c(&batch[HEADER_SIZE..]);
            let head = crc32c::crc32c(&batch[ATTRIBUTES_OFFSET..HEADER_SIZE]);
            let whole = crc32c::crc32c_combine(head, records_crc, size - HEADER_SIZE);
            if whole != header.crc {
                return Err(crc_error(&header, whole));
            }
            Some(records_crc)
        } else {
            let whole = crc32c::crc32c(&batch[ATTRIBUTES_OFFSET..]);
            if whole != header.crc {
                return Err(crc_error(&header, whole));
            }
            None
        };
        if header.last_offset_delta < 0 {
            return Err(LogError::InvalidRecord(format!(
                "batch has an invalid offset range: last offset delta {}",
                header.last_offset_delta
            )));
        }
        if header.compression() > 4 {
            return Err(LogError::InvalidRecord(format!(
                "unknown compression type id {}",
                header.compression()
            )));
        }
        if origin == Origin::Client {
            check_client_rules(&header)?;
        }
        out.push(ValidBatch {
            position: pos,
            header,
            records_crc,
        });
        pos += size;
    }
    if out.is_empty() {
        return Err(LogError::InvalidRecord(
            "produce request must have at least one record batch".into(),
        ));
    }
    Ok(out)
}

fn check_client_rules(h: &BatchHeader) -> Result<(), LogError> {
    if h.base_offset != 0 {
        return Err(LogError::InvalidRecord(format!(
            "the base offset of a record batch from a client must be 0, not {}",
            h.base_offset
        )));
    }
    if i64::from(h.records_count) != i64::from(h.last_offset_delta) + 1 {
        return Err(LogError::InvalidRecord(format!(
            "inner record count {} does not match the count of offsets in the batch {}",
            h.records_count,
            i64::from(h.last_offset_delta) + 1
        )));
    }
    if h.is_control() {
        return Err(LogError::InvalidRecord(
            "clients are not allowed to write control records".into(),
        ));
    }
    if h.producer_id >= 0 && h.base_sequence < 0 {
        return Err(LogError::InvalidRecord(format!(
            "invalid sequence number {} in record batch with producer id {}",
            h.base_sequence, h.producer_id
        )));
    }
    Ok(())
}

fn magic_error(magic: i8) -> LogError {
    LogError::InvalidRecord(format!(
        "produce requests are only allowed to contain record batches with magic version 2, not {magic}"
    ))
}

fn crc_error(h: &BatchHeader, computed: u32) -> LogError {
    LogError::CorruptRecord(format!(
        "record is corrupt (stored crc = {}, computed crc = {computed})",
        h.crc
    ))
}

/// The header a leader writes for `batch`: offsets assigned from
/// `base_offset`, its leader epoch, and under LogAppendTime the timestamp
/// type bit and `maxTimestamp = now` with a new CRC (Kafka sets only
/// maxTimestamp: readers take every record's time from it under
/// LogAppendTime). Under CreateTime a batch that claims LogAppendTime has the
/// bit cleared, as Kafka's `setMaxTimestamp(CREATE_TIME, ..)` does.
pub fn leader_header(
    input: &[u8],
    batch: &ValidBatch,
    base_offset: i64,
    leader_epoch: i32,
    timestamp_type: TimestampType,
    now_ms: i64,
) -> [u8; HEADER_SIZE] {
    let mut h = [0u8; HEADER_SIZE];
    h.copy_from_slice(&input[batch.position..batch.position + HEADER_SIZE]);
    h[0..8].copy_from_slice(&base_offset.to_be_bytes());
    h[PARTITION_LEADER_EPOCH_OFFSET..PARTITION_LEADER_EPOCH_OFFSET + 4]
        .copy_from_slice(&leader_epoch.to_be_bytes());
    let (attributes, max_ts) = match timestamp_type {
        TimestampType::LogAppendTime => (batch.header.attributes | TIMESTAMP_TYPE_FLAG, now_ms),
        TimestampType::CreateTime => (
            batch.header.attributes & !TIMESTAMP_TYPE_FLAG,
            batch.header.max_timestamp,
        ),
    };
    if attributes != batch.header.attributes || max_ts != batch.header.max_timestamp {
        h[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attributes.to_be_bytes());
        h[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8].copy_from_slice(&max_ts.to_be_bytes());
        let size = batch.header.size();
        let records_crc = match batch.records_crc {
            Some(c) => c,
            None => crc32c::crc32c(&input[batch.position + HEADER_SIZE..batch.position + size]),
        };
        let head = crc32c::crc32c(&h[ATTRIBUTES_OFFSET..]);
        let crc = crc32c::crc32c_combine(head, records_crc, size - HEADER_SIZE);
        h[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    }
    h
}

/// Reads a zig-zag varint (Kafka's varint/varlong) at `*pos`.
pub(crate) fn read_varlong(buf: &[u8], pos: &mut usize) -> Option<i64> {
    let mut value: u64 = 0;
    let mut shift = 0;
    loop {
        let b = *buf.get(*pos)?;
        *pos += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    Some(((value >> 1) as i64) ^ -((value & 1) as i64))
}

/// The (offset, timestamp) of every record of an uncompressed batch, for
/// ListOffsets by timestamp (not a hot path). `None` for a compressed batch
/// (the log has no codecs; callers fall back to batch granularity) or a
/// record section that does not parse.
pub fn record_timestamps(batch: &[u8], header: &BatchHeader) -> Option<Vec<(i64, i64)>> {
    if header.compression() != 0 {
        return None;
    }
    let log_append = header.log_append_time();
    let mut out = Vec::with_capacity(header.records_count.max(0) as usize);
    let mut pos = HEADER_SIZE;
    for _ in 0..header.records_count.max(0) {
        let len = read_varlong(batch, &mut pos)?;
        let start = pos;
        pos += 1; // record attributes
        let ts_delta = read_varlong(batch, &mut pos)?;
        let offset_delta = read_varlong(batch, &mut pos)?;
        let ts = if log_append {
            header.max_timestamp
        } else {
            header.base_timestamp.wrapping_add(ts_delta)
        };
        out.push((header.base_offset + offset_delta, ts));
        pos = start.checked_add(usize::try_from(len).ok()?)?;
        if pos > batch.len() {
            return None;
        }
    }
    Some(out)
}

/// Builds v2 batches for tests (here and in other modules' tests).
#[cfg(test)]
pub(crate) mod testing {
    use bytes::Bytes;

    use super::*;

    fn put_varlong(out: &mut Vec<u8>, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        loop {
            if z < 0x80 {
                out.push(z as u8);
                return;
            }
            out.push((z as u8 & 0x7f) | 0x80);
            z >>= 7;
        }
    }

    /// An uncompressed batch of `values` (null keys) with timestamps
    /// `first_ts + i`, base offset `base_offset`, correct CRC.
    pub fn batch_with(base_offset: i64, first_ts: i64, values: &[&[u8]]) -> Vec<u8> {
        let mut recs = Vec::new();
        for (i, v) in values.iter().enumerate() {
            let mut r = Vec::new();
            r.push(0u8); // attributes
            put_varlong(&mut r, i as i64); // timestamp delta
            put_varlong(&mut r, i as i64); // offset delta
            put_varlong(&mut r, -1); // null key
            put_varlong(&mut r, v.len() as i64);
            r.extend_from_slice(v);
            put_varlong(&mut r, 0); // headers
            put_varlong(&mut recs, r.len() as i64);
            recs.extend_from_slice(&r);
        }
        let n = values.len() as i32;
        let mut b = Vec::with_capacity(HEADER_SIZE + recs.len());
        b.extend_from_slice(&base_offset.to_be_bytes());
        b.extend_from_slice(&((HEADER_SIZE - LOG_OVERHEAD + recs.len()) as i32).to_be_bytes());
        b.extend_from_slice(&(-1i32).to_be_bytes()); // leader epoch
        b.push(MAGIC_V2 as u8);
        b.extend_from_slice(&[0; 4]); // crc, below
        b.extend_from_slice(&0i16.to_be_bytes()); // attributes
        b.extend_from_slice(&(n - 1).to_be_bytes());
        b.extend_from_slice(&first_ts.to_be_bytes());
        b.extend_from_slice(&(first_ts + i64::from(n) - 1).to_be_bytes());
        b.extend_from_slice(&(-1i64).to_be_bytes()); // producer id
        b.extend_from_slice(&(-1i16).to_be_bytes());
        b.extend_from_slice(&(-1i32).to_be_bytes());
        b.extend_from_slice(&n.to_be_bytes());
        b.extend_from_slice(&recs);
        fix_crc(&mut b);
        b
    }

    /// A client batch (base offset 0) of `n` records of `value_len` bytes.
    pub fn batch(n: usize, value_len: usize, first_ts: i64) -> Bytes {
        let value = vec![b'x'; value_len];
        let values: Vec<&[u8]> = (0..n).map(|_| value.as_slice()).collect();
        Bytes::from(batch_with(0, first_ts, &values))
    }

    /// Recomputes the CRC after a test edits the header.
    pub fn fix_crc(b: &mut [u8]) {
        let crc = crc32c::crc32c(&b[ATTRIBUTES_OFFSET..]);
        b[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    }

    /// One v2 batch of keyed records (`None`: null key / null value)
    /// encoded by kafka-protocol as a client would: offsets from
    /// `base_offset`, timestamps `first_ts + 10 * i`, sequences from
    /// `base_sequence` (-1 with no producer), leader epoch 0.
    pub fn keyed_batch(
        base_offset: i64,
        producer_id: i64,
        base_sequence: i32,
        first_ts: i64,
        records: &[(Option<&str>, Option<&str>)],
        compression: kafka_protocol::records::Compression,
    ) -> Bytes {
        use kafka_protocol::records::{
            Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
        };
        let bytes = |s: Option<&str>| s.map(|s| Bytes::copy_from_slice(s.as_bytes()));
        let recs: Vec<Record> = records
            .iter()
            .enumerate()
            .map(|(i, (k, v))| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id,
                producer_epoch: if producer_id < 0 { -1 } else { 0 },
                timestamp_type: TimestampType::Creation,
                offset: base_offset + i as i64,
                // Offset minus sequence is the same for every record, so
                // the encoder makes one batch.
                sequence: base_sequence + i as i32,
                timestamp: first_ts + 10 * i as i64,
                key: bytes(*k),
                value: bytes(*v),
                headers: Default::default(),
            })
            .collect();
        let mut buf = bytes::BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression,
        };
        RecordBatchEncoder::encode(&mut buf, &recs, &options).expect("encodable test batch");
        buf.freeze()
    }

    /// Splits a record set into its batches' headers.
    pub fn headers(mut buf: &[u8]) -> Vec<BatchHeader> {
        let mut out = Vec::new();
        while let Frame::Complete(h) = frame(buf) {
            out.push(h);
            buf = &buf[h.size()..];
        }
        assert!(buf.is_empty(), "record set ends with a partial batch");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    const MAX: usize = 1_048_588;

    #[test]
    fn good_batch_validates() {
        let b = batch(3, 10, 1000);
        let v = validate_batches(&b, MAX, Origin::Client, false).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].header.records_count, 3);
        assert_eq!(v[0].header.last_offset_delta, 2);
        assert_eq!(v[0].header.max_timestamp, 1002);
        assert_eq!(v[0].header.size(), b.len());
        assert!(crc_is_valid(&b, &v[0].header));
    }

    #[test]
    fn several_batches_validate() {
        let mut set = batch(1, 5, 1).to_vec();
        set.extend_from_slice(&batch(2, 5, 1));
        let v = validate_batches(&set, MAX, Origin::Client, true).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].position, v[0].header.size());
    }

    #[test]
    fn bad_crc_is_corrupt_message() {
        let mut b = batch(2, 10, 0).to_vec();
        let last = b.len() - 1;
        b[last] ^= 0x01;
        let e = validate_batches(&b, MAX, Origin::Client, false).unwrap_err();
        assert!(matches!(e, LogError::CorruptRecord(_)), "{e}");
        assert_eq!(e.error_code(), 2);
        let e = validate_batches(&b, MAX, Origin::Client, true).unwrap_err();
        assert!(matches!(e, LogError::CorruptRecord(_)), "{e}");
    }

    #[test]
    fn bad_magic() {
        let mut b = batch(1, 10, 0).to_vec();
        b[MAGIC_OFFSET] = 1;
        let e = validate_batches(&b, MAX, Origin::Client, false).unwrap_err();
        assert_eq!(e.error_code(), 87, "{e}");
        b[MAGIC_OFFSET] = 7;
        let e = validate_batches(&b, MAX, Origin::Client, false).unwrap_err();
        assert_eq!(e.error_code(), 2, "{e}");
    }

    #[test]
    fn truncated_and_empty() {
        let b = batch(2, 10, 0);
        for cut in [1, 11, 20, b.len() - 1] {
            let e = validate_batches(&b[..cut], MAX, Origin::Client, false).unwrap_err();
            assert_eq!(e.error_code(), 2, "cut at {cut}: {e}");
        }
        let e = validate_batches(&[], MAX, Origin::Client, false).unwrap_err();
        assert_eq!(e.error_code(), 87);
        let mut tiny = b.to_vec();
        tiny[LENGTH_OFFSET..LENGTH_OFFSET + 4].copy_from_slice(&3i32.to_be_bytes());
        let e = validate_batches(&tiny, MAX, Origin::Client, false).unwrap_err();
        assert_eq!(e.error_code(), 2);
    }

    #[test]
    fn oversized_is_message_too_large_for_clients_only() {
        let b = batch(1, 2000, 0);
        let e = validate_batches(&b, 1000, Origin::Client, false).unwrap_err();
        assert_eq!(e.error_code(), 10);
        let mut r = b.to_vec();
        r[0..8].copy_from_slice(&5i64.to_be_bytes());
        assert!(validate_batches(&r, 1000, Origin::Replication, false).is_ok());
    }

    #[test]
    fn client_rules() {
        let mut b = batch(2, 1, 0).to_vec();
        b[0..8].copy_from_slice(&7i64.to_be_bytes()); // not CRC-covered
        let e = validate_batches(&b, MAX, Origin::Client, false).unwrap_err();
        assert_eq!(e.error_code(), 87);

        let mut b = batch(2, 1, 0).to_vec();
        b[RECORDS_COUNT_OFFSET..RECORDS_COUNT_OFFSET + 4].copy_from_slice(&5i32.to_be_bytes());
        fix_crc(&mut b);
        let e = validate_batches(&b, MAX, Origin::Client, false).unwrap_err();
        assert_eq!(e.error_code(), 87);

        let mut b = batch(1, 1, 0).to_vec();
        b[ATTRIBUTES_OFFSET + 1] |= CONTROL_FLAG as u8;
        fix_crc(&mut b);
        let e = validate_batches(&b, MAX, Origin::Client, false).unwrap_err();
        assert_eq!(e.error_code(), 87);
    }

    #[test]
    fn leader_header_assigns_offsets_without_touching_crc() {
        let b = batch(3, 4, 100);
        let v = validate_batches(&b, MAX, Origin::Client, false).unwrap();
        let h = leader_header(&b, &v[0], 42, 7, TimestampType::CreateTime, 999);
        assert_eq!(
            &h[CRC_OFFSET..ATTRIBUTES_OFFSET],
            &b[CRC_OFFSET..ATTRIBUTES_OFFSET]
        );
        let mut out = h.to_vec();
        out.extend_from_slice(&b[HEADER_SIZE..]);
        let hdr = BatchHeader::parse(&out).unwrap();
        assert_eq!(hdr.base_offset, 42);
        assert_eq!(hdr.last_offset(), 44);
        assert_eq!(hdr.partition_leader_epoch, 7);
        assert!(crc_is_valid(&out, &hdr));
    }

    #[test]
    fn log_append_time_rewrites_timestamp_and_crc() {
        let b = batch(3, 4, 100);
        for need in [true, false] {
            let v = validate_batches(&b, MAX, Origin::Client, need).unwrap();
            let h = leader_header(&b, &v[0], 0, 1, TimestampType::LogAppendTime, 5555);
            let mut out = h.to_vec();
            out.extend_from_slice(&b[HEADER_SIZE..]);
            let hdr = BatchHeader::parse(&out).unwrap();
            assert_eq!(hdr.max_timestamp, 5555);
            assert_eq!(timestamp_type(&hdr), TimestampType::LogAppendTime);
            assert!(crc_is_valid(&out, &hdr));
            assert_eq!(
                record_timestamps(&out, &hdr).unwrap(),
                vec![(0, 5555), (1, 5555), (2, 5555)]
            );
        }
    }

    #[test]
    fn record_timestamps_of_uncompressed_batch() {
        let b = batch_with(10, 500, &[b"a", b"bb", b"ccc"]);
        let h = BatchHeader::parse(&b).unwrap();
        assert_eq!(
            record_timestamps(&b, &h).unwrap(),
            vec![(10, 500), (11, 501), (12, 502)]
        );
    }
}
