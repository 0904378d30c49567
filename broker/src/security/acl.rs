//! Kafka's ACL model: who (principal, host) may or may not do what
//! (operation) to which resources (type, name, literal or prefixed
//! pattern), with Kafka's wire codes and the names Kafka writes into
//! coord. Matching lives here too, free of I/O, so the authorizer and
//! DescribeAcls/DeleteAcls filters share one definition.

use serde::{Deserialize, Serialize};

/// `ResourceType` codes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceType {
    Topic,
    Group,
    Cluster,
    TransactionalId,
    DelegationToken,
}

impl ResourceType {
    pub const ALL: [ResourceType; 5] = [
        ResourceType::Topic,
        ResourceType::Group,
        ResourceType::Cluster,
        ResourceType::TransactionalId,
        ResourceType::DelegationToken,
    ];

    pub fn code(self) -> i8 {
        match self {
            ResourceType::Topic => 2,
            ResourceType::Group => 3,
            ResourceType::Cluster => 4,
            ResourceType::TransactionalId => 5,
            ResourceType::DelegationToken => 6,
        }
    }

    pub fn from_code(code: i8) -> Option<ResourceType> {
        ResourceType::ALL.into_iter().find(|t| t.code() == code)
    }

    /// The name in coord paths (`/kafka-acl/Topic/orders`).
    pub fn name(self) -> &'static str {
        match self {
            ResourceType::Topic => "Topic",
            ResourceType::Group => "Group",
            ResourceType::Cluster => "Cluster",
            ResourceType::TransactionalId => "TransactionalId",
            ResourceType::DelegationToken => "DelegationToken",
        }
    }

    pub fn from_name(name: &str) -> Option<ResourceType> {
        ResourceType::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// The one Cluster resource's name.
pub const CLUSTER_NAME: &str = "kafka-cluster";
/// The wildcard resource name and principal/host.
pub const WILDCARD: &str = "*";

/// How a binding's name matches resource names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PatternType {
    /// The name itself, or every name for `*`.
    Literal,
    /// Every name starting with it.
    Prefixed,
}

impl PatternType {
    pub fn code(self) -> i8 {
        match self {
            PatternType::Literal => 3,
            PatternType::Prefixed => 4,
        }
    }
}

/// Kafka's operations; `All` covers every one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Operation {
    All,
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    ClusterAction,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
    CreateTokens,
    DescribeTokens,
}

impl Operation {
    const ALL: [Operation; 13] = [
        Operation::All,
        Operation::Read,
        Operation::Write,
        Operation::Create,
        Operation::Delete,
        Operation::Alter,
        Operation::Describe,
        Operation::ClusterAction,
        Operation::DescribeConfigs,
        Operation::AlterConfigs,
        Operation::IdempotentWrite,
        Operation::CreateTokens,
        Operation::DescribeTokens,
    ];

    pub fn code(self) -> i8 {
        match self {
            Operation::All => 2,
            Operation::Read => 3,
            Operation::Write => 4,
            Operation::Create => 5,
            Operation::Delete => 6,
            Operation::Alter => 7,
            Operation::Describe => 8,
            Operation::ClusterAction => 9,
            Operation::DescribeConfigs => 10,
            Operation::AlterConfigs => 11,
            Operation::IdempotentWrite => 12,
            Operation::CreateTokens => 13,
            Operation::DescribeTokens => 14,
        }
    }

    pub fn from_code(code: i8) -> Option<Operation> {
        Operation::ALL.into_iter().find(|o| o.code() == code)
    }

    /// Operations an allow of `self` also allows (Kafka: Read, Write,
    /// Delete and Alter imply Describe; AlterConfigs implies DescribeConfigs).
    fn implies(self, wanted: Operation) -> bool {
        self == wanted
            || self == Operation::All
            || (wanted == Operation::Describe
                && matches!(
                    self,
                    Operation::Read | Operation::Write | Operation::Delete | Operation::Alter
                ))
            || (wanted == Operation::DescribeConfigs && self == Operation::AlterConfigs)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Permission {
    Deny,
    Allow,
}

impl Permission {
    pub fn code(self) -> i8 {
        match self {
            Permission::Deny => 2,
            Permission::Allow => 3,
        }
    }

    pub fn from_code(code: i8) -> Option<Permission> {
        match code {
            2 => Some(Permission::Deny),
            3 => Some(Permission::Allow),
            _ => None,
        }
    }
}

/// One access rule of a resource pattern, as Kafka stores it in coord.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AclEntry {
    pub principal: String,
    #[serde(rename = "permissionType")]
    pub permission: Permission,
    pub operation: Operation,
    pub host: String,
}

/// A resource pattern: what a set of entries applies to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourcePattern {
    pub resource_type: ResourceType,
    pub name: String,
    pub pattern: PatternType,
}

impl ResourcePattern {
    /// Whether this pattern covers the resource `name` of its type.
    pub fn covers(&self, name: &str) -> bool {
        match self.pattern {
            PatternType::Literal => self.name == WILDCARD || self.name == name,
            PatternType::Prefixed => name.starts_with(self.name.as_str()),
        }
    }
}

/// One stored binding: a pattern and an entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AclBinding {
    pub pattern: ResourcePattern,
    pub entry: AclEntry,
}

/// A CreateAcls binding or a Describe/DeleteAcls filter's pattern type:
/// codes 1 (Any), 2 (Match), 3 (Literal), 4 (Prefixed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternFilter {
    Any,
    Match,
    Exactly(PatternType),
}

impl PatternFilter {
    pub fn from_code(code: i8) -> Option<PatternFilter> {
        match code {
            1 => Some(PatternFilter::Any),
            2 => Some(PatternFilter::Match),
            3 => Some(PatternFilter::Exactly(PatternType::Literal)),
            4 => Some(PatternFilter::Exactly(PatternType::Prefixed)),
            _ => None,
        }
    }
}

/// A DescribeAcls / DeleteAcls filter; `None` fields match anything
/// (Kafka's ANY and null).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclFilter {
    pub resource_type: Option<ResourceType>,
    pub name: Option<String>,
    pub pattern: PatternFilter,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: Option<Operation>,
    pub permission: Option<Permission>,
}

impl AclFilter {
    pub fn matches(&self, b: &AclBinding) -> bool {
        let p = &b.pattern;
        let pattern_ok = match (self.pattern, &self.name) {
            (PatternFilter::Exactly(t), name) => {
                p.pattern == t && name.as_ref().is_none_or(|n| *n == p.name)
            }
            (PatternFilter::Any, name) => name.as_ref().is_none_or(|n| *n == p.name),
            // Every pattern that would apply to the named resource.
            (PatternFilter::Match, Some(name)) => {
                p.covers(name)
                    && (p.pattern == PatternType::Prefixed || p.name == *name || p.name == WILDCARD)
            }
            (PatternFilter::Match, None) => true,
        };
        pattern_ok
            && self.resource_type.is_none_or(|t| t == p.resource_type)
            && self
                .principal
                .as_ref()
                .is_none_or(|x| *x == b.entry.principal)
            && self.host.as_ref().is_none_or(|x| *x == b.entry.host)
            && self.operation.is_none_or(|o| o == b.entry.operation)
            && self.permission.is_none_or(|x| x == b.entry.permission)
    }
}

/// A filter's or binding's fields as they come off the wire (codes 1 =
/// ANY, null names = any).
pub struct WireFilter<'a> {
    pub resource_type: i8,
    pub name: Option<&'a str>,
    pub pattern_type: i8,
    pub principal: Option<&'a str>,
    pub host: Option<&'a str>,
    pub operation: i8,
    pub permission: i8,
}

impl AclFilter {
    /// A Describe/DeleteAcls filter; `Err` names the field that is invalid.
    pub fn from_wire(w: &WireFilter<'_>) -> Result<AclFilter, String> {
        const ANY: i8 = 1;
        let resource_type = match w.resource_type {
            ANY => None,
            c => Some(ResourceType::from_code(c).ok_or(format!("unknown resource type {c}"))?),
        };
        let operation = match w.operation {
            ANY => None,
            c => Some(Operation::from_code(c).ok_or(format!("unknown operation {c}"))?),
        };
        let permission = match w.permission {
            ANY => None,
            c => Some(Permission::from_code(c).ok_or(format!("unknown permission type {c}"))?),
        };
        let pattern = PatternFilter::from_code(w.pattern_type)
            .ok_or(format!("unknown pattern type {}", w.pattern_type))?;
        Ok(AclFilter {
            resource_type,
            name: w.name.map(str::to_string),
            pattern,
            principal: w.principal.map(str::to_string),
            host: w.host.map(str::to_string),
            operation,
            permission,
        })
    }
}

impl AclBinding {
    /// A CreateAcls binding: every field must be concrete (no ANY, no MATCH).
    pub fn from_wire(w: &WireFilter<'_>) -> Result<AclBinding, String> {
        let f = AclFilter::from_wire(w)?;
        let (
            Some(resource_type),
            Some(name),
            PatternFilter::Exactly(pattern),
            Some(principal),
            Some(host),
            Some(operation),
            Some(permission),
        ) = (
            f.resource_type,
            f.name,
            f.pattern,
            f.principal,
            f.host,
            f.operation,
            f.permission,
        )
        else {
            return Err("a binding needs a concrete resource type, name, pattern type, principal, host, operation and permission".into());
        };
        if !principal.contains(':') {
            return Err(format!(
                "principal {principal:?} is not TYPE:NAME (User:alice)"
            ));
        }
        if resource_type == ResourceType::Cluster && name != CLUSTER_NAME {
            return Err(format!("the cluster resource is named {CLUSTER_NAME}"));
        }
        if name.is_empty() {
            return Err("resource name must not be empty".into());
        }
        Ok(AclBinding {
            pattern: ResourcePattern {
                resource_type,
                name,
                pattern,
            },
            entry: AclEntry {
                principal,
                permission,
                operation,
                host,
            },
        })
    }
}

/// Whether `entry` speaks for this principal, host and operation.
pub fn entry_applies(entry: &AclEntry, principal: &str, host: &str, op: Operation) -> bool {
    (entry.principal == principal || entry.principal == "User:*")
        && (entry.host == host || entry.host == WILDCARD)
        && match entry.permission {
            // A deny of Describe does not deny Read; a deny of All denies everything.
            Permission::Deny => entry.operation == op || entry.operation == Operation::All,
            Permission::Allow => entry.operation.implies(op),
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(principal: &str, permission: Permission, operation: Operation) -> AclEntry {
        AclEntry {
            principal: principal.into(),
            permission,
            operation,
            host: "*".into(),
        }
    }

    #[test]
    fn codes_round_trip_and_json_is_kafkas() {
        for t in ResourceType::ALL {
            assert_eq!(ResourceType::from_code(t.code()), Some(t));
            assert_eq!(ResourceType::from_name(t.name()), Some(t));
        }
        for o in Operation::ALL {
            assert_eq!(Operation::from_code(o.code()), Some(o));
        }
        let json = serde_json::to_string(&entry(
            "User:alice",
            Permission::Allow,
            Operation::IdempotentWrite,
        ))
        .unwrap();
        assert_eq!(
            json,
            r#"{"principal":"User:alice","permissionType":"Allow","operation":"IdempotentWrite","host":"*"}"#
        );
    }

    #[test]
    fn implied_operations_follow_kafka() {
        let read = entry("User:a", Permission::Allow, Operation::Read);
        assert!(entry_applies(
            &read,
            "User:a",
            "1.2.3.4",
            Operation::Describe
        ));
        assert!(!entry_applies(&read, "User:a", "1.2.3.4", Operation::Write));
        let deny_describe = entry("User:a", Permission::Deny, Operation::Describe);
        assert!(!entry_applies(
            &deny_describe,
            "User:a",
            "h",
            Operation::Read
        ));
        let anyone = entry("User:*", Permission::Allow, Operation::All);
        assert!(entry_applies(&anyone, "User:b", "h", Operation::Alter));
    }

    #[test]
    fn patterns_cover_names() {
        let prefixed = ResourcePattern {
            resource_type: ResourceType::Topic,
            name: "orders-".into(),
            pattern: PatternType::Prefixed,
        };
        assert!(prefixed.covers("orders-eu"));
        assert!(!prefixed.covers("order"));
        let wildcard = ResourcePattern {
            resource_type: ResourceType::Topic,
            name: "*".into(),
            pattern: PatternType::Literal,
        };
        assert!(wildcard.covers("anything"));
    }
}
