//! The one authorizer every request handler asks: Kafka's ACL semantics
//! over the bindings stored in coord.
//!
//! A request is allowed when authorization is off (`authorizer.class.name`
//! empty, Kafka's default), when its principal is a super user, or when an
//! Allow binding covers it and no Deny binding does — Deny wins. A
//! resource no binding covers at all is allowed only with
//! `allow.everyone.if.no.acl.found=true`.
//!
//! The bindings are held in memory and reloaded whenever a change
//! notification appears in coord (any broker's CreateAcls/DeleteAcls), so an
//! ACL change is in force on every broker within a coord round trip.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tracing::info;

use super::acl::{
    entry_applies, AclBinding, Operation, PatternType, Permission, ResourceType, WILDCARD,
};
use crate::metadata::reload::{keep_loaded, Changed};
use crate::metadata::MetadataStore;

/// The authorizer classes Kafka users configure; any of them turns ACLs on.
const KNOWN_AUTHORIZERS: &[&str] = &[
    "kafka.security.authorizer.AclAuthorizer",
    "kafka.security.auth.SimpleAclAuthorizer",
    "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
];

/// How often the bindings are read again even without a notification (a
/// missed watch after a coord session change heals by itself).
const RELOAD_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthorizerConfig {
    pub enabled: bool,
    /// `super.users`: `User:admin;User:broker`.
    pub super_users: Vec<String>,
    pub allow_everyone_if_no_acl_found: bool,
}

impl AuthorizerConfig {
    pub fn from_values(
        class: &str,
        super_users: &str,
        allow_everyone: bool,
    ) -> Result<AuthorizerConfig, String> {
        let class = class.trim();
        if !class.is_empty() && !KNOWN_AUTHORIZERS.contains(&class) {
            return Err(format!(
                "unknown authorizer {class:?}; use {}",
                KNOWN_AUTHORIZERS.join(" or ")
            ));
        }
        Ok(AuthorizerConfig {
            enabled: !class.is_empty(),
            super_users: super_users
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            allow_everyone_if_no_acl_found: allow_everyone,
        })
    }
}

/// Who is asking: the connection's principal and address.
#[derive(Debug, Clone)]
pub struct Session {
    /// `User:alice`, `User:ANONYMOUS`.
    pub principal: Arc<str>,
    /// The client's IP address as text, for host-restricted bindings.
    pub host: String,
}

/// Bindings by resource type, then literal ones by name and prefixed ones
/// by prefix, so that a check costs a few hash lookups by `&str` whatever
/// the number of bindings: no allocation, no scan of every prefix.
#[derive(Default)]
struct Index {
    literal: HashMap<ResourceType, HashMap<String, Vec<AclBinding>>>,
    prefixed: HashMap<ResourceType, Prefixes>,
    count: usize,
}

/// One resource type's prefixed bindings.
#[derive(Default)]
struct Prefixes {
    by_prefix: HashMap<String, Vec<AclBinding>>,
    /// The distinct prefix lengths in bytes, ascending: a name is looked up
    /// once per length (usually a handful) instead of being compared with
    /// every prefix.
    lengths: Vec<usize>,
}

impl Index {
    fn build(bindings: Vec<AclBinding>) -> Index {
        let mut index = Index {
            count: bindings.len(),
            ..Index::default()
        };
        for b in bindings {
            let t = b.pattern.resource_type;
            let name = b.pattern.name.clone();
            match b.pattern.pattern {
                PatternType::Literal => index
                    .literal
                    .entry(t)
                    .or_default()
                    .entry(name)
                    .or_default()
                    .push(b),
                PatternType::Prefixed => {
                    let prefixes = index.prefixed.entry(t).or_default();
                    prefixes.lengths.push(name.len());
                    prefixes.by_prefix.entry(name).or_default().push(b);
                }
            }
        }
        for prefixes in index.prefixed.values_mut() {
            prefixes.lengths.sort_unstable();
            prefixes.lengths.dedup();
        }
        index
    }

    /// Every binding whose pattern covers the resource.
    fn covering<'a>(
        &'a self,
        t: ResourceType,
        name: &'a str,
    ) -> impl Iterator<Item = &'a AclBinding> {
        let literal = self.literal.get(&t);
        let exact = literal.and_then(|m| m.get(name)).into_iter().flatten();
        let wildcard = literal
            .filter(|_| name != WILDCARD)
            .and_then(|m| m.get(WILDCARD))
            .into_iter()
            .flatten();
        let prefixed = self.prefixed.get(&t).into_iter().flat_map(move |p| {
            p.lengths
                .iter()
                .take_while(move |&&len| len <= name.len())
                .filter(move |&&len| name.is_char_boundary(len))
                .filter_map(move |&len| p.by_prefix.get(&name[..len]))
                .flatten()
        });
        exact.chain(wildcard).chain(prefixed)
    }

    /// Every binding of resource type `t`.
    fn of_type(&self, t: ResourceType) -> impl Iterator<Item = &AclBinding> {
        let literal = self.literal.get(&t).into_iter().flat_map(|m| m.values());
        let prefixed = self
            .prefixed
            .get(&t)
            .into_iter()
            .flat_map(|p| p.by_prefix.values());
        literal.chain(prefixed).flatten()
    }

    fn all(&self) -> impl Iterator<Item = &AclBinding> {
        let literal = self.literal.values().flat_map(|m| m.values());
        let prefixed = self.prefixed.values().flat_map(|p| p.by_prefix.values());
        literal.chain(prefixed).flatten()
    }
}

pub struct Authorizer {
    config: AuthorizerConfig,
    index: RwLock<Arc<Index>>,
}

impl Authorizer {
    pub fn new(config: AuthorizerConfig) -> Arc<Authorizer> {
        Arc::new(Authorizer {
            config,
            index: RwLock::new(Arc::new(Index::default())),
        })
    }

    pub fn is_enabled(&self) -> bool {
        self.config.enabled
    }

    fn index(&self) -> Arc<Index> {
        match self.index.read() {
            Ok(i) => i.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn is_super(&self, session: &Session) -> bool {
        self.config
            .super_users
            .iter()
            .any(|u| u.as_str() == &*session.principal || u == "User:*")
    }

    /// Whether `session` may do `op` on resource `name` of type `t`.
    pub fn authorize(&self, session: &Session, op: Operation, t: ResourceType, name: &str) -> bool {
        if !self.config.enabled || self.is_super(session) {
            return true;
        }
        let index = self.index();
        let mut any = false;
        let mut allowed = false;
        for b in index.covering(t, name) {
            any = true;
            if !entry_applies(&b.entry, &session.principal, &session.host, op) {
                continue;
            }
            match b.entry.permission {
                Permission::Deny => return false,
                Permission::Allow => allowed = true,
            }
        }
        allowed || (!any && self.config.allow_everyone_if_no_acl_found)
    }

    /// Kafka's check for a principal that has `op` on at least one resource
    /// of type `t` (KIP-679: Write on any topic allows idempotent produce).
    pub fn authorize_any(&self, session: &Session, op: Operation, t: ResourceType) -> bool {
        if !self.config.enabled || self.is_super(session) {
            return true;
        }
        let index = self.index();
        let found = index.of_type(t).any(|b| {
            b.entry.permission == Permission::Allow
                && entry_applies(&b.entry, &session.principal, &session.host, op)
                && self.authorize(session, op, t, &b.pattern.name)
        });
        found
    }

    /// Replaces the bindings in force.
    fn install(&self, bindings: Vec<AclBinding>) {
        let index = Arc::new(Index::build(bindings));
        let count = index.count;
        match self.index.write() {
            Ok(mut i) => *i = index,
            Err(p) => *p.into_inner() = index,
        }
        info!(bindings = count, "ACLs loaded");
    }

    /// Reads the bindings from coord now and after every change
    /// notification, until `shutdown`. Does nothing when authorization is off.
    pub async fn run(
        self: Arc<Self>,
        metadata: Arc<MetadataStore>,
        shutdown: watch::Receiver<bool>,
    ) {
        if !self.config.enabled {
            return;
        }
        let read = || async {
            let watches = metadata.watch_acl_changes().await?;
            let bindings = metadata.read_acls().await?;
            let changed: Changed = Box::pin(async move {
                futures_util::future::select_all(
                    watches
                        .into_iter()
                        .map(|w| Box::pin(async move { w.changed().await })),
                )
                .await;
            });
            Ok((changed, bindings))
        };
        keep_loaded("ACLs", RELOAD_EVERY, shutdown, read, |b| self.install(b)).await;
    }

    /// The bindings in force, for DescribeAcls.
    pub fn bindings(&self) -> Vec<AclBinding> {
        let index = self.index();
        let mut out: Vec<AclBinding> = index.all().cloned().collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::acl::{AclEntry, ResourcePattern};

    fn binding(
        name: &str,
        pattern: PatternType,
        principal: &str,
        p: Permission,
        op: Operation,
    ) -> AclBinding {
        AclBinding {
            pattern: ResourcePattern {
                resource_type: ResourceType::Topic,
                name: name.into(),
                pattern,
            },
            entry: AclEntry {
                principal: principal.into(),
                permission: p,
                operation: op,
                host: "*".into(),
            },
        }
    }

    fn session(principal: &str) -> Session {
        Session {
            principal: principal.into(),
            host: "127.0.0.1".into(),
        }
    }

    fn authorizer(allow_everyone: bool) -> Arc<Authorizer> {
        let config = AuthorizerConfig::from_values(
            "kafka.security.authorizer.AclAuthorizer",
            "User:admin",
            allow_everyone,
        )
        .unwrap();
        let a = Authorizer::new(config);
        a.install(vec![
            binding(
                "orders",
                PatternType::Literal,
                "User:alice",
                Permission::Allow,
                Operation::Write,
            ),
            binding(
                "pay-",
                PatternType::Prefixed,
                "User:bob",
                Permission::Allow,
                Operation::Read,
            ),
            binding(
                "pay-secret",
                PatternType::Literal,
                "User:bob",
                Permission::Deny,
                Operation::Read,
            ),
        ]);
        a
    }

    #[test]
    fn kafkas_rules() {
        let a = authorizer(false);
        let t = ResourceType::Topic;
        assert!(a.authorize(&session("User:alice"), Operation::Write, t, "orders"));
        assert!(a.authorize(&session("User:alice"), Operation::Describe, t, "orders"));
        assert!(!a.authorize(&session("User:alice"), Operation::Read, t, "orders"));
        assert!(a.authorize(&session("User:bob"), Operation::Read, t, "pay-eu"));
        assert!(!a.authorize(&session("User:bob"), Operation::Read, t, "pay-secret"));
        assert!(a.authorize(&session("User:admin"), Operation::Delete, t, "pay-secret"));
        // No binding covers "other": denied unless allow.everyone.if.no.acl.found.
        assert!(!a.authorize(&session("User:carol"), Operation::Read, t, "other"));
        assert!(authorizer(true).authorize(&session("User:carol"), Operation::Read, t, "other"));
        assert!(!authorizer(true).authorize(&session("User:carol"), Operation::Read, t, "orders"));
        assert!(a.authorize_any(&session("User:alice"), Operation::Write, t));
        assert!(!a.authorize_any(&session("User:bob"), Operation::Write, t));
    }

    #[test]
    fn off_allows_everything_and_unknown_classes_are_refused() {
        let off = Authorizer::new(AuthorizerConfig::from_values("", "", false).unwrap());
        assert!(off.authorize(
            &session("User:x"),
            Operation::Alter,
            ResourceType::Cluster,
            "kafka-cluster"
        ));
        assert!(AuthorizerConfig::from_values("com.example.Mine", "", false).is_err());
    }

    #[test]
    fn prefixes_of_every_length_cover_and_only_at_char_boundaries() {
        let a = authorizer(false);
        let mut bindings = a.bindings();
        for (prefix, who) in [("p", "User:p1"), ("pay-eu-", "User:p7"), ("é", "User:e")] {
            bindings.push(binding(
                prefix,
                PatternType::Prefixed,
                who,
                Permission::Allow,
                Operation::Read,
            ));
        }
        a.install(bindings);
        let t = ResourceType::Topic;
        let read = |who: &str, name: &str| a.authorize(&session(who), Operation::Read, t, name);
        assert!(read("User:p1", "pay-eu-1") && read("User:p7", "pay-eu-1"));
        assert!(read("User:bob", "pay-eu-1") && !read("User:p7", "pay-e"));
        assert!(read("User:e", "été") && !read("User:e", "e"));
        // A name shorter than every prefix, and the wildcard name itself.
        assert!(!read("User:p7", "pa") && !read("User:x", "*"));
        assert_eq!(a.bindings().len(), 6);
    }

    /// `scripts/bench/acl-bench.sh`: the cost of one check with a thousand
    /// bindings in force. Prints figures; asserts nothing.
    #[test]
    #[ignore = "benchmark: scripts/bench/acl-bench.sh"]
    fn bench_authorize() {
        use std::time::Instant;
        let config =
            AuthorizerConfig::from_values("kafka.security.authorizer.AclAuthorizer", "", false)
                .unwrap();
        let rounds = 1_000_000u32;
        for (label, literal, prefixed) in [
            ("no bindings", 0, 0),
            ("1000 literal", 1000, 0),
            ("1000 prefixed", 0, 1000),
            ("500 literal + 500 prefixed", 500, 500),
        ] {
            let a = Authorizer::new(config.clone());
            let mut bindings = Vec::new();
            for i in 0..literal {
                bindings.push(binding(
                    &format!("orders-{i}"),
                    PatternType::Literal,
                    &format!("User:app{}", i % 50),
                    Permission::Allow,
                    Operation::Write,
                ));
            }
            for i in 0..prefixed {
                bindings.push(binding(
                    &format!("team{i}-"),
                    PatternType::Prefixed,
                    &format!("User:app{}", i % 50),
                    Permission::Allow,
                    Operation::Read,
                ));
            }
            a.install(bindings);
            let names: Vec<String> = (0..100)
                .map(|i| {
                    if i % 2 == 0 {
                        format!("orders-{}", i * 7)
                    } else {
                        format!("team{}-events", i * 7)
                    }
                })
                .collect();
            let who = session("User:app7");
            let mut allowed = 0u32;
            let start = Instant::now();
            for r in 0..rounds {
                let name = &names[(r % 100) as usize];
                let op = if r % 2 == 0 {
                    Operation::Write
                } else {
                    Operation::Read
                };
                if a.authorize(&who, op, ResourceType::Topic, name) {
                    allowed += 1;
                }
            }
            let ns = start.elapsed().as_nanos() as f64 / f64::from(rounds);
            println!(
                "RESULT acl bindings=\"{label}\" ns_per_check={ns:.0} checks_per_s={:.0} allowed={allowed}",
                1e9 / ns
            );
        }
    }
}
