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
//!   `CN=<name>` (the principal of a mutual-TLS client).
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

    let leaf = |cn: &str,
                sans: Vec<String>,
                usage: Vec<ExtendedKeyUsagePurpose>|
     -> anyhow::Result<String> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(sans)?;
        params.distinguished_name = name(cn);
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
        "runnel-broker",
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
            client,
            Vec::new(),
            vec![ExtendedKeyUsagePurpose::ClientAuth],
        )
        .with_context(|| format!("signing the certificate of {client}"))?;
        files.push((args.dir.join(format!("client-{client}.pem")), pem));
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
