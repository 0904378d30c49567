//! `runnel configs`: kafka-configs.sh's flags and output, for topic and
//! broker configs, users' SCRAM credentials, and client quotas.
//!
//! ```text
//! runnel configs --bootstrap-server B [--command-config FILE]
//!     --entity-type topics|brokers|users|clients|ips [--entity-name N | --entity-default]
//!       [--entity-type clients [--entity-name C | --entity-default]]
//!       (or the Kafka 3.x shorthands --topic T, --broker N, --broker-defaults,
//!        --user U, --user-defaults, --client C, --client-defaults, --ip A, --ip-defaults)
//!     --describe [--all]
//!   | --alter [--add-config 'k1=v1,k2=[a,b]'] [--delete-config k1,k2]
//! ```
//!
//! Topics and brokers: `--describe` lists the dynamic configs (`--all`:
//! every config) in Kafka's layout; `--alter` sends IncrementalAlterConfigs
//! (SET for `--add-config`, DELETE for `--delete-config`).
//!
//! Users: `--add-config 'SCRAM-SHA-512=[password=secret]'` or
//! `'SCRAM-SHA-256=[iterations=8192,password=secret]'` upserts a SCRAM
//! credential with AlterUserScramCredentials: the salt (32 random bytes)
//! and the salted password are made here, so the password never leaves
//! this process, as with Kafka's tool. `--delete-config SCRAM-SHA-512`
//! deletes one; `--describe` lists mechanisms and iteration counts.
//!
//! Quotas: `producer_byte_rate`, `consumer_byte_rate`,
//! `request_percentage` and `controller_mutation_rate` on a user, a client
//! id, a user and client id, or their defaults, with AlterClientQuotas and
//! DescribeClientQuotas. IPs (`--entity-type ips`, an address or
//! `--entity-default`) take `connection_creation_rate` (KIP-612).
//!
//! Errors print kafka-configs.sh's `Error while executing config command
//! with args '…'` line, then what went wrong, and exit with status 1.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use clap::Args;
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::DescribeConfigsResourceResult;
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    AlterClientQuotasRequest, AlterUserScramCredentialsRequest, DescribeClientQuotasRequest,
    DescribeConfigsRequest, DescribeUserScramCredentialsRequest, IncrementalAlterConfigsRequest,
};
use kafka_protocol::protocol::StrBytes;
use rand::RngCore;
use runnel_common::kafka::{Client, Connection, ErrorCode, KafkaError};
use runnel_common::security::scram::{ScramCredential, ScramMechanism};

use super::connect;

/// Kafka's `ConfigResource.Type` codes.
const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;
/// Kafka's `AlterConfigOp.OpType`.
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
/// Versions whose fields this module fills (synonyms need DescribeConfigs v1).
const DESCRIBE_CONFIGS_VERSIONS: (i16, i16) = (1, 4);
const INCREMENTAL_ALTER_CONFIGS_VERSIONS: (i16, i16) = (0, 1);
const SCRAM_VERSIONS: (i16, i16) = (0, 0);
/// Kafka's tool default when `iterations` is not given (ScramFormatter).
const DEFAULT_ITERATIONS: u32 = 4096;
/// Salt length of Kafka's ScramFormatter: 32 random bytes.
const SALT_LEN: usize = 32;
const CLIENT_QUOTAS_VERSIONS: (i16, i16) = (0, 1);
/// DescribeClientQuotas match types.
const MATCH_EXACT: i8 = 0;
const MATCH_DEFAULT: i8 = 1;
const MATCH_SPECIFIED: i8 = 2;

#[derive(Args, Debug)]
pub struct ConfigsArgs {
    /// host:port of a broker (comma-separated list allowed).
    #[arg(long)]
    pub bootstrap_server: String,
    /// A Kafka client properties file with the security settings to connect
    /// with (security.protocol, ssl.*, sasl.*), as kafka-configs.sh takes it.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<String>,
    /// topics, brokers, users or clients; users and clients can be given
    /// together (a user's quota for one client id).
    #[arg(long, value_name = "TYPE")]
    pub entity_type: Vec<String>,
    /// The topic, broker id, user or client id, one per --entity-type in
    /// order; without it --describe covers them all.
    #[arg(long, value_name = "NAME")]
    pub entity_name: Vec<String>,
    /// The default entity (brokers: the cluster-wide default; users,
    /// clients: the default quota).
    #[arg(long, action = clap::ArgAction::Count)]
    pub entity_default: u8,
    /// Shorthand for --entity-type topics --entity-name TOPIC.
    #[arg(long, value_name = "TOPIC")]
    pub topic: Option<String>,
    /// Shorthand for --entity-type brokers --entity-name ID.
    #[arg(long, value_name = "ID")]
    pub broker: Option<String>,
    /// Shorthand for --entity-type brokers --entity-default.
    #[arg(long)]
    pub broker_defaults: bool,
    /// Shorthand for --entity-type users --entity-name USER.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Shorthand for --entity-type users --entity-default.
    #[arg(long)]
    pub user_defaults: bool,
    /// Shorthand for --entity-type clients --entity-name CLIENT_ID.
    #[arg(long, value_name = "CLIENT_ID")]
    pub client: Option<String>,
    /// Shorthand for --entity-type clients --entity-default.
    #[arg(long)]
    pub client_defaults: bool,
    /// Shorthand for --entity-type ips --entity-name IP.
    #[arg(long, value_name = "IP")]
    pub ip: Option<String>,
    /// Shorthand for --entity-type ips --entity-default.
    #[arg(long)]
    pub ip_defaults: bool,
    /// List the configs of the entity.
    #[arg(long)]
    pub describe: bool,
    /// With --describe: every config, not only the dynamic ones.
    #[arg(long)]
    pub all: bool,
    /// Change the configs of the entity (--add-config, --delete-config).
    #[arg(long)]
    pub alter: bool,
    /// Configs to set: 'k1=v1,k2=[v1,v2]' (brackets keep commas in a value).
    /// Users: 'SCRAM-SHA-512=[password=secret]' or
    /// 'SCRAM-SHA-256=[iterations=8192,password=secret]'.
    #[arg(long, value_name = "CONFIGS", allow_hyphen_values = true)]
    pub add_config: Option<String>,
    /// Config keys to remove, comma-separated (users: SCRAM mechanisms).
    #[arg(long, value_name = "KEYS")]
    pub delete_config: Option<String>,
}

pub async fn run(args: ConfigsArgs) -> anyhow::Result<()> {
    match execute(&args).await {
        Ok(()) => Ok(()),
        Err(e) => {
            eprintln!(
                "Error while executing config command with args '{}'",
                shown_args()
            );
            eprintln!("{e:#}");
            std::process::exit(1);
        }
    }
}

/// The command line after `configs`, as Kafka echoes it, with password
/// values hidden: the echo goes to logs and terminals, the password must not.
fn shown_args() -> String {
    let args: Vec<String> = std::env::args().collect();
    let start = args
        .iter()
        .position(|a| a == "configs")
        .map_or(1, |i| i + 1);
    args.get(start..)
        .unwrap_or_default()
        .iter()
        .map(|a| hide_passwords(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `…password=secret,…` → `…password=[hidden],…`.
fn hide_passwords(arg: &str) -> String {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(i) = rest.find("password=") {
        let (head, tail) = rest.split_at(i + "password=".len());
        out.push_str(head);
        let end = tail.find([',', ']']).unwrap_or(tail.len());
        out.push_str("[hidden]");
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// What the command is about.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entity {
    /// A topic, or every topic (`--describe` without a name).
    Topics(Option<String>),
    /// A broker by id, or every broker and the default.
    Brokers(Option<i32>),
    /// The cluster-wide broker default (`--entity-default`).
    BrokerDefault,
    /// Users and/or client ids: quotas, and users' SCRAM credentials.
    Principals {
        user: Option<Side>,
        client: Option<Side>,
    },
    /// An IP address: its connection_creation_rate.
    Ips(Side),
}

/// One side (user or client id) of a quota entity.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Side {
    Named(String),
    Default,
    /// No name given: every named one (`--describe` only).
    All,
}

/// The (type, side) pairs of `--entity-type`/`--entity-name`/
/// `--entity-default`, names and defaults given to the types in order.
fn typed_entities(a: &ConfigsArgs) -> anyhow::Result<Vec<(String, Side)>> {
    let types = &a.entity_type;
    let names = &a.entity_name;
    let defaults = usize::from(a.entity_default);
    if names.len() + defaults > types.len() {
        bail!("each --entity-name or --entity-default needs its own --entity-type");
    }
    if !names.is_empty() && defaults > 0 && types.len() > 1 {
        bail!(
            "a name for one entity type and the default for the other is ambiguous here; \
             use --user/--user-defaults with --client/--client-defaults"
        );
    }
    let mut names = names.iter().cloned();
    let mut defaults = defaults;
    Ok(types
        .iter()
        .map(|t| {
            let side = match names.next() {
                Some(n) => Side::Named(n),
                None if defaults > 0 => {
                    defaults -= 1;
                    Side::Default
                }
                None => Side::All,
            };
            (t.clone(), side)
        })
        .collect())
}

/// The entity from `--entity-type`/`--entity-name`/`--entity-default` or
/// the shorthands, with kafka-configs.sh's checks.
fn entity(a: &ConfigsArgs) -> anyhow::Result<Entity> {
    let named = |kind: &str, n: &Option<String>| {
        n.as_ref()
            .map(|n| (kind.to_string(), Side::Named(n.clone())))
    };
    let default = |kind: &str, d: bool| d.then(|| (kind.to_string(), Side::Default));
    let shorthands: Vec<(String, Side)> = [
        named("topics", &a.topic),
        named("brokers", &a.broker),
        default("brokers", a.broker_defaults),
        named("users", &a.user),
        default("users", a.user_defaults),
        named("clients", &a.client),
        default("clients", a.client_defaults),
        named("ips", &a.ip),
        default("ips", a.ip_defaults),
    ]
    .into_iter()
    .flatten()
    .collect();
    let given = match (shorthands.is_empty(), a.entity_type.is_empty()) {
        (false, false) => bail!(
            "--entity-type cannot be combined with --topic, --broker, --broker-defaults, \
             --user, --user-defaults, --client, --client-defaults, --ip or --ip-defaults"
        ),
        (false, true) if !a.entity_name.is_empty() || a.entity_default > 0 => {
            bail!("--entity-name and --entity-default go with --entity-type, not with a shorthand")
        }
        (false, true) => shorthands,
        (true, false) => typed_entities(a)?,
        (true, true) => bail!(
            "--entity-type (topics, brokers, users, clients, ips) or one of --topic, --broker, \
             --broker-defaults, --user, --client, --ip must be specified"
        ),
    };
    let mut user = None;
    let mut client = None;
    let mut other = None;
    for (kind, side) in given {
        let slot = match kind.as_str() {
            "users" => &mut user,
            "clients" => &mut client,
            _ => &mut other,
        };
        if slot.is_some() {
            bail!("Only users and clients can be given together, each once");
        }
        *slot = Some((kind, side));
    }
    if let Some((kind, side)) = other {
        if user.is_some() || client.is_some() {
            bail!("Only users and clients can be given together, each once");
        }
        return match (kind.as_str(), side) {
            ("topics", Side::Default) => {
                bail!("--entity-default must not be specified with --entity-type topics")
            }
            ("topics", Side::Named(n)) => Ok(Entity::Topics(Some(n))),
            ("topics", Side::All) => Ok(Entity::Topics(None)),
            ("brokers", Side::Default) => Ok(Entity::BrokerDefault),
            ("brokers", Side::All) => Ok(Entity::Brokers(None)),
            ("brokers", Side::Named(n)) => n.trim().parse::<i32>().map(|id| Entity::Brokers(Some(id))).map_err(|_| {
                anyhow!("The entity name for brokers must be a valid integer broker id, but it is: {n}")
            }),
            ("ips", side) => Ok(Entity::Ips(side)),
            ("broker-loggers", _) => bail!("broker loggers are not supported yet"),
            (other, _) => bail!(
                "Invalid entity type {other}, the entity type must be one of topics, brokers, \
                 users, clients, ips (broker-loggers are not supported yet)"
            ),
        };
    }
    Ok(Entity::Principals {
        user: user.map(|(_, s)| s),
        client: client.map(|(_, s)| s),
    })
}

/// Splits `--add-config` as Kafka does: at commas outside `[...]`, each
/// item `key=value`, brackets around a whole value dropped.
fn parse_add_config(text: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    items.push(current);
    let mut out: Vec<(String, String)> = Vec::new();
    for item in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
        let Some((key, value)) = item.split_once('=') else {
            bail!(
                "Invalid entity config: all configs to be added must be in the format \
                 \"key=val\", got {item:?}"
            );
        };
        let key = key.trim();
        if key.is_empty() {
            bail!("Invalid entity config: empty key in {item:?}");
        }
        let value = value.trim();
        let value = value
            .strip_prefix('[')
            .and_then(|v| v.strip_suffix(']'))
            .unwrap_or(value);
        out.retain(|(k, _)| k != key);
        out.push((key.to_string(), value.to_string()));
    }
    Ok(out)
}

/// `--delete-config k1,k2`: the keys, blanks dropped.
fn parse_delete_config(text: &str) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for k in text.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        if !keys.iter().any(|x| x == k) {
            keys.push(k.to_string());
        }
    }
    keys
}

async fn execute(a: &ConfigsArgs) -> anyhow::Result<()> {
    if a.describe == a.alter {
        bail!("Command must include exactly one action: --describe, --alter");
    }
    let entity = entity(a)?;
    let adds = a
        .add_config
        .as_deref()
        .map(parse_add_config)
        .transpose()?
        .unwrap_or_default();
    let deletes = a
        .delete_config
        .as_deref()
        .map(parse_delete_config)
        .unwrap_or_default();
    if a.describe && (a.add_config.is_some() || a.delete_config.is_some()) {
        bail!("--add-config and --delete-config are only valid with --alter");
    }
    if a.alter {
        if adds.is_empty() && deletes.is_empty() {
            bail!("At least one of --add-config or --delete-config must be specified with --alter");
        }
        let both: Vec<&str> = adds
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| deletes.iter().any(|d| d == k))
            .collect();
        if !both.is_empty() {
            bail!(
                "--add-config and --delete-config name the same config(s): {}",
                both.join(",")
            );
        }
        if a.all {
            bail!("--all is only valid with --describe");
        }
    }
    // Checked before connecting, so a bad key needs no cluster.
    let principal_changes = match (&entity, a.alter) {
        (Entity::Principals { user, client }, true) => {
            Some(principal_changes(user, client, &adds, &deletes)?)
        }
        (Entity::Ips(side), true) => Some(ip_changes(side, &adds, &deletes)?),
        _ => None,
    };
    let timeout = Duration::from_secs(30);
    let conn = connect(&a.bootstrap_server, timeout, a.command_config.as_deref()).await?;
    let client = &conn;
    match (entity, a.alter) {
        (Entity::Ips(side), false) => describe_quotas(client, &[("ip", &side)]).await,
        (Entity::Ips(side), true) => {
            let changes = principal_changes.unwrap_or_default();
            alter_quotas(client, &[("ip", &side)], &changes.quotas).await?;
            match side {
                Side::Named(n) => println!("Completed updating config for ip {n}."),
                _ => println!("Completed updating default config for ips in the cluster."),
            }
            Ok(())
        }
        (Entity::Principals { user, client: cid }, false) => {
            describe_quotas(client, &quota_components(user.as_ref(), cid.as_ref())).await?;
            match (&user, &cid) {
                (Some(Side::Named(u)), None) => describe_users(client, Some(u)).await,
                (Some(Side::All), None) => describe_users(client, None).await,
                _ => Ok(()),
            }
        }
        (Entity::Principals { user, client: cid }, true) => {
            let changes = principal_changes.unwrap_or_default();
            if let (Some(Side::Named(u)), true) = (&user, changes.has_scram()) {
                alter_users(client, u, &changes.upserts, &changes.deletions).await?;
            }
            if !changes.quotas.is_empty() {
                let entity = quota_components(user.as_ref(), cid.as_ref());
                alter_quotas(client, &entity, &changes.quotas).await?;
            }
            let (kind, side) = match (&user, &cid) {
                (Some(u), _) => ("user", u),
                (None, Some(c)) => ("client", c),
                (None, None) => bail!("an entity must be given"),
            };
            match side {
                Side::Named(n) => println!("Completed updating config for {kind} {n}."),
                _ => println!("Completed updating default config for {kind}s in the cluster."),
            }
            Ok(())
        }
        (entity, false) => describe_resources(client, &entity, a.all).await,
        (entity, true) => {
            let resource = Resource::of(&entity)
                .ok_or_else(|| anyhow!("--entity-name must be specified with --alter"))?;
            alter_resource(client, &resource, &adds, &deletes).await?;
            match resource.kind {
                ResourceKind::Broker if resource.name.is_empty() => {
                    println!("Completed updating default config for brokers in the cluster.")
                }
                kind => println!(
                    "Completed updating config for {} {}.",
                    kind.singular(),
                    resource.name
                ),
            }
            Ok(())
        }
    }
}

// ---- topics and brokers --------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResourceKind {
    Topic,
    Broker,
}

impl ResourceKind {
    fn code(self) -> i8 {
        match self {
            ResourceKind::Topic => RESOURCE_TOPIC,
            ResourceKind::Broker => RESOURCE_BROKER,
        }
    }

    fn singular(self) -> &'static str {
        match self {
            ResourceKind::Topic => "topic",
            ResourceKind::Broker => "broker",
        }
    }

    /// The config source whose entries are "dynamic" for this kind: what
    /// `--describe` without `--all` lists.
    fn dynamic_source(self, default: bool) -> i8 {
        match (self, default) {
            (ResourceKind::Topic, _) => 1,
            (ResourceKind::Broker, false) => 2,
            (ResourceKind::Broker, true) => 3,
        }
    }
}

/// One config resource; a broker default has the empty name, as on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Resource {
    kind: ResourceKind,
    name: String,
}

impl Resource {
    /// The single resource an entity names, if it names one.
    fn of(entity: &Entity) -> Option<Resource> {
        match entity {
            Entity::Topics(Some(t)) => Some(Resource {
                kind: ResourceKind::Topic,
                name: t.clone(),
            }),
            Entity::Brokers(Some(id)) => Some(Resource {
                kind: ResourceKind::Broker,
                name: id.to_string(),
            }),
            Entity::BrokerDefault => Some(Resource {
                kind: ResourceKind::Broker,
                name: String::new(),
            }),
            _ => None,
        }
    }

    /// Where requests about this resource go: a broker's own configs are
    /// answered (and changed) by that broker only, as in Kafka.
    async fn connection(&self, client: &Client) -> Result<Arc<Connection>, KafkaError> {
        match (self.kind, self.name.parse::<i32>()) {
            (ResourceKind::Broker, Ok(id)) => client.node(id).await,
            _ => client.any().await,
        }
    }
}

/// Kafka's `ConfigEntry.ConfigSource` names, as `--describe` prints them.
fn source_name(code: i8) -> String {
    match code {
        0 => "UNKNOWN".into(),
        1 => "DYNAMIC_TOPIC_CONFIG".into(),
        2 => "DYNAMIC_BROKER_CONFIG".into(),
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG".into(),
        4 => "STATIC_BROKER_CONFIG".into(),
        5 => "DEFAULT_CONFIG".into(),
        6 => "DYNAMIC_BROKER_LOGGER_CONFIG".into(),
        other => format!("UNKNOWN_{other}"),
    }
}

/// One line of kafka-configs.sh's describe output:
/// `  k=v sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:k=v, DEFAULT_CONFIG:k=d}`.
/// A value the broker withholds (sensitive) prints as `null`, as in Kafka.
fn describe_line(e: &DescribeConfigsResourceResult) -> String {
    let value = |v: &Option<StrBytes>| v.as_ref().map_or("null".to_string(), |v| v.to_string());
    let synonyms: Vec<String> = e
        .synonyms
        .iter()
        .map(|s| format!("{}:{}={}", source_name(s.source), &*s.name, value(&s.value)))
        .collect();
    format!(
        "  {}={} sensitive={} synonyms={{{}}}",
        &*e.name,
        value(&e.value),
        e.is_sensitive,
        synonyms.join(", ")
    )
}

/// DescribeConfigs of one resource (with synonyms), or the broker's error.
async fn describe_configs(
    client: &Client,
    resource: &Resource,
) -> anyhow::Result<Vec<DescribeConfigsResourceResult>> {
    let conn = resource.connection(client).await?;
    let version = conn.version::<DescribeConfigsRequest>(DESCRIBE_CONFIGS_VERSIONS)?;
    let mut res = DescribeConfigsResource::default();
    res.resource_type = resource.kind.code();
    res.resource_name = StrBytes::from_string(resource.name.clone());
    res.configuration_keys = None;
    let mut req = DescribeConfigsRequest::default();
    req.include_synonyms = true;
    req.resources.push(res);
    let resp = conn.call(&req, version).await?;
    let mut out = Vec::new();
    for r in resp.results {
        ErrorCode::check(r.error_code).map_err(|code| {
            KafkaError::broker(
                format!(
                    "describe configs of {} {}",
                    resource.kind.singular(),
                    resource.name
                ),
                code,
                r.error_message.as_deref(),
            )
        })?;
        out.extend(r.configs);
    }
    Ok(out)
}

async fn describe_resources(client: &Client, entity: &Entity, all: bool) -> anyhow::Result<()> {
    let resources = match Resource::of(entity) {
        Some(r) => vec![r],
        None => {
            let md = client.metadata(None, false).await?;
            match entity {
                Entity::Topics(_) => md
                    .topics
                    .keys()
                    .map(|t| Resource {
                        kind: ResourceKind::Topic,
                        name: t.clone(),
                    })
                    .collect(),
                _ => md
                    .brokers
                    .keys()
                    .map(|id| id.to_string())
                    .chain([String::new()])
                    .map(|name| Resource {
                        kind: ResourceKind::Broker,
                        name,
                    })
                    .collect(),
            }
        }
    };
    for resource in resources {
        let default = resource.kind == ResourceKind::Broker && resource.name.is_empty();
        let mut entries = describe_configs(client, &resource).await?;
        if !all {
            let source = resource.kind.dynamic_source(default);
            entries.retain(|e| e.config_source == source);
        }
        entries.sort_by(|x, y| x.name.cmp(&y.name));
        if default {
            println!("Default configs for brokers in the cluster are:");
        } else {
            println!(
                "{} configs for {} {} are:",
                if all { "All" } else { "Dynamic" },
                resource.kind.singular(),
                resource.name
            );
        }
        for e in &entries {
            println!("{}", describe_line(e));
        }
    }
    Ok(())
}

/// IncrementalAlterConfigs: SET each added key, DELETE each deleted one.
/// As kafka-configs.sh does, deleting a key that is not set on the entity
/// is refused (`Invalid config(s): k`) rather than silently a no-op.
async fn alter_resource(
    client: &Client,
    resource: &Resource,
    adds: &[(String, String)],
    deletes: &[String],
) -> anyhow::Result<()> {
    if !deletes.is_empty() {
        let default = resource.kind == ResourceKind::Broker && resource.name.is_empty();
        let source = resource.kind.dynamic_source(default);
        let current: BTreeSet<String> = describe_configs(client, resource)
            .await?
            .into_iter()
            .filter(|e| e.config_source == source)
            .map(|e| e.name.to_string())
            .collect();
        let missing: Vec<&str> = deletes
            .iter()
            .filter(|k| !current.contains(*k))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            bail!("Invalid config(s): {}", missing.join(","));
        }
    }
    let conn = resource.connection(client).await?;
    let version =
        conn.version::<IncrementalAlterConfigsRequest>(INCREMENTAL_ALTER_CONFIGS_VERSIONS)?;
    let op = |name: &str, operation: i8, value: Option<&str>| {
        let mut c = AlterableConfig::default();
        c.name = StrBytes::from_string(name.to_string());
        c.config_operation = operation;
        c.value = value.map(|v| StrBytes::from_string(v.to_string()));
        c
    };
    let mut res = AlterConfigsResource::default();
    res.resource_type = resource.kind.code();
    res.resource_name = StrBytes::from_string(resource.name.clone());
    res.configs = adds
        .iter()
        .map(|(k, v)| op(k, OP_SET, Some(v)))
        .chain(deletes.iter().map(|k| op(k, OP_DELETE, None)))
        .collect();
    let mut req = IncrementalAlterConfigsRequest::default();
    req.resources.push(res);
    let resp = conn.call(&req, version).await?;
    for r in &resp.responses {
        ErrorCode::check(r.error_code).map_err(|code| {
            KafkaError::broker(
                format!(
                    "alter configs of {} {}",
                    resource.kind.singular(),
                    resource.name
                ),
                code,
                r.error_message.as_deref(),
            )
        })?;
    }
    Ok(())
}

// ---- users and client ids: quotas -----------------------------------------

/// The quota key of IPs (KIP-612).
const IP_QUOTA_KEY: &str = "connection_creation_rate";

/// Quota keys of users and client ids (Kafka's QuotaConfigs).
const QUOTA_KEYS: &[&str] = &[
    "producer_byte_rate",
    "consumer_byte_rate",
    "request_percentage",
    "controller_mutation_rate",
];

/// What `--alter` does to a user and/or client id.
#[derive(Debug, Default, PartialEq)]
struct PrincipalChanges {
    upserts: Vec<ScramUpsert>,
    deletions: Vec<ScramMechanism>,
    /// Quota key and new value; `None` removes it.
    quotas: Vec<(String, Option<f64>)>,
}

impl PrincipalChanges {
    fn has_scram(&self) -> bool {
        !self.upserts.is_empty() || !self.deletions.is_empty()
    }
}

/// Splits `--add-config`/`--delete-config` into SCRAM credentials (a named
/// user alone) and quotas, refusing any other key by name.
fn principal_changes(
    user: &Option<Side>,
    client: &Option<Side>,
    adds: &[(String, String)],
    deletes: &[String],
) -> anyhow::Result<PrincipalChanges> {
    for (kind, side) in [("users", user), ("clients", client)] {
        if side == &Some(Side::All) {
            bail!("--entity-name or --entity-default must be specified with --alter of {kind}");
        }
    }
    let is_quota = |k: &str| QUOTA_KEYS.contains(&k);
    let scram_ok = matches!((user, client), (Some(Side::Named(_)), None));
    let invalid: Vec<&str> = adds
        .iter()
        .map(|(k, _)| k.as_str())
        .chain(deletes.iter().map(String::as_str))
        .filter(|k| {
            let scram = scram_ok && ScramMechanism::from_name(k).is_some();
            !is_quota(k) && !scram
        })
        .collect();
    if !invalid.is_empty() {
        let valid = if scram_ok {
            "users take SCRAM-SHA-256, SCRAM-SHA-512 and the quotas"
        } else {
            "quota entities take"
        };
        bail!(
            "Invalid config(s): {} ({valid} {})",
            invalid.join(","),
            QUOTA_KEYS.join(", ")
        );
    }
    let scram_adds: Vec<(String, String)> =
        adds.iter().filter(|(k, _)| !is_quota(k)).cloned().collect();
    let scram_deletes: Vec<String> = deletes.iter().filter(|k| !is_quota(k)).cloned().collect();
    let (upserts, deletions) = scram_changes(&scram_adds, &scram_deletes)?;
    let mut quotas = Vec::new();
    for (k, v) in adds.iter().filter(|(k, _)| is_quota(k)) {
        let value: f64 = v
            .trim()
            .parse()
            .map_err(|_| anyhow!("{k} must be a number, got {v:?}"))?;
        quotas.push((k.clone(), Some(value)));
    }
    quotas.extend(
        deletes
            .iter()
            .filter(|k| is_quota(k))
            .map(|k| (k.clone(), None)),
    );
    Ok(PrincipalChanges {
        upserts,
        deletions,
        quotas,
    })
}

/// `--alter` of an IP: only `connection_creation_rate`, a whole number.
fn ip_changes(
    side: &Side,
    adds: &[(String, String)],
    deletes: &[String],
) -> anyhow::Result<PrincipalChanges> {
    if side == &Side::All {
        bail!("--entity-name or --entity-default must be specified with --alter of ips");
    }
    let invalid: Vec<&str> = adds
        .iter()
        .map(|(k, _)| k.as_str())
        .chain(deletes.iter().map(String::as_str))
        .filter(|k| *k != IP_QUOTA_KEY)
        .collect();
    if !invalid.is_empty() {
        bail!(
            "Invalid config(s): {} (ips take {IP_QUOTA_KEY})",
            invalid.join(",")
        );
    }
    let mut quotas = Vec::new();
    for (k, v) in adds {
        let value: u32 = v
            .trim()
            .parse()
            .map_err(|_| anyhow!("{k} must be a whole number, got {v:?}"))?;
        quotas.push((k.clone(), Some(f64::from(value))));
    }
    quotas.extend(deletes.iter().map(|k| (k.clone(), None)));
    Ok(PrincipalChanges {
        quotas,
        ..Default::default()
    })
}

/// Kafka's quota entity types on the wire, user first.
fn quota_components<'a>(
    user: Option<&'a Side>,
    client: Option<&'a Side>,
) -> Vec<(&'static str, &'a Side)> {
    let mut out = Vec::new();
    if let Some(u) = user {
        out.push(("user", u));
    }
    if let Some(c) = client {
        out.push(("client-id", c));
    }
    out
}

async fn alter_quotas(
    client: &Client,
    entity: &[(&'static str, &Side)],
    quotas: &[(String, Option<f64>)],
) -> anyhow::Result<()> {
    use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
    let entity = entity
        .iter()
        .map(|(t, side)| {
            EntityData::default()
                .with_entity_type(StrBytes::from_static_str(t))
                .with_entity_name(match side {
                    Side::Named(n) => Some(StrBytes::from_string(n.clone())),
                    _ => None,
                })
        })
        .collect();
    let ops = quotas
        .iter()
        .map(|(k, v)| {
            OpData::default()
                .with_key(StrBytes::from_string(k.clone()))
                .with_value(v.unwrap_or(0.0))
                .with_remove(v.is_none())
        })
        .collect();
    let req = AlterClientQuotasRequest::default()
        .with_entries(vec![EntryData::default().with_entity(entity).with_ops(ops)]);
    let conn = client.any().await?;
    let version = conn.version::<AlterClientQuotasRequest>(CLIENT_QUOTAS_VERSIONS)?;
    let resp = conn.call(&req, version).await?;
    for e in &resp.entries {
        ErrorCode::check(e.error_code).map_err(|code| {
            KafkaError::broker("alter client quotas", code, e.error_message.as_deref())
        })?;
    }
    Ok(())
}

/// Kafka's line per entity:
/// `Quota configs for user-principal 'alice', client-id 'app' are producer_byte_rate=1024.0`.
fn quota_line(
    entity: &[kafka_protocol::messages::describe_client_quotas_response::EntityData],
    values: &[(String, f64)],
) -> String {
    let order = |t: &str| if t == "user" { 0 } else { 1 };
    let mut parts: Vec<_> = entity.iter().collect();
    parts.sort_by_key(|e| order(&e.entity_type));
    let who: Vec<String> = parts
        .into_iter()
        .map(|e| {
            let kind = match e.entity_type.as_str() {
                "user" => "user-principal",
                other => other,
            };
            match &e.entity_name {
                Some(n) => format!("{kind} '{}'", n.as_str()),
                None => format!("the default {kind}"),
            }
        })
        .collect();
    let values: Vec<String> = values.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!(
        "Quota configs for {} are {}",
        who.join(", "),
        values.join(", ")
    )
}

async fn describe_quotas(client: &Client, entity: &[(&'static str, &Side)]) -> anyhow::Result<()> {
    use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
    let components = entity
        .iter()
        .map(|(t, side)| {
            let (match_type, name) = match side {
                Side::Named(n) => (MATCH_EXACT, Some(StrBytes::from_string(n.clone()))),
                Side::Default => (MATCH_DEFAULT, None),
                Side::All => (MATCH_SPECIFIED, None),
            };
            ComponentData::default()
                .with_entity_type(StrBytes::from_static_str(t))
                .with_match_type(match_type)
                .with_match(name)
        })
        .collect();
    let req = DescribeClientQuotasRequest::default()
        .with_components(components)
        .with_strict(true);
    let conn = client.any().await?;
    let version = conn.version::<DescribeClientQuotasRequest>(CLIENT_QUOTAS_VERSIONS)?;
    let resp = conn.call(&req, version).await?;
    ErrorCode::check(resp.error_code).map_err(|code| {
        KafkaError::broker(
            "describe client quotas",
            code,
            resp.error_message.as_deref(),
        )
    })?;
    for entry in resp.entries.unwrap_or_default() {
        let mut values: Vec<(String, f64)> = entry
            .values
            .iter()
            .map(|v| (v.key.to_string(), v.value))
            .collect();
        values.sort_by(|a, b| a.0.cmp(&b.0));
        println!("{}", quota_line(&entry.entity, &values));
    }
    Ok(())
}

// ---- users: SCRAM credentials --------------------------------------------

/// A credential to set: mechanism, iterations, password.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ScramUpsert {
    mechanism: ScramMechanism,
    iterations: u32,
    password: String,
}

/// The SCRAM changes `--add-config`/`--delete-config` ask for on a user;
/// any other key is refused, naming it.
fn scram_changes(
    adds: &[(String, String)],
    deletes: &[String],
) -> anyhow::Result<(Vec<ScramUpsert>, Vec<ScramMechanism>)> {
    let invalid: Vec<&str> = adds
        .iter()
        .map(|(k, _)| k.as_str())
        .chain(deletes.iter().map(String::as_str))
        .filter(|k| ScramMechanism::from_name(k).is_none())
        .collect();
    if !invalid.is_empty() {
        bail!(
            "Invalid config(s): {} (users take SCRAM-SHA-256 and SCRAM-SHA-512)",
            invalid.join(",")
        );
    }
    let mut upserts = Vec::new();
    for (key, value) in adds {
        let mechanism = ScramMechanism::from_name(key).ok_or_else(|| anyhow!("{key}"))?;
        upserts.push(scram_upsert(mechanism, value)?);
    }
    let deletions = deletes
        .iter()
        .filter_map(|k| ScramMechanism::from_name(k))
        .collect();
    Ok((upserts, deletions))
}

/// `iterations=8192,password=secret` (brackets already dropped).
fn scram_upsert(mechanism: ScramMechanism, value: &str) -> anyhow::Result<ScramUpsert> {
    let name = mechanism.name();
    let mut iterations = DEFAULT_ITERATIONS;
    let mut password = None;
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some(("password", p)) => password = Some(p.to_string()),
            Some(("iterations", n)) => {
                iterations = n.trim().parse().map_err(|_| {
                    anyhow!("{name}: iterations must be a positive whole number, got {n:?}")
                })?;
            }
            _ => bail!(
                "{name}: expected [iterations=N,]password=SECRET in brackets, got \
                 an item {:?}",
                hide_passwords(part)
            ),
        }
    }
    let password = password
        .filter(|p| !p.is_empty())
        .ok_or_else(|| anyhow!("{name}: a password must be given ({name}=[password=SECRET])"))?;
    Ok(ScramUpsert {
        mechanism,
        iterations,
        password,
    })
}

/// Kafka's mechanism byte on the wire (ScramMechanism.type).
fn mechanism_byte(m: ScramMechanism) -> i8 {
    match m {
        ScramMechanism::Sha256 => 1,
        ScramMechanism::Sha512 => 2,
    }
}

fn mechanism_from_byte(b: i8) -> String {
    match b {
        1 => ScramMechanism::Sha256.name().to_string(),
        2 => ScramMechanism::Sha512.name().to_string(),
        other => format!("UNKNOWN({other})"),
    }
}

async fn alter_users(
    client: &Client,
    user: &str,
    upserts: &[ScramUpsert],
    deletions: &[ScramMechanism],
) -> anyhow::Result<()> {
    let mut req = AlterUserScramCredentialsRequest::default();
    for u in upserts {
        let mut salt = vec![0u8; SALT_LEN];
        rand::thread_rng().fill_bytes(&mut salt);
        let salted = ScramCredential::salted_password(
            u.mechanism,
            u.password.as_bytes(),
            &salt,
            u.iterations,
        );
        let mut up = ScramCredentialUpsertion::default();
        up.name = StrBytes::from_string(user.to_string());
        up.mechanism = mechanism_byte(u.mechanism);
        up.iterations = i32::try_from(u.iterations)
            .with_context(|| format!("iterations {} is too large", u.iterations))?;
        up.salt = Bytes::from(salt);
        up.salted_password = Bytes::from(salted);
        req.upsertions.push(up);
    }
    for m in deletions {
        let mut d = ScramCredentialDeletion::default();
        d.name = StrBytes::from_string(user.to_string());
        d.mechanism = mechanism_byte(*m);
        req.deletions.push(d);
    }
    let conn = client.any().await?;
    let version = conn.version::<AlterUserScramCredentialsRequest>(SCRAM_VERSIONS)?;
    let resp = conn.call(&req, version).await?;
    for r in &resp.results {
        ErrorCode::check(r.error_code).map_err(|code| {
            KafkaError::broker(
                format!("alter SCRAM credentials of user {}", &*r.user),
                code,
                r.error_message.as_deref(),
            )
        })?;
    }
    Ok(())
}

/// Kafka's line per user:
/// `SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-256=iterations=8192, …`.
/// A named user without credentials prints nothing, as with Kafka's tool.
async fn describe_users(client: &Client, user: Option<&str>) -> anyhow::Result<()> {
    let mut req = DescribeUserScramCredentialsRequest::default();
    req.users = user.map(|u| {
        let mut n = UserName::default();
        n.name = StrBytes::from_string(u.to_string());
        vec![n]
    });
    let conn = client.any().await?;
    let version = conn.version::<DescribeUserScramCredentialsRequest>(SCRAM_VERSIONS)?;
    let resp = conn.call(&req, version).await?;
    ErrorCode::check(resp.error_code).map_err(|code| {
        KafkaError::broker(
            "describe SCRAM credentials",
            code,
            resp.error_message.as_deref(),
        )
    })?;
    for r in &resp.results {
        match ErrorCode::check(r.error_code) {
            Ok(()) => {}
            // RESOURCE_NOT_FOUND: the user has no credentials.
            Err(ErrorCode(91)) => continue,
            Err(code) => {
                return Err(KafkaError::broker(
                    format!("describe SCRAM credentials of user {}", &*r.user),
                    code,
                    r.error_message.as_deref(),
                )
                .into())
            }
        }
        println!("{}", scram_line(&r.user, &r.credential_infos));
    }
    Ok(())
}

fn scram_line(
    user: &str,
    infos: &[kafka_protocol::messages::describe_user_scram_credentials_response::CredentialInfo],
) -> String {
    let mut parts: Vec<(String, i32)> = infos
        .iter()
        .map(|i| (mechanism_from_byte(i.mechanism), i.iterations))
        .collect();
    parts.sort();
    let parts: Vec<String> = parts
        .into_iter()
        .map(|(m, n)| format!("{m}=iterations={n}"))
        .collect();
    format!(
        "SCRAM credential configs for user-principal '{user}' are {}",
        parts.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use kafka_protocol::messages::describe_configs_response::DescribeConfigsSynonym;
    use kafka_protocol::messages::describe_user_scram_credentials_response::CredentialInfo;

    fn args(extra: &[&str]) -> ConfigsArgs {
        let mut argv = vec!["runnel", "configs", "--bootstrap-server", "b:1"];
        argv.extend_from_slice(extra);
        match crate::cli::Cli::try_parse_from(argv)
            .expect("parses")
            .command
        {
            crate::cli::Command::Configs(a) => a,
            other => panic!("not configs: {other:?}"),
        }
    }

    #[test]
    fn entities_from_flags_and_shorthands() {
        let e = |x: &[&str]| entity(&args(x)).map_err(|e| e.to_string());
        assert_eq!(
            e(&["--entity-type", "topics", "--entity-name", "t"]),
            Ok(Entity::Topics(Some("t".into())))
        );
        assert_eq!(e(&["--topic", "t"]), Ok(Entity::Topics(Some("t".into()))));
        assert_eq!(e(&["--broker", "2"]), Ok(Entity::Brokers(Some(2))));
        assert_eq!(e(&["--entity-type", "brokers"]), Ok(Entity::Brokers(None)));
        assert_eq!(
            e(&["--entity-type", "brokers", "--entity-default"]),
            Ok(Entity::BrokerDefault)
        );
        assert_eq!(e(&["--broker-defaults"]), Ok(Entity::BrokerDefault));
        let principals =
            |user: Option<Side>, client: Option<Side>| Ok(Entity::Principals { user, client });
        assert_eq!(
            e(&["--user", "alice"]),
            principals(Some(Side::Named("alice".into())), None)
        );
        assert_eq!(
            e(&[
                "--entity-type",
                "users",
                "--entity-name",
                "alice",
                "--entity-type",
                "clients",
                "--entity-name",
                "app"
            ]),
            principals(
                Some(Side::Named("alice".into())),
                Some(Side::Named("app".into()))
            )
        );
        assert_eq!(
            e(&["--entity-type", "clients", "--entity-default"]),
            principals(None, Some(Side::Default))
        );
        assert_eq!(
            e(&["--user", "alice", "--client-defaults"]),
            principals(Some(Side::Named("alice".into())), Some(Side::Default))
        );
        assert_eq!(
            e(&["--entity-type", "users"]),
            principals(Some(Side::All), None)
        );
        assert!(e(&[
            "--entity-type",
            "users",
            "--entity-name",
            "a",
            "--entity-type",
            "clients",
            "--entity-default"
        ])
        .unwrap_err()
        .contains("ambiguous"));
        assert!(e(&["--entity-type", "users", "--entity-type", "topics"]).is_err());
        assert_eq!(
            e(&["--entity-type", "ips"]).unwrap(),
            Entity::Ips(Side::All)
        );
        assert_eq!(
            e(&["--entity-type", "ips", "--entity-name", "10.0.0.1"]).unwrap(),
            Entity::Ips(Side::Named("10.0.0.1".into()))
        );
        assert_eq!(e(&["--ip-defaults"]).unwrap(), Entity::Ips(Side::Default));
        assert!(e(&["--ip", "10.0.0.1", "--user", "u"]).is_err());
        assert!(ip_changes(
            &Side::Default,
            &[("producer_byte_rate".into(), "1".into())],
            &[]
        )
        .is_err());
        assert!(ip_changes(&Side::Default, &[(IP_QUOTA_KEY.into(), "1.5".into())], &[]).is_err());
        assert_eq!(
            ip_changes(
                &Side::Named("::1".into()),
                &[(IP_QUOTA_KEY.into(), "7".into())],
                &[]
            )
            .unwrap()
            .quotas,
            vec![(IP_QUOTA_KEY.to_string(), Some(7.0))]
        );
        assert!(e(&["--entity-type", "brokers", "--entity-name", "x"])
            .unwrap_err()
            .contains("valid integer broker id"));
        assert!(e(&["--entity-type", "topics", "--entity-default"]).is_err());
        assert!(e(&["--topic", "t", "--user", "u"]).is_err());
        assert!(e(&["--topic", "t", "--entity-type", "topics"]).is_err());
        assert!(e(&["--entity-type", "groups"])
            .unwrap_err()
            .contains("Invalid entity type"));
        assert!(e(&[]).is_err());
    }

    #[test]
    fn add_config_splits_outside_brackets() {
        let got =
            parse_add_config("a=1, b=[x,y] ,SCRAM-SHA-256=[iterations=8192,password=p],c=k=v")
                .unwrap();
        assert_eq!(
            got,
            vec![
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "x,y".to_string()),
                (
                    "SCRAM-SHA-256".to_string(),
                    "iterations=8192,password=p".to_string()
                ),
                ("c".to_string(), "k=v".to_string()),
            ]
        );
        assert!(parse_add_config("novalue").is_err());
        assert!(parse_add_config("=1").is_err());
        assert_eq!(
            parse_delete_config("a, b,,a"),
            vec!["a".to_string(), "b".to_string()]
        );
    }

    #[test]
    fn scram_settings_parse_with_kafka_defaults() {
        let adds = parse_add_config(
            "SCRAM-SHA-512=[password=alice-secret],SCRAM-SHA-256=[iterations=8192,password=x]",
        )
        .unwrap();
        let (ups, dels) = scram_changes(&adds, &[]).unwrap();
        assert!(dels.is_empty());
        assert_eq!(
            ups,
            vec![
                ScramUpsert {
                    mechanism: ScramMechanism::Sha512,
                    iterations: 4096,
                    password: "alice-secret".into()
                },
                ScramUpsert {
                    mechanism: ScramMechanism::Sha256,
                    iterations: 8192,
                    password: "x".into()
                },
            ]
        );
        let (_, dels) = scram_changes(&[], &["SCRAM-SHA-512".to_string()]).unwrap();
        assert_eq!(dels, vec![ScramMechanism::Sha512]);
        let e = scram_changes(&[("SCRAM-SHA-1".into(), "password=x".into())], &[]).unwrap_err();
        assert!(
            e.to_string().starts_with("Invalid config(s): SCRAM-SHA-1"),
            "{e}"
        );
        let e = scram_changes(&[("SCRAM-SHA-256".into(), "iterations=9".into())], &[]).unwrap_err();
        assert!(e.to_string().contains("a password must be given"), "{e}");
        let e = scram_changes(
            &[("SCRAM-SHA-256".into(), "iterations=x,password=p".into())],
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("iterations"), "{e}");
    }

    #[test]
    fn passwords_are_hidden_in_echoed_args() {
        assert_eq!(
            hide_passwords(
                "SCRAM-SHA-256=[iterations=8192,password=s3cret],SCRAM-SHA-512=[password=x]"
            ),
            "SCRAM-SHA-256=[iterations=8192,password=[hidden]],SCRAM-SHA-512=[password=[hidden]]"
        );
        assert_eq!(hide_passwords("--alter"), "--alter");
    }

    #[test]
    fn describe_lines_in_kafka_shape() {
        let e = DescribeConfigsResourceResult::default()
            .with_name(StrBytes::from_static_str("retention.ms"))
            .with_value(Some(StrBytes::from_static_str("1000")))
            .with_config_source(1)
            .with_synonyms(vec![
                DescribeConfigsSynonym::default()
                    .with_name(StrBytes::from_static_str("retention.ms"))
                    .with_value(Some(StrBytes::from_static_str("1000")))
                    .with_source(1),
                DescribeConfigsSynonym::default()
                    .with_name(StrBytes::from_static_str("retention.ms"))
                    .with_value(Some(StrBytes::from_static_str("604800000")))
                    .with_source(5),
            ]);
        assert_eq!(
            describe_line(&e),
            "  retention.ms=1000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000, \
             DEFAULT_CONFIG:retention.ms=604800000}"
        );
        let secret = DescribeConfigsResourceResult::default()
            .with_name(StrBytes::from_static_str("ssl.key.password"))
            .with_value(None)
            .with_is_sensitive(true);
        assert_eq!(
            describe_line(&secret),
            "  ssl.key.password=null sensitive=true synonyms={}"
        );
    }

    #[test]
    fn quota_and_scram_keys_are_told_apart() {
        let alice = Some(Side::Named("alice".into()));
        let adds = parse_add_config("producer_byte_rate=1024,SCRAM-SHA-512=[password=p]").unwrap();
        let c = principal_changes(&alice, &None, &adds, &["request_percentage".into()]).unwrap();
        assert_eq!(c.upserts.len(), 1);
        assert_eq!(
            c.quotas,
            vec![
                ("producer_byte_rate".to_string(), Some(1024.0)),
                ("request_percentage".to_string(), None)
            ]
        );
        // SCRAM keys only for a named user alone.
        let app = Some(Side::Named("app".into()));
        let e = principal_changes(&alice, &app, &adds, &[]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Invalid config(s): SCRAM-SHA-512"),
            "{e}"
        );
        let bad = parse_add_config("retention.ms=1").unwrap();
        assert!(principal_changes(&None, &app, &bad, &[]).is_err());
        let e = principal_changes(&Some(Side::All), &None, &adds, &[]).unwrap_err();
        assert!(e.to_string().contains("--entity-default"), "{e}");
        let nan = parse_add_config("producer_byte_rate=lots").unwrap();
        assert!(principal_changes(&alice, &None, &nan, &[]).is_err());
    }

    #[test]
    fn quota_line_is_kafkas() {
        use kafka_protocol::messages::describe_client_quotas_response::EntityData;
        let entity = vec![
            EntityData::default()
                .with_entity_type(StrBytes::from_static_str("client-id"))
                .with_entity_name(None),
            EntityData::default()
                .with_entity_type(StrBytes::from_static_str("user"))
                .with_entity_name(Some(StrBytes::from_static_str("alice"))),
        ];
        assert_eq!(
            quota_line(
                &entity,
                &[
                    ("producer_byte_rate".into(), 1024.0),
                    ("request_percentage".into(), 12.5)
                ]
            ),
            "Quota configs for user-principal 'alice', the default client-id are \
             producer_byte_rate=1024.0, request_percentage=12.5"
        );
    }

    #[test]
    fn scram_line_is_kafkas() {
        let infos = vec![
            CredentialInfo::default()
                .with_mechanism(2)
                .with_iterations(4096),
            CredentialInfo::default()
                .with_mechanism(1)
                .with_iterations(8192),
        ];
        assert_eq!(
            scram_line("alice", &infos),
            "SCRAM credential configs for user-principal 'alice' are \
             SCRAM-SHA-256=iterations=8192, SCRAM-SHA-512=iterations=4096"
        );
    }
}
