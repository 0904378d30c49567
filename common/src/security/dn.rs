//! Distinguished names as Java prints them: `X500Principal.getName()`,
//! the RFC 2253 form (`CN=alice,OU=eng,O=Acme,C=US`).
//!
//! Shared because two services name TLS clients by their certificate's
//! subject and operators copy those names from Java deployments: the
//! broker's mutual-TLS principal (Kafka's `User:<DN>`) and runnel-coord's
//! `x509` ACL ids (ZooKeeper's `X509AuthenticationProvider`). A name printed
//! with other spacing or escaping would silently stop matching the ACLs
//! written for Kafka or ZooKeeper, so this follows Java to the character.

use x509_parser::asn1_rs::{Any, Class, Tag, ToDer};
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// A certificate (or name) that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the certificate's subject: {0}")]
pub struct DnError(pub String);

/// The subject of a DER certificate in RFC 2253 form, as Java's
/// `X500Principal.getName()` prints it.
pub fn subject_dn(certificate: &[u8]) -> Result<String, DnError> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(certificate).map_err(|e| DnError(e.to_string()))?;
    rfc2253(cert.subject())
}

/// Java's `X500Name.getRFC2253Name()`: the most specific RDN first (the
/// reverse of the DER order), RDNs joined by `,`, the attributes of a
/// multi-valued RDN by `+` in their DER order.
fn rfc2253(name: &X509Name<'_>) -> Result<String, DnError> {
    let mut rdns = Vec::new();
    for rdn in name.iter() {
        let avas = rdn.iter().map(ava).collect::<Result<Vec<_>, _>>()?;
        rdns.push(avas.join("+"));
    }
    rdns.reverse();
    Ok(rdns.join(","))
}

/// One `type=value` as Java's `AVA.toRFC2253String()` writes it.
fn ava(a: &AttributeTypeAndValue<'_>) -> Result<String, DnError> {
    let oid = a.attr_type().to_id_string();
    let keyword = rfc2253_keyword(&oid);
    let value = a.attr_value();
    if let (Some(keyword), Some(text)) = (keyword, java_string(value)) {
        return Ok(format!("{keyword}={}", escape_value(&text)));
    }
    // No keyword, or not a string: `#` and the value's DER bytes in hex.
    let der = value.to_der_vec().map_err(|e| DnError(e.to_string()))?;
    let hex: String = der.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{}=#{hex}", keyword.unwrap_or(&oid)))
}

/// The keywords RFC 2253 defines (Java's `AVAKeyword` table, RFC 2253
/// column); every other type is written as its OID.
fn rfc2253_keyword(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

/// The value as text when Java treats it as a string (`isDerString`):
/// PrintableString, T61String, IA5String, GeneralString, BMPString and
/// UTF8String. Java decodes every one of them as UTF-8 (a BMPString's
/// UTF-16 bytes included, so `ab` reads `\0a\0b`); so do we, for the same
/// principal as Kafka gives.
fn java_string(value: &Any<'_>) -> Option<String> {
    let header = &value.header;
    if header.class() != Class::Universal || header.is_constructed() {
        return None;
    }
    match header.tag() {
        Tag::PrintableString
        | Tag::TeletexString
        | Tag::Ia5String
        | Tag::GeneralString
        | Tag::BmpString
        | Tag::Utf8String => Some(String::from_utf8_lossy(value.data).into_owned()),
        _ => None,
    }
}

/// RFC 2253 escaping as Java does it: `\` before `,=+<>#;"\` anywhere and
/// before leading and trailing spaces (and carriage returns), NUL as `\00`;
/// every other character as it is.
fn escape_value(value: &str) -> String {
    const ESCAPED: &str = ",=+<>#;\"\\";
    let mut chars = Vec::with_capacity(value.len());
    for c in value.chars() {
        if ESCAPED.contains(c) {
            chars.extend(['\\', c]);
        } else if c == '\0' {
            chars.extend(['\\', '0', '0']);
        } else {
            chars.push(c);
        }
    }
    let blank = |c: &char| *c == ' ' || *c == '\r';
    let lead = chars.iter().position(|c| !blank(c)).unwrap_or(chars.len());
    let trail = chars.iter().rposition(|c| !blank(c));
    let mut out = String::with_capacity(chars.len() + 2);
    for (i, c) in chars.iter().enumerate() {
        if i < lead || trail.is_none_or(|t| i > t) {
            out.push('\\');
        }
        out.push(*c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer;

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        assert!(content.len() < 128);
        let mut v = vec![tag, content.len() as u8];
        v.extend_from_slice(content);
        v
    }

    /// An AttributeTypeAndValue: OID (DER content bytes), value tag, value.
    fn atv(oid: &[u8], tag: u8, value: &[u8]) -> Vec<u8> {
        let mut body = tlv(0x06, oid);
        body.extend(tlv(tag, value));
        tlv(0x30, &body)
    }

    /// A Name from RDNs in DER order, each a list of ATVs.
    fn name_dn(rdns: &[Vec<Vec<u8>>]) -> String {
        let mut seq = Vec::new();
        for rdn in rdns {
            seq.extend(tlv(0x31, &rdn.concat()));
        }
        let der = tlv(0x30, &seq);
        let (rest, name) = X509Name::from_der(&der).unwrap();
        assert!(rest.is_empty());
        rfc2253(&name).unwrap()
    }

    const CN: &[u8] = &[0x55, 0x04, 0x03];
    const OU: &[u8] = &[0x55, 0x04, 0x0b];
    const C: &[u8] = &[0x55, 0x04, 0x06];
    const UID: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01];
    const EMAIL: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01];
    const UTF8: u8 = 0x0c;
    const PRINTABLE: u8 = 0x13;

    #[test]
    fn names_print_most_specific_first() {
        let dn = name_dn(&[
            vec![atv(C, PRINTABLE, b"US")],
            vec![atv(OU, UTF8, b"eng")],
            vec![atv(CN, UTF8, b"alice")],
        ]);
        assert_eq!(dn, "CN=alice,OU=eng,C=US");
        assert_eq!(name_dn(&[]), "");
    }

    #[test]
    fn values_are_escaped_as_java_does() {
        let one = |v: &str| name_dn(&[vec![atv(CN, UTF8, v.as_bytes())]]);
        assert_eq!(one("Sue, Grabbit+Runn"), r"CN=Sue\, Grabbit\+Runn");
        assert_eq!(one(r#"a=b<c>d#e;f"g\h"#), r#"CN=a\=b\<c\>d\#e\;f\"g\\h"#);
        assert_eq!(one(" #x "), r"CN=\ \#x\ ");
        assert_eq!(one("  "), r"CN=\ \ ");
        assert_eq!(one("a\0b"), r"CN=a\00b");
        assert_eq!(one("Zoë Ünal"), "CN=Zoë Ünal");
    }

    #[test]
    fn multi_valued_rdns_and_types_without_keyword() {
        let dn = name_dn(&[
            vec![atv(OU, UTF8, b"eng")],
            vec![atv(CN, UTF8, b"ann"), atv(UID, UTF8, b"a1")],
        ]);
        assert_eq!(dn, "CN=ann+UID=a1,OU=eng");
        // emailAddress has no RFC 2253 keyword: OID and the DER value in hex.
        let dn = name_dn(&[vec![atv(CN, UTF8, b"ann"), atv(EMAIL, 0x16, b"a@b")]]);
        assert_eq!(dn, "CN=ann+1.2.840.113549.1.9.1=#1603614062");
        // A keyword type whose value is not one of Java's string types.
        assert_eq!(name_dn(&[vec![atv(CN, 0x12, b"42")]]), "CN=#12023432");
        // BMPString bytes read as UTF-8, as Java does.
        assert_eq!(name_dn(&[vec![atv(CN, 0x1e, b"\0a\0b")]]), r"CN=\00a\00b");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(subject_dn(b"not a certificate").is_err());
        assert!(subject_dn(&[]).is_err());
        assert!(subject_dn(&[0x30, 0x82, 0xff, 0xff]).is_err());
    }
}
