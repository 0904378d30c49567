//! Quota entities and Kafka's precedence between them (KIP-55).
//!
//! A quota is configured for a user, a client id, or a user and client id
//! together, each either named or `<default>`. For a connection's user `u`
//! and client id `c`, the most specific entity that has the quota in
//! question wins, in this order:
//!
//! 1. `/config/users/u/clients/c`
//! 2. `/config/users/u/clients/<default>`
//! 3. `/config/users/u`
//! 4. `/config/users/<default>/clients/c`
//! 5. `/config/users/<default>/clients/<default>`
//! 6. `/config/users/<default>`
//! 7. `/config/clients/c`
//! 8. `/config/clients/<default>`
//!
//! The winning entity also says who shares the measured rate: a quota of
//! `/config/users/u` is one budget for all of u's client ids, a quota of
//! `/config/users/<default>/clients/<default>` one budget per (user,
//! client id) pair.
//!
//! IP entities (KIP-612) stand alone: `/config/ips/<ip>` or
//! `/config/ips/<default>` holds the `connection_creation_rate` of
//! connections from one address; they are never combined with a user or a
//! client id, and no other quota applies to them.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;

/// Kafka's name of the default entity, in znode paths and on the wire.
pub const DEFAULT_NAME: &str = "<default>";

/// One side of an entity: a named user or client id, or the default.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Name {
    Named(String),
    Default,
}

impl Name {
    /// From a znode name as stored: `<default>` is the default, anything
    /// else an escaped name (`%3Cdefault%3E` is a user named `<default>`).
    pub fn from_node(node: &str) -> Name {
        if node == DEFAULT_NAME {
            Name::Default
        } else {
            Name::Named(crate::metadata::layout::desanitize(node))
        }
    }

    /// The znode name: `<default>`, or the name escaped as Kafka does.
    pub fn node(&self) -> String {
        match self {
            Name::Named(n) => crate::metadata::layout::escape(n),
            Name::Default => DEFAULT_NAME.to_string(),
        }
    }

    /// An IP entity's znode name: the address as it is (Kafka does not
    /// sanitize IPs; `:` is fine in a znode name), or `<default>`.
    pub fn ip_node(&self) -> String {
        match self {
            Name::Named(n) => n.clone(),
            Name::Default => DEFAULT_NAME.to_string(),
        }
    }

    /// From an IP entity's znode name.
    pub fn from_ip_node(node: &str) -> Name {
        if node == DEFAULT_NAME {
            Name::Default
        } else {
            Name::Named(node.to_string())
        }
    }

    /// From the wire: a null name is the default.
    pub fn from_wire(name: Option<&str>) -> Name {
        match name {
            None => Name::Default,
            Some(n) => Name::Named(n.to_string()),
        }
    }

    pub fn as_wire(&self) -> Option<&str> {
        match self {
            Name::Named(n) => Some(n),
            Name::Default => None,
        }
    }
}

/// Entity types on the wire (Kafka's `ClientQuotaEntity`).
pub const USER: &str = "user";
pub const CLIENT_ID: &str = "client-id";
pub const IP: &str = "ip";

/// Why a wire entity is refused (INVALID_REQUEST with this message).
fn check_entity_type(entity_type: &str) -> Result<(), String> {
    match entity_type {
        USER | CLIENT_ID | IP => Ok(()),
        other => Err(format!("Unexpected quota entity type: {other}")),
    }
}

/// An IP entity's name in its canonical form (`::1`, `10.0.0.1`), so that
/// one address has one znode whatever way it was written.
fn ip_name(name: &str) -> Result<String, String> {
    name.trim()
        .parse::<IpAddr>()
        .map(|ip| ip.to_canonical().to_string())
        .map_err(|_| format!("{name} is not a valid IP or resolvable host."))
}

/// What a quota is configured for: a user, a client id, both, or an IP.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QuotaEntity {
    pub user: Option<Name>,
    pub client: Option<Name>,
    /// Never together with `user` or `client`.
    pub ip: Option<Name>,
}

impl QuotaEntity {
    pub fn user(name: Name) -> QuotaEntity {
        QuotaEntity {
            user: Some(name),
            client: None,
            ip: None,
        }
    }

    pub fn client(name: Name) -> QuotaEntity {
        QuotaEntity {
            user: None,
            client: Some(name),
            ip: None,
        }
    }

    pub fn user_client(user: Name, client: Name) -> QuotaEntity {
        QuotaEntity {
            user: Some(user),
            client: Some(client),
            ip: None,
        }
    }

    pub fn ip(name: Name) -> QuotaEntity {
        QuotaEntity {
            user: None,
            client: None,
            ip: Some(name),
        }
    }

    /// Whether `kind` can be configured for this entity: only
    /// `connection_creation_rate` for IPs, every other kind for users and
    /// client ids (Kafka's `DynamicConfig.Ip` / `DynamicConfig.Client`).
    pub fn takes(&self, kind: QuotaKind) -> bool {
        self.ip.is_some() == (kind == QuotaKind::ConnectionCreationRate)
    }
}

impl QuotaEntity {
    /// From the wire's `(entity_type, entity_name)` components (a null
    /// name is the default), with Kafka's checks.
    pub fn from_components<'a>(
        components: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Result<QuotaEntity, String> {
        let mut entity = QuotaEntity {
            user: None,
            client: None,
            ip: None,
        };
        for (entity_type, name) in components {
            check_entity_type(entity_type)?;
            let side = match entity_type {
                USER => &mut entity.user,
                IP => &mut entity.ip,
                _ => &mut entity.client,
            };
            if side.is_some() {
                return Err(format!(
                    "Duplicate {entity_type} entity in the quota entity"
                ));
            }
            *side = Some(match (entity_type, name) {
                (IP, Some(n)) => Name::Named(ip_name(n)?),
                _ => Name::from_wire(name),
            });
        }
        if entity.ip.is_some() && (entity.user.is_some() || entity.client.is_some()) {
            return Err(
                "Invalid quota entity combination, IP entity should not be combined \
                        with User or ClientId"
                    .into(),
            );
        }
        if entity.user.is_none() && entity.client.is_none() && entity.ip.is_none() {
            return Err("Invalid empty client quota entity".into());
        }
        Ok(entity)
    }

    /// The wire's components, user first.
    pub fn components(&self) -> Vec<(&'static str, Option<&str>)> {
        let mut out = Vec::new();
        if let Some(u) = &self.user {
            out.push((USER, u.as_wire()));
        }
        if let Some(c) = &self.client {
            out.push((CLIENT_ID, c.as_wire()));
        }
        if let Some(ip) = &self.ip {
            out.push((IP, ip.as_wire()));
        }
        out
    }
}

/// How a DescribeClientQuotas filter component matches one side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// MATCH_TYPE_EXACT: this name.
    Exact(String),
    /// MATCH_TYPE_DEFAULT: the default.
    Default,
    /// MATCH_TYPE_SPECIFIED: any entity with this side, the default
    /// included (Kafka's ZooKeeper-mode `describeClientQuotas` desanitizes
    /// `<default>` to a null name that still counts as "defined").
    Specified,
}

/// A DescribeClientQuotas filter: one match per side at most; `strict`
/// leaves out entities with a side the filter does not name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub user: Option<Match>,
    pub client: Option<Match>,
    pub ip: Option<Match>,
    pub strict: bool,
}

impl Filter {
    /// From the wire's `(entity_type, match_type, match)` components.
    pub fn from_components<'a>(
        components: impl IntoIterator<Item = (&'a str, i8, Option<&'a str>)>,
        strict: bool,
    ) -> Result<Filter, String> {
        let mut filter = Filter {
            user: None,
            client: None,
            ip: None,
            strict,
        };
        for (entity_type, match_type, name) in components {
            check_entity_type(entity_type)?;
            let m = match (match_type, name) {
                (0, Some(n)) => Match::Exact(n.to_string()),
                (0, None) => {
                    return Err(format!(
                        "Missing match name for {entity_type} (exact match)"
                    ))
                }
                (1, _) => Match::Default,
                (2, _) => Match::Specified,
                (other, _) => return Err(format!("Unexpected match type {other}")),
            };
            let side = match entity_type {
                USER => &mut filter.user,
                IP => &mut filter.ip,
                _ => &mut filter.client,
            };
            if side.is_some() {
                return Err(format!(
                    "Duplicate {entity_type} filter component entity type"
                ));
            }
            *side = Some(match m {
                Match::Exact(n) if entity_type == IP => Match::Exact(ip_name(&n)?),
                m => m,
            });
        }
        if filter.ip.is_some() && (filter.user.is_some() || filter.client.is_some()) {
            return Err(
                "Invalid entity filter component combination, IP filter component \
                        should not be used with User or clientId filter component."
                    .into(),
            );
        }
        Ok(filter)
    }

    pub fn matches(&self, entity: &QuotaEntity) -> bool {
        fn side(m: &Option<Match>, name: &Option<Name>, strict: bool) -> bool {
            match (m, name) {
                (None, None) => true,
                (None, Some(_)) => !strict,
                (Some(_), None) => false,
                (Some(Match::Exact(n)), Some(Name::Named(x))) => n == x,
                (Some(Match::Default), Some(Name::Default)) => true,
                (Some(Match::Specified), Some(_)) => true,
                (Some(_), Some(_)) => false,
            }
        }
        side(&self.user, &entity.user, self.strict)
            && side(&self.client, &entity.client, self.strict)
            && side(&self.ip, &entity.ip, self.strict)
    }
}

impl fmt::Display for QuotaEntity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(u) = &self.user {
            parts.push(format!("users/{}", u.node()));
        }
        if let Some(c) = &self.client {
            parts.push(format!("clients/{}", c.node()));
        }
        if let Some(ip) = &self.ip {
            parts.push(format!("ips/{}", ip.ip_node()));
        }
        f.write_str(&parts.join("/"))
    }
}

/// The quota types of users and client ids (Kafka's `QuotaConfigs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QuotaKind {
    /// Produce request bytes per second.
    ProducerByteRate,
    /// Fetch response bytes per second.
    ConsumerByteRate,
    /// Request handling time, in percent of one thread.
    RequestPercentage,
    /// Partition mutations per second (CreateTopics, CreatePartitions,
    /// DeleteTopics), KIP-599.
    ControllerMutationRate,
    /// New connections per second from one IP (KIP-612).
    ConnectionCreationRate,
}

impl QuotaKind {
    pub const ALL: [QuotaKind; 5] = [
        QuotaKind::ProducerByteRate,
        QuotaKind::ConsumerByteRate,
        QuotaKind::RequestPercentage,
        QuotaKind::ControllerMutationRate,
        QuotaKind::ConnectionCreationRate,
    ];

    pub fn key(self) -> &'static str {
        match self {
            QuotaKind::ProducerByteRate => "producer_byte_rate",
            QuotaKind::ConsumerByteRate => "consumer_byte_rate",
            QuotaKind::RequestPercentage => "request_percentage",
            QuotaKind::ControllerMutationRate => "controller_mutation_rate",
            QuotaKind::ConnectionCreationRate => "connection_creation_rate",
        }
    }

    pub fn from_key(key: &str) -> Option<QuotaKind> {
        QuotaKind::ALL.into_iter().find(|k| k.key() == key)
    }

    /// Kafka types the byte rates as LONG and the connection rate as INT:
    /// a fraction is refused.
    pub fn is_whole(self) -> bool {
        matches!(
            self,
            QuotaKind::ProducerByteRate
                | QuotaKind::ConsumerByteRate
                | QuotaKind::ConnectionCreationRate
        )
    }

    /// Kafka's name of the type a whole kind is refused for, in "must be
    /// a Long value".
    pub fn whole_type(self) -> &'static str {
        match self {
            QuotaKind::ConnectionCreationRate => "Int",
            _ => "Long",
        }
    }

    /// The value as Kafka writes it in the entity's znode (`1024`,
    /// `200.0`).
    pub fn format(self, value: f64) -> String {
        if self.is_whole() {
            format!("{}", value as i64)
        } else {
            format!("{value:?}")
        }
    }
}

/// Whose usage is measured together: the tags of Kafka's quota sensor.
/// An empty string stands for "any".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MetricKey {
    pub user: String,
    pub client: String,
}

/// Every configured quota, by entity.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct QuotaConfigs {
    entities: HashMap<QuotaEntity, BTreeMap<QuotaKind, f64>>,
    /// The same limits per kind, laid out so that [`QuotaConfigs::resolve`]
    /// looks a request's user and client id up by `&str`, without building
    /// an owned key per candidate entity on every request.
    by_kind: BTreeMap<QuotaKind, UserSides>,
    /// `connection_creation_rate` of IP entities.
    ips: IpLimits,
}

/// Connection rates by IP, and the `<default>` IP's.
#[derive(Debug, Default, Clone, PartialEq)]
struct IpLimits {
    named: HashMap<IpAddr, f64>,
    default: Option<f64>,
}

/// One kind's limits by the entity's user side, then its client side.
#[derive(Debug, Default, Clone, PartialEq)]
struct UserSides {
    named: HashMap<String, ClientSides>,
    default: ClientSides,
    absent: ClientSides,
}

#[derive(Debug, Default, Clone, PartialEq)]
struct ClientSides {
    named: HashMap<String, f64>,
    default: Option<f64>,
    absent: Option<f64>,
}

/// One side of an entity to look up: a name, `<default>`, or not part of it.
#[derive(Clone, Copy)]
enum Side<'a> {
    Named(&'a str),
    Default,
    Absent,
}

impl UserSides {
    fn insert(&mut self, entity: &QuotaEntity, limit: f64) {
        let clients = match &entity.user {
            Some(Name::Named(u)) => self.named.entry(u.clone()).or_default(),
            Some(Name::Default) => &mut self.default,
            None => &mut self.absent,
        };
        match &entity.client {
            Some(Name::Named(c)) => {
                clients.named.insert(c.clone(), limit);
            }
            Some(Name::Default) => clients.default = Some(limit),
            None => clients.absent = Some(limit),
        }
    }

    fn get(&self, user: Side<'_>, client: Side<'_>) -> Option<f64> {
        let clients = match user {
            Side::Named(u) => self.named.get(u)?,
            Side::Default => &self.default,
            Side::Absent => &self.absent,
        };
        match client {
            Side::Named(c) => clients.named.get(c).copied(),
            Side::Default => clients.default,
            Side::Absent => clients.absent,
        }
    }
}

impl QuotaConfigs {
    /// From each entity's stored config; keys that are not quotas (SCRAM
    /// credentials share the user's znode) and unparsable values are left
    /// out.
    pub fn from_stored(stored: Vec<(QuotaEntity, BTreeMap<String, String>)>) -> QuotaConfigs {
        let mut entities = HashMap::new();
        let mut by_kind: BTreeMap<QuotaKind, UserSides> = BTreeMap::new();
        let mut ips = IpLimits::default();
        for (entity, config) in stored {
            // Values written by other tools: only finite positive limits,
            // of the kinds the entity takes.
            let quotas: BTreeMap<QuotaKind, f64> = config
                .iter()
                .filter_map(|(k, v)| Some((QuotaKind::from_key(k)?, v.trim().parse().ok()?)))
                .filter(|(k, v): &(QuotaKind, f64)| entity.takes(*k) && v.is_finite() && *v > 0.0)
                .collect();
            for (kind, limit) in &quotas {
                match &entity.ip {
                    None => by_kind.entry(*kind).or_default().insert(&entity, *limit),
                    Some(Name::Default) => ips.default = Some(*limit),
                    Some(Name::Named(ip)) => {
                        if let Ok(ip) = ip.parse::<IpAddr>() {
                            ips.named.insert(ip.to_canonical(), *limit);
                        }
                    }
                }
            }
            if !quotas.is_empty() {
                entities.insert(entity, quotas);
            }
        }
        QuotaConfigs {
            entities,
            by_kind,
            ips,
        }
    }

    /// The `connection_creation_rate` of connections from `ip`: its own,
    /// else the `<default>` IP's; `None` when unlimited.
    pub fn ip_connection_rate(&self, ip: IpAddr) -> Option<f64> {
        self.ips
            .named
            .get(&ip.to_canonical())
            .copied()
            .or(self.ips.default)
    }

    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    /// Whether any entity has a quota of `kind`.
    pub fn has(&self, kind: QuotaKind) -> bool {
        match kind {
            QuotaKind::ConnectionCreationRate => {
                self.ips.default.is_some() || !self.ips.named.is_empty()
            }
            _ => self.by_kind.contains_key(&kind),
        }
    }

    /// Every entity with its quotas.
    pub fn iter(&self) -> impl Iterator<Item = (&QuotaEntity, &BTreeMap<QuotaKind, f64>)> {
        self.entities.iter()
    }

    /// The quota of `kind` for `user` (principal name without `User:`)
    /// and `client`: its limit and who shares it; `None` when unlimited.
    pub fn resolve(&self, user: &str, client: &str, kind: QuotaKind) -> Option<(MetricKey, f64)> {
        let sides = self.by_kind.get(&kind)?;
        let (u, c) = (Side::Named(user), Side::Named(client));
        // (user side, client side, whether the budget is per user, whether
        // per client id), most specific first: Kafka's order.
        let order = [
            (u, c, true, true),
            (u, Side::Default, true, true),
            (u, Side::Absent, true, false),
            (Side::Default, c, true, true),
            (Side::Default, Side::Default, true, true),
            (Side::Default, Side::Absent, true, false),
            (Side::Absent, c, false, true),
            (Side::Absent, Side::Default, false, true),
        ];
        order.into_iter().find_map(|(u, c, by_user, by_client)| {
            let limit = sides.get(u, c)?;
            let key = MetricKey {
                user: if by_user { user.into() } else { String::new() },
                client: if by_client {
                    client.into()
                } else {
                    String::new()
                },
            };
            Some((key, limit))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configs(entries: &[(QuotaEntity, &str, &str)]) -> QuotaConfigs {
        let mut stored: BTreeMap<QuotaEntity, BTreeMap<String, String>> = BTreeMap::new();
        for (e, k, v) in entries {
            stored
                .entry(e.clone())
                .or_default()
                .insert(k.to_string(), v.to_string());
        }
        QuotaConfigs::from_stored(stored.into_iter().collect())
    }

    fn named(n: &str) -> Name {
        Name::Named(n.into())
    }

    #[test]
    fn most_specific_entity_wins_per_kind() {
        let p = "producer_byte_rate";
        let c = "consumer_byte_rate";
        let q = configs(&[
            (
                QuotaEntity::user_client(named("alice"), named("app")),
                p,
                "100",
            ),
            (QuotaEntity::user(named("alice")), p, "200"),
            (QuotaEntity::user(named("alice")), c, "300"),
            (QuotaEntity::user(Name::Default), p, "400"),
            (QuotaEntity::client(named("app")), p, "500"),
            (QuotaEntity::client(Name::Default), c, "600"),
        ]);
        let limit = |u: &str, cl: &str, k| q.resolve(u, cl, k).map(|(_, l)| l);
        use QuotaKind::*;
        assert_eq!(limit("alice", "app", ProducerByteRate), Some(100.0));
        assert_eq!(limit("alice", "other", ProducerByteRate), Some(200.0));
        assert_eq!(limit("alice", "app", ConsumerByteRate), Some(300.0));
        // Any user default comes before any client quota.
        assert_eq!(limit("bob", "app", ProducerByteRate), Some(400.0));
        assert_eq!(limit("bob", "app", ConsumerByteRate), Some(600.0));
        assert_eq!(limit("bob", "app", RequestPercentage), None);
    }

    #[test]
    fn the_winning_entity_says_who_shares_the_budget() {
        let q = configs(&[
            (QuotaEntity::user(named("alice")), "producer_byte_rate", "1"),
            (
                QuotaEntity::client(Name::Default),
                "producer_byte_rate",
                "2",
            ),
            (
                QuotaEntity::user_client(Name::Default, Name::Default),
                "request_percentage",
                "50.0",
            ),
        ]);
        let (key, _) = q
            .resolve("alice", "app", QuotaKind::ProducerByteRate)
            .unwrap();
        assert_eq!((key.user.as_str(), key.client.as_str()), ("alice", ""));
        let (key, _) = q
            .resolve("bob", "app", QuotaKind::ProducerByteRate)
            .unwrap();
        assert_eq!((key.user.as_str(), key.client.as_str()), ("", "app"));
        let (key, limit) = q
            .resolve("bob", "app", QuotaKind::RequestPercentage)
            .unwrap();
        assert_eq!((key.user.as_str(), key.client.as_str()), ("bob", "app"));
        assert_eq!(limit, 50.0);
    }

    #[test]
    fn other_keys_and_bad_values_are_left_out() {
        let q = configs(&[
            (
                QuotaEntity::user(named("alice")),
                "SCRAM-SHA-256",
                "salt=...",
            ),
            (
                QuotaEntity::user(named("bob")),
                "producer_byte_rate",
                "lots",
            ),
        ]);
        assert!(q.is_empty());
    }

    #[test]
    fn filters_match_as_kafkas() {
        let alice = QuotaEntity::user(named("alice"));
        let alice_app = QuotaEntity::user_client(named("alice"), named("app"));
        let default_user = QuotaEntity::user(Name::Default);
        let f = |c: &[(&str, i8, Option<&str>)], strict| {
            Filter::from_components(c.iter().copied(), strict).unwrap()
        };
        let exact = f(&[(USER, 0, Some("alice"))], false);
        assert!(exact.matches(&alice) && exact.matches(&alice_app));
        assert!(!exact.matches(&default_user));
        let strict = f(&[(USER, 0, Some("alice"))], true);
        assert!(strict.matches(&alice) && !strict.matches(&alice_app));
        let default = f(&[(USER, 1, None)], false);
        assert!(default.matches(&default_user) && !default.matches(&alice));
        let any = f(&[(USER, 2, None)], true);
        assert!(any.matches(&alice) && any.matches(&default_user));
        assert!(!any.matches(&QuotaEntity::client(Name::Default)));
        assert!(f(&[], false).matches(&alice_app));
        assert!(Filter::from_components([(USER, 0, None)], false).is_err());
        assert!(Filter::from_components([(USER, 1, None), (USER, 2, None)], false).is_err());
    }

    #[test]
    fn entities_come_from_components() {
        let e = QuotaEntity::from_components([(USER, Some("alice")), (CLIENT_ID, None)]).unwrap();
        assert_eq!(e, QuotaEntity::user_client(named("alice"), Name::Default));
        assert_eq!(
            e.components(),
            vec![(USER, Some("alice")), (CLIENT_ID, None)]
        );
        assert!(QuotaEntity::from_components([]).is_err());
        assert!(QuotaEntity::from_components([(USER, None), (USER, Some("x"))]).is_err());
        assert!(QuotaEntity::from_components([("group", Some("x"))]).is_err());
    }

    #[test]
    fn ip_entities_stand_alone_and_take_only_the_connection_rate() {
        let e = QuotaEntity::from_components([(IP, Some("::ffff:10.0.0.1"))]).unwrap();
        assert_eq!(e, QuotaEntity::ip(named("10.0.0.1")));
        assert_eq!(e.to_string(), "ips/10.0.0.1");
        assert_eq!(
            QuotaEntity::from_components([(IP, None)]).unwrap(),
            QuotaEntity::ip(Name::Default)
        );
        let mixed = QuotaEntity::from_components([(USER, Some("a")), (IP, None)]).unwrap_err();
        assert!(
            mixed.contains("IP entity should not be combined"),
            "{mixed}"
        );
        let bad = QuotaEntity::from_components([(IP, Some("nope"))]).unwrap_err();
        assert_eq!(bad, "nope is not a valid IP or resolvable host.");
        assert!(e.takes(QuotaKind::ConnectionCreationRate));
        assert!(!e.takes(QuotaKind::ProducerByteRate));
        assert!(!QuotaEntity::user(Name::Default).takes(QuotaKind::ConnectionCreationRate));

        let q = configs(&[
            (
                QuotaEntity::ip(named("10.0.0.1")),
                "connection_creation_rate",
                "5",
            ),
            (
                QuotaEntity::ip(Name::Default),
                "connection_creation_rate",
                "50",
            ),
            // Not a key an IP takes, nor a user: left out.
            (
                QuotaEntity::ip(named("10.0.0.2")),
                "producer_byte_rate",
                "5",
            ),
            (
                QuotaEntity::user(Name::Default),
                "connection_creation_rate",
                "1",
            ),
        ]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(q.ip_connection_rate(ip("10.0.0.1")), Some(5.0));
        assert_eq!(q.ip_connection_rate(ip("::ffff:10.0.0.1")), Some(5.0));
        assert_eq!(q.ip_connection_rate(ip("10.0.0.2")), Some(50.0));
        assert!(q.has(QuotaKind::ConnectionCreationRate));
        assert!(!q.has(QuotaKind::ProducerByteRate));
        assert_eq!(q.iter().count(), 2);

        let f = |c: &[(&str, i8, Option<&str>)], strict| {
            Filter::from_components(c.iter().copied(), strict).unwrap()
        };
        let ips = f(&[(IP, 2, None)], false);
        assert!(ips.matches(&QuotaEntity::ip(named("10.0.0.1"))));
        assert!(ips.matches(&QuotaEntity::ip(Name::Default)));
        assert!(!ips.matches(&QuotaEntity::user(named("alice"))));
        assert!(!f(&[(USER, 2, None)], false).matches(&QuotaEntity::ip(named("10.0.0.1"))));
        assert!(f(&[], false).matches(&QuotaEntity::ip(named("10.0.0.1"))));
        assert!(Filter::from_components([(IP, 1, None), (USER, 1, None)], false).is_err());
    }

    #[test]
    fn values_are_written_as_kafka_writes_them() {
        assert_eq!(QuotaKind::ProducerByteRate.format(1024.0), "1024");
        assert_eq!(QuotaKind::RequestPercentage.format(200.0), "200.0");
        assert_eq!(QuotaKind::RequestPercentage.format(12.5), "12.5");
    }
}
