//! `runnel certs`: a development certificate authority and the PEM files a
//! TLS cluster needs, so `cluster.sh up --secure` (and a user trying TLS)
//! needs no `openssl` or `keytool` steps.
//!
//! Written to `--dir`:
//! * `ca.pem` — the CA certificate: every client's and broker's trust store;
//! * `ca-key.pem` — its private key (kept only to sign more later by hand);
//! * `broker.pem` — a PEM key store (private key, then the certificate
//!   chain) for the brokers, valid for every `--host`;
//! * `client-<name>.pem` — a key store per `--client`, whose subject is
//!   `CN=<name>` (the principal of a mutual-TLS client), and per
//!   `--client-dn`, whose subject is that distinguished name and whose file
//!   is named for its CN.
//!
//! Not for production: the CA key sits beside the certificates.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

#[derive(Args, Debug)]
pub struct CertsArgs {
    /// Folder to write the PEM files into (created if needed).
    #[arg(long)]
    pub dir: PathBuf,
    /// Host names and IP addresses the broker certificate is valid for.
    #[arg(long, value_delimiter = ',', default_value = "127.0.0.1,localhost")]
    pub hosts: Vec<String>,
    /// Client certificates to make (CN=<name>), repeatable or comma-separated.
    #[arg(long = "client", value_delimiter = ',')]
    pub clients: Vec<String>,
    /// A client certificate with this subject, written as Kafka prints it
    /// (RFC 2253, most specific first): `CN=alice,OU=eng,O=Acme,C=US`.
    /// Types CN, OU, O, L, ST, C, STREET, DC, UID, each once; `\` escapes
    /// a `,` `+` `=` in a value. Repeatable; the file is client-<CN>.pem.
    #[arg(long = "client-dn", value_name = "DN")]
    pub client_dns: Vec<String>,
    /// Replace files that exist (a new CA: earlier certificates stop being trusted).
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: CertsArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let ca_path = args.dir.join("ca.pem");
    if ca_path.exists() && !args.force {
        bail!(
            "{} exists; pass --force to make a new CA (certificates signed by the old one stop being trusted)",
            ca_path.display()
        );
    }
    let ca_key = KeyPair::generate().context("generating the CA key")?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.distinguished_name = name("Runnel development CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).context("signing the CA")?;

    let leaf = |subject: DistinguishedName,
                sans: Vec<String>,
                usage: Vec<ExtendedKeyUsagePurpose>|
     -> anyhow::Result<String> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(sans)?;
        params.distinguished_name = subject;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = usage;
        let cert = params.signed_by(&key, &ca, &ca_key)?;
        // Key first, then the chain: Kafka's PEM key store layout.
        Ok(format!("{}{}{}", key.serialize_pem(), cert.pem(), ca.pem()))
    };
    // Brokers also present it when they connect to each other (mutual TLS).
    let broker = leaf(
        name("runnel-broker"),
        args.hosts.clone(),
        vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
    )
    .context("signing the broker certificate")?;
    let mut files = vec![
        (args.dir.join("ca.pem"), ca.pem()),
        (args.dir.join("ca-key.pem"), ca_key.serialize_pem()),
        (args.dir.join("broker.pem"), broker),
    ];
    for client in &args.clients {
        if client.is_empty() || client.contains(['/', '\\']) {
            bail!("--client {client:?}: expected a plain name");
        }
        let pem = leaf(
            name(client),
            Vec::new(),
            vec![ExtendedKeyUsagePurpose::ClientAuth],
        )
        .with_context(|| format!("signing the certificate of {client}"))?;
        files.push((args.dir.join(format!("client-{client}.pem")), pem));
    }
    for text in &args.client_dns {
        let (subject, cn) = parse_dn(text).with_context(|| format!("--client-dn {text:?}"))?;
        if cn.is_empty() || cn.contains(['/', '\\']) {
            bail!("--client-dn {text:?}: the CN names the file, so it must be a plain name");
        }
        let pem = leaf(
            subject,
            Vec::new(),
            vec![ExtendedKeyUsagePurpose::ClientAuth],
        )
        .with_context(|| format!("signing the certificate of {text}"))?;
        files.push((args.dir.join(format!("client-{cn}.pem")), pem));
    }
    for (path, text) in &files {
        write_private(path, text)?;
        println!("{}", path.display());
    }
    Ok(())
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

/// A subject from its RFC 2253 text (`CN=alice,OU=eng,O=Acme,C=US`) and its
/// CN. The text lists the most specific attribute first; a certificate
/// holds them the other way round, so they are pushed in reverse and the
/// broker prints the same text back as the client's principal.
fn parse_dn(text: &str) -> anyhow::Result<(DistinguishedName, String)> {
    let mut attributes = Vec::new();
    for part in split_unescaped(text, ',') {
        let pieces = split_unescaped(&part, '=');
        let [kind, value] = pieces.as_slice() else {
            bail!("{part:?} is not TYPE=value");
        };
        let value = unescape(value);
        let name = kind.trim().to_ascii_uppercase();
        let kind = match name.as_str() {
            "CN" => DnType::CommonName,
            "OU" => DnType::OrganizationalUnitName,
            "O" => DnType::OrganizationName,
            "L" => DnType::LocalityName,
            "ST" => DnType::StateOrProvinceName,
            "C" => DnType::CountryName,
            "STREET" => DnType::CustomDnType(vec![2, 5, 4, 9]),
            "DC" => DnType::CustomDnType(vec![0, 9, 2342, 19200300, 100, 1, 25]),
            "UID" => DnType::CustomDnType(vec![0, 9, 2342, 19200300, 100, 1, 1]),
            other => bail!("{other}: expected CN, OU, O, L, ST, C, STREET, DC or UID"),
        };
        if attributes.iter().any(|(k, _)| *k == kind) {
            bail!("{name} appears twice (each type may appear once here)");
        }
        attributes.push((kind, value));
    }
    let cn = attributes
        .iter()
        .find(|(k, _)| *k == DnType::CommonName)
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let mut dn = DistinguishedName::new();
    for (kind, value) in attributes.into_iter().rev() {
        dn.push(kind, value);
    }
    Ok((dn, cn))
}

/// Splits at `sep` where no `\` escapes it; escapes are kept for [`unescape`].
fn split_unescaped(text: &str, sep: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            current.push(c);
            if let Some(next) = chars.next() {
                current.push(next);
            }
        } else if c == sep {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    parts.push(current);
    parts
}

fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' {
            chars.next().unwrap_or(c)
        } else {
            c
        });
    }
    out
}

/// Writes a file readable by its owner only (it may hold a private key).
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::principal::subject_dn;

    #[test]
    fn a_client_dn_comes_back_as_the_brokers_principal_text() {
        let text = r"CN=alice,OU=eng,O=Acme\, Inc.,L=Springfield,ST=OR,C=US";
        let (subject, cn) = parse_dn(text).unwrap();
        assert_eq!(cn, "alice");
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = subject;
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(subject_dn(cert.der()).unwrap(), text);
    }

    #[test]
    fn bad_client_dns_are_refused() {
        for bad in ["CN=a,CN=b", "CN", "XX=a", "CN=a=b"] {
            assert!(parse_dn(bad).is_err(), "{bad}");
        }
    }
}
