//! Kafka v2 record batches: a writer for producers and a reader for
//! consumers.
//!
//! Our own code rather than kafka-protocol's `RecordBatchEncoder`, because
//! the producer appends records one at a time into a growing buffer (no
//! `Record` struct with an `IndexMap` per record) and the perf tool must
//! keep up with millions of records a second. The reader walks batch
//! headers without touching records, so a consumer that only counts (the
//! perf tool) never decompresses or decodes; the console consumer asks for
//! the records. Codecs come from kafka-protocol's `compression` module.
//!
//! Layout (all big-endian; "varint" is zig-zag):
//!
//! ```text
//! baseOffset i64 | batchLength i32 | partitionLeaderEpoch i32 | magic i8 (2)
//! crc u32 (CRC-32C of everything after it) | attributes i16 | lastOffsetDelta i32
//! baseTimestamp i64 | maxTimestamp i64 | producerId i64 | producerEpoch i16
//! baseSequence i32 | recordCount i32 | records...
//! record: length varint | attributes i8 | timestampDelta varlong | offsetDelta varint
//!         keyLength varint | key | valueLength varint | value
//!         headerCount varint | (keyLength varint | key | valueLength varint | value)*
//! ```

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::compression::{Compressor, Decompressor, Gzip, Lz4, Snappy, Zstd};

use super::error::BatchError;

pub use crate::record_batch::HEADER_SIZE as BATCH_HEADER_LEN;
use crate::record_batch::{ATTRIBUTES_OFFSET, COMPRESSION_MASK, CRC_OFFSET, LOG_OVERHEAD};

/// A batch's compression codec (attributes bits 0–2), by Kafka's numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    None = 0,
    Gzip = 1,
    Snappy = 2,
    Lz4 = 3,
    Zstd = 4,
}

impl Codec {
    fn from_attributes(attributes: i16) -> Result<Codec, BatchError> {
        Ok(match attributes & COMPRESSION_MASK {
            0 => Codec::None,
            1 => Codec::Gzip,
            2 => Codec::Snappy,
            3 => Codec::Lz4,
            4 => Codec::Zstd,
            other => return Err(BatchError::UnknownCodec(other)),
        })
    }

    /// Kafka's `compression.type` name.
    pub fn name(self) -> &'static str {
        match self {
            Codec::None => "none",
            Codec::Gzip => "gzip",
            Codec::Snappy => "snappy",
            Codec::Lz4 => "lz4",
            Codec::Zstd => "zstd",
        }
    }

    /// Parses a `compression.type` value.
    pub fn parse(name: &str) -> Option<Codec> {
        Some(match name {
            "none" | "" => Codec::None,
            "gzip" => Codec::Gzip,
            "snappy" => Codec::Snappy,
            "lz4" => Codec::Lz4,
            "zstd" => Codec::Zstd,
            _ => return None,
        })
    }

    fn compress(self, plain: &[u8], out: &mut BytesMut) -> Result<(), BatchError> {
        let fill = |tmp: &mut BytesMut| -> anyhow::Result<()> {
            tmp.put_slice(plain);
            Ok(())
        };
        let res = match self {
            Codec::None => {
                out.put_slice(plain);
                Ok(())
            }
            Codec::Gzip => Gzip::compress(out, fill),
            Codec::Snappy => Snappy::compress(out, fill),
            Codec::Lz4 => Lz4::compress(out, fill),
            Codec::Zstd => Zstd::compress(out, fill),
        };
        res.map_err(|e| BatchError::Codec {
            codec: self.name(),
            message: format!("{e:#}"),
        })
    }

    fn decompress(self, mut data: Bytes) -> Result<Bytes, BatchError> {
        let take = |b: &mut Bytes| -> anyhow::Result<Bytes> { Ok(b.split_off(0)) };
        let res = match self {
            Codec::None => return Ok(data),
            Codec::Gzip => Gzip::decompress(&mut data, take),
            Codec::Snappy => Snappy::decompress(&mut data, take),
            Codec::Lz4 => Lz4::decompress(&mut data, take),
            Codec::Zstd => Zstd::decompress(&mut data, take),
        };
        res.map_err(|e| BatchError::Codec {
            codec: self.name(),
            message: format!("{e:#}"),
        })
    }
}

/// Builds one v2 batch, record by record.
///
/// Offsets are relative (the broker assigns the base offset); the producer
/// fields say "not idempotent" (-1), as a plain Kafka producer sends them,
/// unless [`BatchBuilder::producer`] sets them.
#[derive(Debug)]
pub struct BatchBuilder {
    codec: Codec,
    records: BytesMut,
    count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    /// Transactional and control bits (see [`crate::record_batch`]).
    flags: i16,
}

impl BatchBuilder {
    pub fn new(codec: Codec) -> Self {
        Self::with_capacity(codec, 0)
    }

    /// `capacity`: the record bytes expected, so the buffer grows once.
    pub fn with_capacity(codec: Codec, capacity: usize) -> Self {
        BatchBuilder {
            codec,
            records: BytesMut::with_capacity(capacity),
            count: 0,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            flags: 0,
        }
    }

    /// Marks the batch as written by an idempotent producer: its id, epoch
    /// and the sequence number of the first record.
    pub fn producer(mut self, id: i64, epoch: i16, base_sequence: i32) -> Self {
        self.producer_id = id;
        self.producer_epoch = epoch;
        self.base_sequence = base_sequence;
        self
    }

    /// Marks the batch as part of a transaction.
    pub fn transactional(mut self) -> Self {
        self.flags |= crate::record_batch::TRANSACTIONAL_FLAG;
        self
    }

    /// Marks the batch as a control batch (transaction markers; brokers only).
    pub fn control(mut self) -> Self {
        self.flags |= crate::record_batch::CONTROL_FLAG;
        self
    }

    /// Records appended so far.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes the batch has now, before compression (what `batch.size`
    /// limits, as in Kafka's producer).
    pub fn size_in_bytes(&self) -> usize {
        BATCH_HEADER_LEN + self.records.len()
    }

    /// Appends a record with a creation timestamp in milliseconds.
    pub fn push(
        &mut self,
        timestamp_ms: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
    ) {
        if self.count == 0 {
            self.base_timestamp = timestamp_ms;
            self.max_timestamp = timestamp_ms;
        }
        self.max_timestamp = self.max_timestamp.max(timestamp_ms);
        let ts_delta = timestamp_ms - self.base_timestamp;
        let offset_delta = self.count as i64;
        let bytes_len = |b: Option<&[u8]>| b.map_or(-1, |b| b.len() as i64);
        let bytes_size = |b: Option<&[u8]>| varint_size(bytes_len(b)) + b.map_or(0, <[u8]>::len);
        let mut body = 1 + varint_size(ts_delta) + varint_size(offset_delta);
        body += bytes_size(key) + bytes_size(value) + varint_size(headers.len() as i64);
        for (k, v) in headers {
            body += bytes_size(Some(k.as_bytes())) + bytes_size(*v);
        }
        let buf = &mut self.records;
        buf.reserve(body + 5);
        put_varint(buf, body as i64);
        buf.put_i8(0);
        put_varint(buf, ts_delta);
        put_varint(buf, offset_delta);
        put_bytes(buf, key);
        put_bytes(buf, value);
        put_varint(buf, headers.len() as i64);
        for (k, v) in headers {
            put_bytes(buf, Some(k.as_bytes()));
            put_bytes(buf, *v);
        }
        self.count += 1;
    }

    /// The finished batch: header, (compressed) records, CRC-32C.
    pub fn finish(self) -> Result<Bytes, BatchError> {
        let mut out = BytesMut::with_capacity(BATCH_HEADER_LEN + self.records.len());
        out.put_i64(0); // base offset: the broker assigns it
        out.put_i32(0); // batch length, filled in below
        out.put_i32(-1); // partition leader epoch: the broker sets it
        out.put_i8(2); // magic
        out.put_u32(0); // CRC, filled in below
        out.put_i16(self.codec as i16 | self.flags);
        out.put_i32((self.count - 1).max(0)); // last offset delta
        out.put_i64(self.base_timestamp);
        out.put_i64(self.max_timestamp);
        out.put_i64(self.producer_id);
        out.put_i16(self.producer_epoch);
        out.put_i32(self.base_sequence);
        out.put_i32(self.count);
        self.codec.compress(&self.records, &mut out)?;
        let batch_length = (out.len() - LOG_OVERHEAD) as i32;
        out[8..12].copy_from_slice(&batch_length.to_be_bytes());
        let crc = crc32c::crc32c(&out[ATTRIBUTES_OFFSET..]);
        out[CRC_OFFSET..ATTRIBUTES_OFFSET].copy_from_slice(&crc.to_be_bytes());
        Ok(out.freeze())
    }
}

pub use crate::record_batch::BatchHeader;

impl BatchHeader {
    /// The batch's compression codec.
    pub fn codec(&self) -> Result<Codec, BatchError> {
        Codec::from_attributes(self.attributes)
    }
}

/// One batch as it came over the wire.
#[derive(Debug, Clone)]
pub struct RawBatch {
    pub header: BatchHeader,
    /// The whole batch, header included.
    pub bytes: Bytes,
}

/// A record as a consumer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

impl RawBatch {
    /// Recomputes the CRC-32C and compares it with the stored one.
    pub fn verify_crc(&self) -> Result<(), BatchError> {
        let computed = crc32c::crc32c(&self.bytes[ATTRIBUTES_OFFSET..]);
        if computed != self.header.crc {
            return Err(BatchError::Crc {
                stored: self.header.crc,
                computed,
            });
        }
        Ok(())
    }

    /// Decompresses and decodes the records (none for a control batch).
    pub fn records(&self) -> Result<Vec<Record>, BatchError> {
        let h = &self.header;
        if h.is_control() {
            return Ok(Vec::new());
        }
        let data = self
            .header
            .codec()?
            .decompress(self.bytes.slice(BATCH_HEADER_LEN..))?;
        let mut data = data;
        let count = usize::try_from(h.records_count)
            .map_err(|_| BatchError::Malformed(format!("record count {}", h.records_count)))?;
        let mut out = Vec::with_capacity(count.min(1 << 16));
        for _ in 0..count {
            let len = get_varint(&mut data)?;
            let len = usize::try_from(len)
                .map_err(|_| BatchError::Malformed(format!("record length {len}")))?;
            if data.len() < len {
                return Err(BatchError::Truncated("record"));
            }
            let mut rec = data.split_to(len);
            let _attributes = get_i8(&mut rec)?;
            let ts_delta = get_varint(&mut rec)?;
            let offset_delta = get_varint(&mut rec)?;
            let key = get_bytes(&mut rec)?;
            let value = get_bytes(&mut rec)?;
            let n_headers = get_varint(&mut rec)?;
            let mut headers = Vec::new();
            for _ in 0..n_headers.max(0) {
                let k = get_bytes(&mut rec)?.unwrap_or_default();
                let v = get_bytes(&mut rec)?;
                headers.push((String::from_utf8_lossy(&k).into_owned(), v));
            }
            let timestamp = if h.log_append_time() {
                h.max_timestamp
            } else {
                h.base_timestamp + ts_delta
            };
            out.push(Record {
                offset: h.base_offset + offset_delta,
                timestamp,
                key,
                value,
                headers,
            });
        }
        Ok(out)
    }
}

/// Splits a fetched record set into whole batches.
///
/// A broker may cut the last batch short (Kafka does, at the fetch size):
/// iteration just stops there, as a consumer's does; the consumer fetches it
/// again from its offset. Legacy message sets (magic 0/1) are an error.
pub struct Batches {
    data: Bytes,
}

impl Batches {
    pub fn new(data: Bytes) -> Self {
        Batches { data }
    }
}

impl Iterator for Batches {
    type Item = Result<RawBatch, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        // baseOffset, batchLength, leader epoch, then the magic byte.
        if self.data.len() < 17 {
            return None;
        }
        let d = &self.data;
        let magic = d[16] as i8;
        if magic != 2 {
            self.data.clear();
            return Some(Err(BatchError::UnsupportedMagic(magic)));
        }
        let batch_length = i32::from_be_bytes([d[8], d[9], d[10], d[11]]);
        let total = LOG_OVERHEAD as i64 + batch_length as i64;
        if total < BATCH_HEADER_LEN as i64 {
            self.data.clear();
            return Some(Err(BatchError::Malformed(format!(
                "batch length {batch_length}"
            ))));
        }
        if (d.len() as i64) < total {
            return None; // partial trailing batch
        }
        let bytes = self.data.split_to(total as usize);
        let header = BatchHeader::parse(&bytes)?;
        Some(Ok(RawBatch { header, bytes }))
    }
}

fn varint_size(v: i64) -> usize {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    let mut n = 1;
    while z >= 0x80 {
        z >>= 7;
        n += 1;
    }
    n
}

fn put_varint(buf: &mut BytesMut, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        buf.put_u8((z as u8) | 0x80);
        z >>= 7;
    }
    buf.put_u8(z as u8);
}

fn put_bytes(buf: &mut BytesMut, b: Option<&[u8]>) {
    match b {
        None => put_varint(buf, -1),
        Some(b) => {
            put_varint(buf, b.len() as i64);
            buf.put_slice(b);
        }
    }
}

fn get_i8(buf: &mut Bytes) -> Result<i8, BatchError> {
    if buf.is_empty() {
        return Err(BatchError::Truncated("record attributes"));
    }
    Ok(buf.get_i8())
}

fn get_varint(buf: &mut Bytes) -> Result<i64, BatchError> {
    let mut z: u64 = 0;
    for shift in (0..70).step_by(7) {
        if buf.is_empty() {
            return Err(BatchError::Truncated("varint"));
        }
        let b = buf.get_u8();
        z |= ((b & 0x7f) as u64) << shift;
        if b & 0x80 == 0 {
            return Ok(((z >> 1) as i64) ^ -((z & 1) as i64));
        }
    }
    Err(BatchError::Malformed("varint longer than 10 bytes".into()))
}

fn get_bytes(buf: &mut Bytes) -> Result<Option<Bytes>, BatchError> {
    let len = get_varint(buf)?;
    if len < 0 {
        return Ok(None);
    }
    let len = len as usize;
    if buf.len() < len {
        return Err(BatchError::Truncated("record field"));
    }
    Ok(Some(buf.split_to(len)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::records::RecordBatchDecoder;

    fn sample(codec: Codec) -> Bytes {
        let mut b = BatchBuilder::new(codec);
        b.push(1_000, Some(b"k1"), Some(b"v1"), &[]);
        b.push(1_005, None, Some(b"v2"), &[("h", Some(b"x")), ("n", None)]);
        b.push(1_002, Some(b""), None, &[]);
        b.finish().unwrap()
    }

    #[test]
    fn crc32c_matches_known_vector() {
        // The standard CRC-32C check value (RFC 3720 / iSCSI).
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn header_fields_and_crc() {
        let bytes = sample(Codec::None);
        let batch = Batches::new(bytes.clone()).next().unwrap().unwrap();
        let h = &batch.header;
        assert_eq!(h.magic, 2);
        assert_eq!(h.batch_length as usize, bytes.len() - 12);
        assert_eq!((h.records_count, h.last_offset_delta), (3, 2));
        assert_eq!((h.base_timestamp, h.max_timestamp), (1_000, 1_005));
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (-1, -1, -1)
        );
        assert_eq!(h.partition_leader_epoch, -1);
        batch.verify_crc().unwrap();
        // The CRC covers attributes..end: flipping a record byte breaks it,
        // rewriting base offset and leader epoch (as the broker does) does not.
        let mut rewritten = BytesMut::from(&bytes[..]);
        rewritten[0..8].copy_from_slice(&42i64.to_be_bytes());
        rewritten[12..16].copy_from_slice(&7i32.to_be_bytes());
        let b = Batches::new(rewritten.freeze()).next().unwrap().unwrap();
        b.verify_crc().unwrap();
        assert_eq!(b.header.next_offset(), 45);
        let mut flipped = BytesMut::from(&bytes[..]);
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        let b = Batches::new(flipped.freeze()).next().unwrap().unwrap();
        assert!(matches!(b.verify_crc(), Err(BatchError::Crc { .. })));
    }

    #[test]
    fn records_round_trip_every_codec() {
        for codec in [
            Codec::None,
            Codec::Gzip,
            Codec::Snappy,
            Codec::Lz4,
            Codec::Zstd,
        ] {
            let batch = Batches::new(sample(codec)).next().unwrap().unwrap();
            batch.verify_crc().unwrap();
            assert_eq!(batch.header.codec().unwrap(), codec);
            let recs = batch.records().unwrap();
            assert_eq!(recs.len(), 3, "{codec:?}");
            assert_eq!(recs[0].key.as_deref(), Some(&b"k1"[..]));
            assert_eq!(recs[0].value.as_deref(), Some(&b"v1"[..]));
            assert_eq!((recs[1].offset, recs[1].timestamp), (1, 1_005));
            assert_eq!(recs[1].key, None);
            assert_eq!(
                recs[1].headers,
                vec![
                    ("h".to_string(), Some(Bytes::from_static(b"x"))),
                    ("n".to_string(), None)
                ]
            );
            assert_eq!(recs[2].key.as_deref(), Some(&b""[..]));
            assert_eq!(recs[2].value, None);
        }
    }

    #[test]
    fn kafka_protocol_decoder_accepts_our_batches() {
        // An independent reader (it checks the CRC) agrees with our writer.
        for codec in [
            Codec::None,
            Codec::Gzip,
            Codec::Snappy,
            Codec::Lz4,
            Codec::Zstd,
        ] {
            let mut bytes = sample(codec);
            let set = RecordBatchDecoder::decode(&mut bytes).unwrap();
            assert_eq!(set.records.len(), 3);
            assert_eq!(set.records[2].offset, 2);
            assert_eq!(set.records[1].timestamp, 1_005);
            assert_eq!(set.records[0].value.as_deref(), Some(&b"v1"[..]));
        }
    }

    #[test]
    fn partial_trailing_batch_is_left_out() {
        let one = sample(Codec::None);
        let mut two = BytesMut::from(&one[..]);
        two.put_slice(&one[..one.len() - 5]);
        let got: Vec<_> = Batches::new(two.freeze()).collect();
        assert_eq!(got.len(), 1);
        assert!(got[0].is_ok());
    }

    #[test]
    fn legacy_magic_is_refused() {
        let mut b = BytesMut::from(&sample(Codec::None)[..]);
        b[16] = 1;
        let got: Vec<_> = Batches::new(b.freeze()).collect();
        assert!(matches!(got[..], [Err(BatchError::UnsupportedMagic(1))]));
    }

    #[test]
    fn varints_round_trip() {
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            300,
            -300,
            i32::MAX as i64,
            i64::MIN,
            i64::MAX,
        ] {
            let mut buf = BytesMut::new();
            put_varint(&mut buf, v);
            assert_eq!(buf.len(), varint_size(v), "{v}");
            assert_eq!(get_varint(&mut buf.freeze()).unwrap(), v);
        }
    }
}
