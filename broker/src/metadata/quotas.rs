//! Client quotas in coord, in Kafka's ZooKeeper layout:
//!
//! * `/config/users/<user>` and `/config/users/<user>/clients/<client-id>`;
//! * `/config/clients/<client-id>`;
//! * `/config/ips/<ip>` (the address unsanitized);
//!
//! each `{"version":1,"config":{"producer_byte_rate":"1024",…}}`, names
//! sanitized as Kafka does, `<default>` for the defaults. A user's znode
//! also holds its SCRAM credentials, so a quota change rewrites only the
//! quota keys. Every change creates a `/config/changes/config_change_<seq>`
//! that every broker watches.

use std::collections::BTreeMap;

use zookeeper_client as zk;

use super::layout::CONFIG_CHANGES;
use super::store::{zkerr, MetadataError, MetadataStore};
use crate::quota::{Name, QuotaEntity, QuotaKind};

/// `users/alice`, `users/<default>/clients/app`, `clients/app`, `ips/::1`.
pub fn entity_path(entity: &QuotaEntity) -> String {
    entity.to_string()
}

impl MetadataStore {
    /// Every user, client-id and user/client-id entity with a config (all
    /// keys: the caller picks the quotas).
    pub async fn read_quota_configs(
        &self,
    ) -> Result<Vec<(QuotaEntity, BTreeMap<String, String>)>, MetadataError> {
        let mut out = Vec::new();
        for user in self.children_at("users").await? {
            let user_name = Name::from_node(&user);
            if let Some(config) = self.config_at(&format!("users/{user}")).await? {
                out.push((QuotaEntity::user(user_name.clone()), config));
            }
            for client in self.children_at(&format!("users/{user}/clients")).await? {
                let path = format!("users/{user}/clients/{client}");
                if let Some(config) = self.config_at(&path).await? {
                    let client_name = Name::from_node(&client);
                    out.push((
                        QuotaEntity::user_client(user_name.clone(), client_name),
                        config,
                    ));
                }
            }
        }
        for client in self.children_at("clients").await? {
            if let Some(config) = self.config_at(&format!("clients/{client}")).await? {
                out.push((QuotaEntity::client(Name::from_node(&client)), config));
            }
        }
        for ip in self.children_at("ips").await? {
            if let Some(config) = self.config_at(&format!("ips/{ip}")).await? {
                out.push((QuotaEntity::ip(Name::from_ip_node(&ip)), config));
            }
        }
        Ok(out)
    }

    /// A one-shot watch on the config change notifications: firing means
    /// some entity's config (a quota among them) changed.
    pub async fn watch_config_changes(&self) -> Result<zk::OneshotWatcher, MetadataError> {
        let (_, _, w) = self
            .zk()
            .get_and_watch_children(CONFIG_CHANGES)
            .await
            .map_err(zkerr("children", CONFIG_CHANGES))?;
        Ok(w)
    }

    /// Sets and removes quotas of one entity in one write, keeping its
    /// other keys (SCRAM credentials).
    pub async fn alter_quotas(
        &self,
        entity: &QuotaEntity,
        set: &[(QuotaKind, f64)],
        remove: &[QuotaKind],
    ) -> Result<(), MetadataError> {
        let path = entity_path(entity);
        let mut config = self.config_at(&path).await?.unwrap_or_default();
        for kind in remove {
            config.remove(kind.key());
        }
        for (kind, value) in set {
            config.insert(kind.key().to_string(), kind.format(*value));
        }
        self.write_config_at(&path, &config).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_kafkas() {
        let alice = || Name::Named("alice@x".into());
        assert_eq!(entity_path(&QuotaEntity::user(alice())), "users/alice%40x");
        assert_eq!(
            entity_path(&QuotaEntity::user_client(
                Name::Default,
                Name::Named("app".into())
            )),
            "users/<default>/clients/app"
        );
        assert_eq!(
            entity_path(&QuotaEntity::client(Name::Default)),
            "clients/<default>"
        );
        // A client literally named `<default>` is not the default.
        let literal = QuotaEntity::client(Name::Named("<default>".into()));
        assert_eq!(entity_path(&literal), "clients/%3Cdefault%3E");
        assert_eq!(
            Name::from_node("%3Cdefault%3E"),
            Name::Named("<default>".into())
        );
        assert_eq!(Name::from_node("<default>"), Name::Default);
        assert_eq!(
            entity_path(&QuotaEntity::ip(Name::Named("::1".into()))),
            "ips/::1"
        );
        assert_eq!(
            entity_path(&QuotaEntity::ip(Name::Default)),
            "ips/<default>"
        );
    }
}
