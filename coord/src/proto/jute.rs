//! Jute, ZooKeeper's binary record encoding: big-endian integers, one-byte
//! booleans, and length-prefixed buffers, strings and vectors (length -1 means
//! null). Decoding never panics: short or malformed input is a [`JuteError`].

use bytes::{BufMut, Bytes, BytesMut};

/// Why bytes could not be decoded as the expected record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JuteError {
    #[error("record truncated: needed {needed} more bytes at offset {offset}")]
    Truncated { offset: usize, needed: usize },
    #[error("invalid length {length} at offset {offset}")]
    BadLength { offset: usize, length: i32 },
}

/// A cursor over one frame's bytes. Buffers are returned as zero-copy slices
/// of the frame when the frame is held in [`Bytes`].
pub struct Reader {
    buf: Bytes,
    pos: usize,
}

impl Reader {
    pub fn new(buf: Bytes) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<Bytes, JuteError> {
        if self.remaining() < n {
            return Err(JuteError::Truncated {
                offset: self.pos,
                needed: n - self.remaining(),
            });
        }
        let out = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], JuteError> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(&bytes);
        Ok(out)
    }

    pub fn read_i32(&mut self) -> Result<i32, JuteError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    pub fn read_i64(&mut self) -> Result<i64, JuteError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    pub fn read_bool(&mut self) -> Result<bool, JuteError> {
        Ok(self.array::<1>()?[0] != 0)
    }

    /// A length prefix: -1 (null) reads as 0; other negatives and lengths
    /// beyond the frame are errors, so a hostile length never allocates.
    fn read_len(&mut self) -> Result<usize, JuteError> {
        let offset = self.pos;
        let length = self.read_i32()?;
        match length {
            -1 => Ok(0),
            l if l < 0 || l as usize > self.remaining() => {
                Err(JuteError::BadLength { offset, length })
            }
            l => Ok(l as usize),
        }
    }

    pub fn read_buffer(&mut self) -> Result<Bytes, JuteError> {
        let len = self.read_len()?;
        self.take(len)
    }

    /// A buffer, `None` when the length is -1 (null).
    pub fn read_opt_buffer(&mut self) -> Result<Option<Bytes>, JuteError> {
        if self.remaining() >= 4 && self.buf[self.pos..self.pos + 4] == [0xff; 4] {
            self.pos += 4;
            return Ok(None);
        }
        self.read_buffer().map(Some)
    }

    /// A string. Bytes that are not UTF-8 become U+FFFD, as Java's decoder
    /// makes them on a ZooKeeper server (so a bad path is then refused by the
    /// path rules with BADARGUMENTS, not by the codec).
    pub fn read_string(&mut self) -> Result<String, JuteError> {
        let bytes = self.read_buffer()?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A vector's element count. Each element takes at least one byte, which
    /// bounds the count by what is left in the frame.
    pub fn read_count(&mut self) -> Result<usize, JuteError> {
        self.read_len()
    }
}

/// A value that can be read from jute bytes.
pub trait Decode: Sized {
    fn decode(r: &mut Reader) -> Result<Self, JuteError>;

    /// Decodes a whole record from `bytes` (trailing bytes are ignored, as
    /// ZooKeeper does).
    fn from_bytes(bytes: Bytes) -> Result<Self, JuteError> {
        Self::decode(&mut Reader::new(bytes))
    }
}

/// A value that can be written as jute bytes.
pub trait Encode {
    fn encode(&self, w: &mut BytesMut);

    fn to_bytes(&self) -> BytesMut {
        let mut w = BytesMut::new();
        self.encode(&mut w);
        w
    }
}

impl Decode for i32 {
    fn decode(r: &mut Reader) -> Result<Self, JuteError> {
        r.read_i32()
    }
}
impl Encode for i32 {
    fn encode(&self, w: &mut BytesMut) {
        w.put_i32(*self);
    }
}
impl Decode for i64 {
    fn decode(r: &mut Reader) -> Result<Self, JuteError> {
        r.read_i64()
    }
}
impl Encode for i64 {
    fn encode(&self, w: &mut BytesMut) {
        w.put_i64(*self);
    }
}
impl Decode for bool {
    fn decode(r: &mut Reader) -> Result<Self, JuteError> {
        r.read_bool()
    }
}
impl Encode for bool {
    fn encode(&self, w: &mut BytesMut) {
        w.put_u8(u8::from(*self));
    }
}
impl Decode for Bytes {
    fn decode(r: &mut Reader) -> Result<Self, JuteError> {
        r.read_buffer()
    }
}
impl Encode for Bytes {
    fn encode(&self, w: &mut BytesMut) {
        w.put_i32(self.len() as i32);
        w.put_slice(self);
    }
}
/// A buffer that may be null (length -1): znode data keeps the difference,
/// as ZooKeeper does.
impl Decode for Option<Bytes> {
    fn decode(r: &mut Reader) -> Result<Self, JuteError> {
        r.read_opt_buffer()
    }
}
impl Encode for Option<Bytes> {
    fn encode(&self, w: &mut BytesMut) {
        match self {
            Some(bytes) => bytes.encode(w),
            None => w.put_i32(-1),
        }
    }
}
impl Decode for String {
    fn decode(r: &mut Reader) -> Result<Self, JuteError> {
        r.read_string()
    }
}
impl Encode for String {
    fn encode(&self, w: &mut BytesMut) {
        w.put_i32(self.len() as i32);
        w.put_slice(self.as_bytes());
    }
}
impl Encode for str {
    fn encode(&self, w: &mut BytesMut) {
        w.put_i32(self.len() as i32);
        w.put_slice(self.as_bytes());
    }
}
impl<T: Decode> Decode for Vec<T> {
    fn decode(r: &mut Reader) -> Result<Self, JuteError> {
        let count = r.read_count()?;
        let mut out = Vec::with_capacity(count.min(1024));
        for _ in 0..count {
            out.push(T::decode(r)?);
        }
        Ok(out)
    }
}
impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, w: &mut BytesMut) {
        w.put_i32(self.len() as i32);
        for item in self {
            item.encode(w);
        }
    }
}
impl<T: Encode> Encode for &T {
    fn encode(&self, w: &mut BytesMut) {
        (**self).encode(w)
    }
}

/// Declares a jute record: a struct whose fields are encoded in order.
macro_rules! record {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
        pub struct $name { $($(#[$fmeta])* pub $field: $ty),* }

        impl $crate::proto::jute::Decode for $name {
            fn decode(r: &mut $crate::proto::jute::Reader) -> Result<Self, $crate::proto::jute::JuteError> {
                Ok(Self { $($field: $crate::proto::jute::Decode::decode(r)?),* })
            }
        }

        impl $crate::proto::jute::Encode for $name {
            fn encode(&self, w: &mut bytes::BytesMut) {
                $($crate::proto::jute::Encode::encode(&self.$field, w);)*
            }
        }
    };
}
pub(crate) use record;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn null_buffer_reads_as_empty() {
        let mut r = Reader::new(Bytes::from_static(&[0xff, 0xff, 0xff, 0xff]));
        assert_eq!(r.read_buffer().unwrap(), Bytes::new());
    }

    #[test]
    fn hostile_lengths_are_errors_not_allocations() {
        let mut r = Reader::new(Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 1, 2]));
        assert!(matches!(r.read_buffer(), Err(JuteError::BadLength { .. })));
        let mut r = Reader::new(Bytes::from_static(&[0xff, 0xff, 0xff, 0xfe]));
        assert!(matches!(
            Vec::<i64>::decode(&mut r),
            Err(JuteError::BadLength { .. })
        ));
        let mut r = Reader::new(Bytes::from_static(&[0, 0]));
        assert!(matches!(r.read_i32(), Err(JuteError::Truncated { .. })));
    }

    proptest! {
        #[test]
        fn primitives_round_trip(a in any::<i32>(), b in any::<i64>(), c in any::<bool>(),
                                 s in ".{0,40}", v in proptest::collection::vec(any::<u8>(), 0..64),
                                 l in proptest::collection::vec(".{0,8}", 0..8)) {
            let mut w = BytesMut::new();
            a.encode(&mut w); b.encode(&mut w); c.encode(&mut w);
            s.encode(&mut w); Bytes::from(v.clone()).encode(&mut w); l.encode(&mut w);
            let mut r = Reader::new(w.freeze());
            prop_assert_eq!(r.read_i32().unwrap(), a);
            prop_assert_eq!(r.read_i64().unwrap(), b);
            prop_assert_eq!(r.read_bool().unwrap(), c);
            prop_assert_eq!(r.read_string().unwrap(), s);
            prop_assert_eq!(r.read_buffer().unwrap().to_vec(), v);
            prop_assert_eq!(Vec::<String>::decode(&mut r).unwrap(), l);
            prop_assert_eq!(r.remaining(), 0);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut r = Reader::new(Bytes::from(bytes));
            let _ = Vec::<String>::decode(&mut r);
        }
    }
}
