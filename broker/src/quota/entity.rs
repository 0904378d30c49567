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

use std::collections::{BTreeMap, HashMap};
use std::fmt;

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
        USER | CLIENT_ID => Ok(()),
        IP => Err("IP quotas (connection_creation_rate) are not supported yet".into()),
        other => Err(format!("Unexpected quota entity type: {other}")),
    }
}

/// What a quota is configured for: a user, a client id, or both.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QuotaEntity {
    pub user: Option<Name>,
    pub client: Option<Name>,
}

impl QuotaEntity {
    pub fn user(name: Name) -> QuotaEntity {
        QuotaEntity {
            user: Some(name),
            client: None,
        }
    }

    pub fn client(name: Name) -> QuotaEntity {
        QuotaEntity {
            user: None,
            client: Some(name),
        }
    }

    pub fn user_client(user: Name, client: Name) -> QuotaEntity {
        QuotaEntity {
            user: Some(user),
            client: Some(client),
        }
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
        };
        for (entity_type, name) in components {
            check_entity_type(entity_type)?;
            let side = if entity_type == USER {
                &mut entity.user
            } else {
                &mut entity.client
            };
            if side.is_some() {
                return Err(format!(
                    "Duplicate {entity_type} entity in the quota entity"
                ));
            }
            *side = Some(Name::from_wire(name));
        }
        if entity.user.is_none() && entity.client.is_none() {
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
    /// MATCH_TYPE_SPECIFIED: any name (not the default).
    Specified,
}

/// A DescribeClientQuotas filter: one match per side at most; `strict`
/// leaves out entities with a side the filter does not name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub user: Option<Match>,
    pub client: Option<Match>,
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
            let side = if entity_type == USER {
                &mut filter.user
            } else {
                &mut filter.client
            };
            if side.is_some() {
                return Err(format!(
                    "Duplicate {entity_type} filter component entity type"
                ));
            }
            *side = Some(m);
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
                (Some(Match::Specified), Some(Name::Named(_))) => true,
                (Some(_), Some(_)) => false,
            }
        }
        side(&self.user, &entity.user, self.strict)
            && side(&self.client, &entity.client, self.strict)
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
}

impl QuotaKind {
    pub const ALL: [QuotaKind; 4] = [
        QuotaKind::ProducerByteRate,
        QuotaKind::ConsumerByteRate,
        QuotaKind::RequestPercentage,
        QuotaKind::ControllerMutationRate,
    ];

    pub fn key(self) -> &'static str {
        match self {
            QuotaKind::ProducerByteRate => "producer_byte_rate",
            QuotaKind::ConsumerByteRate => "consumer_byte_rate",
            QuotaKind::RequestPercentage => "request_percentage",
            QuotaKind::ControllerMutationRate => "controller_mutation_rate",
        }
    }

    pub fn from_key(key: &str) -> Option<QuotaKind> {
        QuotaKind::ALL.into_iter().find(|k| k.key() == key)
    }

    /// Kafka types the byte rates as LONG: a fraction is refused.
    pub fn is_whole(self) -> bool {
        matches!(
            self,
            QuotaKind::ProducerByteRate | QuotaKind::ConsumerByteRate
        )
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
        for (entity, config) in stored {
            // Values written by other tools: only finite positive limits.
            let quotas: BTreeMap<QuotaKind, f64> = config
                .iter()
                .filter_map(|(k, v)| Some((QuotaKind::from_key(k)?, v.trim().parse().ok()?)))
                .filter(|(_, v): &(QuotaKind, f64)| v.is_finite() && *v > 0.0)
                .collect();
            for (kind, limit) in &quotas {
                by_kind.entry(*kind).or_default().insert(&entity, *limit);
            }
            if !quotas.is_empty() {
                entities.insert(entity, quotas);
            }
        }
        QuotaConfigs { entities, by_kind }
    }

    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    /// Whether any entity has a quota of `kind`.
    pub fn has(&self, kind: QuotaKind) -> bool {
        self.by_kind.contains_key(&kind)
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
        assert!(any.matches(&alice) && !any.matches(&default_user));
        assert!(f(&[], false).matches(&alice_app));
        assert!(Filter::from_components([(USER, 0, None)], false).is_err());
        assert!(Filter::from_components([(USER, 1, None), (USER, 2, None)], false).is_err());
        assert!(Filter::from_components([(IP, 1, None)], false).is_err());
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
    fn values_are_written_as_kafka_writes_them() {
        assert_eq!(QuotaKind::ProducerByteRate.format(1024.0), "1024");
        assert_eq!(QuotaKind::RequestPercentage.format(200.0), "200.0");
        assert_eq!(QuotaKind::RequestPercentage.format(12.5), "12.5");
    }
}
