//! Security as a layer of the connection: listener → TLS → SASL → principal.
//!
//! * [`settings`]: each listener's protocol, TLS files and SASL mechanisms,
//!   read from Kafka's keys (data only, checked at start-up).
//! * [`listener`]: what a listener needs at run time — its TLS acceptor and
//!   SASL users — built once from the settings, and the broker's own client
//!   side for inter-broker connections.
//! * [`principal`]: a mutual-TLS client's principal — its certificate's
//!   subject (RFC 2253) through `ssl.principal.mapping.rules`.
//! * [`sasl_server`]: the authentication phase of a SASL connection
//!   (ApiVersions, SaslHandshake, SaslAuthenticate with PLAIN or SCRAM)
//!   before any other request is served.
//! * [`acl`]: Kafka's ACL model (resources, patterns, operations) and matching.
//! * [`authorizer`]: the one authorizer handlers ask, its bindings reloaded
//!   from coord on every change notification.
//! * TLS and SASL to coord are shared with every coord client:
//!   `runnel_common::coord_client`.
//! * [`credentials`]: SCRAM credentials in coord (`/config/users/<user>`,
//!   Kafka's layout) and the Alter/DescribeUserScramCredentials requests.

pub mod acl;
pub mod authorizer;
pub mod credentials;
pub mod listener;
pub mod principal;
pub mod sasl_server;
pub mod settings;
