//! Record batches (magic v2): the header layout and its decoding, shared by
//! the broker's log (which validates and rewrites batches without decoding
//! records) and the client (which builds and reads them).
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
//! The CRC-32C covers `attributes` to the end, so the first 17 bytes
//! (offset, length, leader epoch, magic) can be rewritten without a new CRC.

/// Offset of `batchLength`.
pub const LENGTH_OFFSET: usize = 8;
/// Bytes before the part `batchLength` counts (baseOffset + batchLength).
pub const LOG_OVERHEAD: usize = 12;
/// Offset of `partitionLeaderEpoch`.
pub const PARTITION_LEADER_EPOCH_OFFSET: usize = 12;
/// Offset of `magic`.
pub const MAGIC_OFFSET: usize = 16;
/// Offset of `crc`.
pub const CRC_OFFSET: usize = 17;
/// Offset of `attributes`, where the CRC's coverage starts.
pub const ATTRIBUTES_OFFSET: usize = 21;
/// Offset of `lastOffsetDelta`.
pub const LAST_OFFSET_DELTA_OFFSET: usize = 23;
/// Offset of `baseTimestamp`.
pub const BASE_TIMESTAMP_OFFSET: usize = 27;
/// Offset of `maxTimestamp`.
pub const MAX_TIMESTAMP_OFFSET: usize = 35;
/// Offset of `producerId`.
pub const PRODUCER_ID_OFFSET: usize = 43;
/// Offset of `producerEpoch`.
pub const PRODUCER_EPOCH_OFFSET: usize = 51;
/// Offset of `baseSequence`.
pub const BASE_SEQUENCE_OFFSET: usize = 53;
/// Offset of `recordCount`.
pub const RECORDS_COUNT_OFFSET: usize = 57;
/// Size of the v2 header; also the smallest valid v2 batch.
pub const HEADER_SIZE: usize = 61;
/// Kafka's smallest `batchLength` of any magic (LegacyRecord.RECORD_OVERHEAD_V0);
/// anything below is corrupt framing rather than an old format.
pub const MIN_RECORD_OVERHEAD: i32 = 14;
/// The only record format the log stores.
pub const MAGIC_V2: i8 = 2;

pub const COMPRESSION_MASK: i16 = 0x07;
pub const TIMESTAMP_TYPE_FLAG: i16 = 0x08;
pub const TRANSACTIONAL_FLAG: i16 = 0x10;
pub const CONTROL_FLAG: i16 = 0x20;

/// The decoded fixed-size header of one v2 batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    /// First offset in the batch.
    pub base_offset: i64,
    /// `batchLength` as on the wire (size minus [`LOG_OVERHEAD`]).
    pub batch_length: i32,
    /// Leader epoch of the leader that appended the batch.
    pub partition_leader_epoch: i32,
    /// Record format version.
    pub magic: i8,
    /// Stored CRC-32C of bytes 21..end.
    pub crc: u32,
    /// Compression (bits 0-2), timestamp type (3), transactional (4), control (5).
    pub attributes: i16,
    /// `lastOffset - baseOffset`.
    pub last_offset_delta: i32,
    /// Timestamp of the first record (CreateTime).
    pub base_timestamp: i64,
    /// Largest record timestamp, or the append time under LogAppendTime.
    pub max_timestamp: i64,
    /// Idempotent producer id, -1 if none.
    pub producer_id: i64,
    /// Idempotent producer epoch.
    pub producer_epoch: i16,
    /// Sequence of the first record, -1 if none.
    pub base_sequence: i32,
    /// Number of records.
    pub records_count: i32,
}

fn i16_at(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn i64_at(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

impl BatchHeader {
    /// Decodes the header from the first [`HEADER_SIZE`] bytes of `buf`;
    /// `None` if `buf` is shorter. No check of the values is made here.
    pub fn parse(buf: &[u8]) -> Option<BatchHeader> {
        if buf.len() < HEADER_SIZE {
            return None;
        }
        Some(BatchHeader {
            base_offset: i64_at(buf, 0),
            batch_length: i32_at(buf, LENGTH_OFFSET),
            partition_leader_epoch: i32_at(buf, PARTITION_LEADER_EPOCH_OFFSET),
            magic: buf[MAGIC_OFFSET] as i8,
            crc: i32_at(buf, CRC_OFFSET) as u32,
            attributes: i16_at(buf, ATTRIBUTES_OFFSET),
            last_offset_delta: i32_at(buf, LAST_OFFSET_DELTA_OFFSET),
            base_timestamp: i64_at(buf, BASE_TIMESTAMP_OFFSET),
            max_timestamp: i64_at(buf, MAX_TIMESTAMP_OFFSET),
            producer_id: i64_at(buf, PRODUCER_ID_OFFSET),
            producer_epoch: i16_at(buf, PRODUCER_EPOCH_OFFSET),
            base_sequence: i32_at(buf, BASE_SEQUENCE_OFFSET),
            records_count: i32_at(buf, RECORDS_COUNT_OFFSET),
        })
    }

    /// Total size on disk, log overhead included.
    pub fn size(&self) -> usize {
        self.batch_length.max(0) as usize + LOG_OVERHEAD
    }

    /// Offset of the batch's last record.
    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    /// Offset a reader continues from after this batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }

    /// Compression codec id (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
    pub fn compression(&self) -> u8 {
        (self.attributes & COMPRESSION_MASK) as u8
    }

    /// Timestamps were set by the broker (`LogAppendTime`).
    pub fn log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_FLAG != 0
    }

    /// Part of a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_FLAG != 0
    }

    /// A control batch (transaction markers), never produced by clients.
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_FLAG != 0
    }
}
