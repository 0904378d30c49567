//! ZooKeeper's client wire protocol: jute encoding, records, op codes, error
//! codes and framing. Nothing here does I/O, so every piece is unit-testable
//! on byte slices.

pub mod error;
pub mod frame;
#[cfg(test)]
mod fuzz_tests;
pub mod jute;
pub mod opcode;
pub mod records;
pub mod request;

pub use error::ErrorCode;
pub use jute::{Decode, Encode, JuteError, Reader};
pub use opcode::OpCode;
