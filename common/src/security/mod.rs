//! SASL authentication mechanisms, as Apache Kafka speaks them.
//!
//! Both ends of an authentication live here so that they cannot drift apart:
//! the broker uses the server halves when a client connects to a SASL
//! listener, and the internal Kafka client (broker to broker, and the `runnel`
//! CLI) uses the client halves. Everything here is pure message handling —
//! no I/O, no clocks — so the callers decide how credentials are looked up
//! (SCRAM credentials live in the coordination tree) and how failures are
//! reported on the wire. TLS set-up lives elsewhere.
//!
//! * [`scram`]: SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), and the
//!   stored-credential format Kafka keeps under `/config/users/<user>`.
//! * [`plain`]: SASL PLAIN (RFC 4616) with Kafka's extra rules.
//! * [`jaas`]: the JAAS `sasl.jaas.config` value that configures both, and JAAS
//!   login files (coord's `Server` users, the `Client` login to coord).
//! * [`dn`]: a TLS client certificate's subject as Java prints it (RFC 2253),
//!   the name both the broker and runnel-coord give such a client.

pub mod dn;
pub mod jaas;
pub mod plain;
pub mod scram;

use subtle::ConstantTimeEq;

/// Compares two secrets without letting the time taken depend on where they
/// first differ, so that a peer cannot guess a secret byte by byte from
/// response times. The lengths are not secret (they are fixed by the hash
/// in every use here), so unequal lengths return early.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn constant_time_eq_compares_contents_and_lengths() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
