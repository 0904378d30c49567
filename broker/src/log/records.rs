//! The records inside a v2 batch, for the two places that must look at
//! keys: the log cleaner (the latest record per key survives) and produce to
//! a compacted topic (every record needs a key). Appends and fetches never
//! come here: they move batches as bytes.
//!
//! A record (all varints zig-zag encoded):
//!
//! ```text
//! length varint | attributes i8 | timestampDelta varlong | offsetDelta varint
//! | keyLength varint | key | valueLength varint | value | headers
//! ```
//!
//! Rebuilding a batch keeps the original header's base offset, last offset
//! delta, base sequence and producer, so every kept record keeps its offset
//! and the producer's sequence range reads as before (Kafka's cleaner does
//! the same); only the record count, length, timestamps and CRC change.

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::compression::{Compressor, Decompressor, Gzip, Lz4, Snappy, Zstd};
use kafka_protocol::protocol::buf::ByteBuf;

use super::batch::{
    read_varlong, BatchHeader, ATTRIBUTES_OFFSET, BASE_TIMESTAMP_OFFSET, COMPRESSION_MASK,
    CRC_OFFSET, HEADER_SIZE, LENGTH_OFFSET, LOG_OVERHEAD, MAX_TIMESTAMP_OFFSET,
    RECORDS_COUNT_OFFSET,
};
use super::error::LogError;

/// Attribute bit of a batch whose base timestamp is its delete horizon
/// (KIP-534): tombstones and transaction markers in it may go once the
/// cleaner runs after that time.
pub const DELETE_HORIZON_FLAG: i16 = 0x40;

/// One record of a batch, borrowed from its (decompressed) records section.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// Its offset.
    pub offset: i64,
    /// Its timestamp (the batch's max timestamp under LogAppendTime).
    pub timestamp: i64,
    /// Its key; `None` for a null key.
    pub key: Option<&'a [u8]>,
    /// Whether its value is null (a tombstone).
    pub tombstone: bool,
    attributes: u8,
    /// Everything from the offset delta to the end of the record.
    tail: &'a [u8],
}

/// The delete horizon of a batch (KIP-534), if it has one.
pub fn delete_horizon(header: &BatchHeader) -> Option<i64> {
    (header.attributes & DELETE_HORIZON_FLAG != 0).then_some(header.base_timestamp)
}

fn corrupt(header: &BatchHeader, what: impl std::fmt::Display) -> LogError {
    LogError::CorruptRecord(format!("batch at offset {}: {what}", header.base_offset))
}

fn all<B: ByteBuf>(b: &mut B) -> anyhow::Result<Bytes> {
    Ok(b.copy_to_bytes(b.remaining()))
}

/// The records section of `batch` (exactly one batch), decompressed;
/// borrowed as it is when the batch is not compressed.
pub fn section<'a>(batch: &'a [u8], header: &BatchHeader) -> Result<Cow<'a, [u8]>, LogError> {
    let mut raw = batch.get(HEADER_SIZE..).unwrap_or_default();
    let out = match header.compression() {
        0 => return Ok(Cow::Borrowed(raw)),
        1 => Gzip::decompress(&mut raw, all),
        2 => Snappy::decompress(&mut raw, all),
        3 => Lz4::decompress(&mut raw, all),
        4 => Zstd::decompress(&mut raw, all),
        c => return Err(corrupt(header, format!("unknown compression codec {c}"))),
    };
    out.map(|b| Cow::Owned(b.to_vec()))
        .map_err(|e| corrupt(header, format!("records do not decompress: {e:#}")))
}

/// The records of a batch, from its decompressed `section`.
pub fn parse<'a>(section: &'a [u8], header: &BatchHeader) -> Result<Vec<Record<'a>>, LogError> {
    let count = header.records_count.max(0) as usize;
    let mut out = Vec::with_capacity(count.min(section.len()));
    let mut pos = 0;
    for i in 0..count {
        let bad = |what: &str| corrupt(header, format!("record {i}: {what}"));
        let len = read_varlong(section, &mut pos).ok_or_else(|| bad("no length"))?;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| pos.checked_add(l))
            .filter(|e| *e <= section.len())
            .ok_or_else(|| bad("length past the end of the batch"))?;
        let rec = &section[pos..end];
        let attributes = *rec.first().ok_or_else(|| bad("empty record"))?;
        let mut p = 1;
        let ts_delta = read_varlong(rec, &mut p).ok_or_else(|| bad("no timestamp delta"))?;
        let tail = &rec[p..];
        let offset_delta = read_varlong(rec, &mut p).ok_or_else(|| bad("no offset delta"))?;
        let key_len = read_varlong(rec, &mut p).ok_or_else(|| bad("no key length"))?;
        let key = if key_len < 0 {
            None
        } else {
            let k = usize::try_from(key_len)
                .ok()
                .and_then(|l| rec.get(p..p.checked_add(l)?))
                .ok_or_else(|| bad("key past the end of the record"))?;
            p += k.len();
            Some(k)
        };
        let value_len = read_varlong(rec, &mut p).ok_or_else(|| bad("no value length"))?;
        let timestamp = if header.log_append_time() {
            header.max_timestamp
        } else {
            header.base_timestamp.wrapping_add(ts_delta)
        };
        out.push(Record {
            offset: header.base_offset + offset_delta,
            timestamp,
            key,
            tombstone: value_len < 0,
            attributes,
            tail,
        });
        pos = end;
    }
    Ok(out)
}

/// The offset of the first record without a key in `batch` (exactly one
/// batch), if any: produce to a compacted topic refuses such a batch.
pub fn first_keyless(batch: &[u8], header: &BatchHeader) -> Result<Option<i64>, LogError> {
    if header.is_control() {
        return Ok(None);
    }
    let section = section(batch, header)?;
    Ok(parse(&section, header)?
        .iter()
        .find(|r| r.key.is_none())
        .map(|r| r.offset))
}

fn put_varlong(out: &mut BytesMut, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.put_u8((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
    out.put_u8(z as u8);
}

fn varlong_len(v: i64) -> usize {
    let z = ((v << 1) ^ (v >> 63)) as u64;
    (64 - z.leading_zeros() as usize).max(1).div_ceil(7)
}

/// `original` (one whole batch, `header` its header) with only the records
/// `kept` (taken from it, in order). With `horizon`, the batch gets that
/// delete horizon: the base timestamp becomes the horizon and every record's
/// timestamp delta is re-based so record timestamps do not change. The codec
/// stays the batch's own.
pub fn rebuild(
    original: &[u8],
    header: &BatchHeader,
    kept: &[Record<'_>],
    horizon: Option<i64>,
) -> Result<Vec<u8>, LogError> {
    let base_timestamp = horizon.unwrap_or(header.base_timestamp);
    let mut raw = BytesMut::new();
    for r in kept {
        let delta = if header.log_append_time() {
            0
        } else {
            r.timestamp.wrapping_sub(base_timestamp)
        };
        let len = 1 + varlong_len(delta) + r.tail.len();
        put_varlong(&mut raw, len as i64);
        raw.put_u8(r.attributes);
        put_varlong(&mut raw, delta);
        raw.put_slice(r.tail);
    }
    let mut out = BytesMut::with_capacity(HEADER_SIZE + raw.len());
    out.put_slice(&original[..HEADER_SIZE]);
    let copy = |b: &mut BytesMut| -> anyhow::Result<()> {
        b.put_slice(&raw);
        Ok(())
    };
    let compressed = match header.compression() {
        0 => {
            out.put_slice(&raw);
            Ok(())
        }
        1 => Gzip::compress(&mut out, copy),
        2 => Snappy::compress(&mut out, copy),
        3 => Lz4::compress(&mut out, copy),
        4 => Zstd::compress(&mut out, copy),
        c => return Err(corrupt(header, format!("unknown compression codec {c}"))),
    };
    compressed.map_err(|e| corrupt(header, format!("records do not compress: {e:#}")))?;
    let length = i32::try_from(out.len() - LOG_OVERHEAD)
        .map_err(|_| corrupt(header, "rebuilt batch too large"))?;
    out[LENGTH_OFFSET..LENGTH_OFFSET + 4].copy_from_slice(&length.to_be_bytes());
    let mut attributes = header.attributes;
    if horizon.is_some() {
        attributes |= DELETE_HORIZON_FLAG;
    }
    debug_assert_eq!(
        attributes & COMPRESSION_MASK,
        header.attributes & COMPRESSION_MASK
    );
    out[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attributes.to_be_bytes());
    out[BASE_TIMESTAMP_OFFSET..BASE_TIMESTAMP_OFFSET + 8]
        .copy_from_slice(&base_timestamp.to_be_bytes());
    if !header.log_append_time() {
        if let Some(max) = kept.iter().map(|r| r.timestamp).max() {
            out[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8].copy_from_slice(&max.to_be_bytes());
        }
    }
    out[RECORDS_COUNT_OFFSET..RECORDS_COUNT_OFFSET + 4]
        .copy_from_slice(&(kept.len() as i32).to_be_bytes());
    let crc = crc32c::crc32c(&out[ATTRIBUTES_OFFSET..]);
    out[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(out.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::crc_is_valid;
    use crate::log::batch::testing::keyed_batch;
    use kafka_protocol::records::{Compression, RecordBatchDecoder};

    fn batch(compression: Compression, records: &[(Option<&str>, Option<&str>)]) -> Vec<u8> {
        keyed_batch(100, 7, 40, 1_000, records, compression).to_vec()
    }

    #[test]
    fn keeps_chosen_records_with_their_offsets_for_every_codec() {
        for codec in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let b = batch(
                codec,
                &[
                    (Some("a"), Some("1")),
                    (None, Some("x")),
                    (Some("c"), None),
                    (Some("d"), Some("4")),
                ],
            );
            let h = BatchHeader::parse(&b).unwrap();
            let sec = section(&b, &h).unwrap();
            let recs = parse(&sec, &h).unwrap();
            assert_eq!(recs.len(), 4);
            assert_eq!(recs[1].key, None);
            assert!(recs[2].tombstone);
            assert_eq!(first_keyless(&b, &h).unwrap(), Some(101));
            let kept = [recs[2], recs[3]];
            let out = rebuild(&b, &h, &kept, Some(9_999)).unwrap();
            let oh = BatchHeader::parse(&out).unwrap();
            assert!(crc_is_valid(&out, &oh), "{codec:?}");
            assert_eq!(oh.base_offset, 100);
            assert_eq!(oh.last_offset(), 103);
            assert_eq!(oh.base_sequence, 40);
            assert_eq!(oh.records_count, 2);
            assert_eq!(delete_horizon(&oh), Some(9_999));
            assert_eq!(oh.max_timestamp, 1_030);
            // A client's decoder reads the same records back.
            let set = RecordBatchDecoder::decode(&mut Bytes::from(out.clone())).unwrap();
            let got: Vec<(i64, i64, Option<Bytes>)> = set
                .records
                .iter()
                .map(|r| (r.offset, r.timestamp, r.key.clone()))
                .collect();
            assert_eq!(
                got,
                vec![
                    (102, 1_020, Some(Bytes::from("c"))),
                    (103, 1_030, Some(Bytes::from("d")))
                ],
                "{codec:?}"
            );
            assert_eq!(first_keyless(&out, &oh).unwrap(), None);
        }
    }

    #[test]
    fn an_emptied_batch_keeps_its_offsets_and_producer() {
        let b = batch(
            Compression::None,
            &[(Some("a"), Some("1")), (Some("b"), Some("2"))],
        );
        let h = BatchHeader::parse(&b).unwrap();
        let out = rebuild(&b, &h, &[], None).unwrap();
        let oh = BatchHeader::parse(&out).unwrap();
        assert_eq!(out.len(), HEADER_SIZE);
        assert!(crc_is_valid(&out, &oh));
        assert_eq!(
            (oh.base_offset, oh.last_offset(), oh.records_count),
            (100, 101, 0)
        );
        assert_eq!((oh.producer_id, oh.base_sequence), (7, 40));
    }
}
