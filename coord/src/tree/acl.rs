//! Access control as ZooKeeper does it: ACL lists checked against the
//! identities a connection holds (`ip:<address>` always, `digest:user:hash`
//! after an `addauth digest user:password`).

use base64::Engine;

use crate::proto::records::{Acl, Id};
use crate::proto::ErrorCode;

/// The identity an `addauth digest user:password` gives: `user:base64(sha1(user:password))`.
pub fn digest_id(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or_default();
    let hash = sha1_smol::Sha1::from(user_password.as_bytes())
        .digest()
        .bytes();
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

fn is_world_anyone(id: &Id) -> bool {
    id.scheme == "world" && id.id == "anyone"
}

/// Whether an `ip` ACL id (`a.b.c.d` or `a.b.c.d/bits`) covers `client`.
fn ip_matches(client: &str, acl_id: &str) -> bool {
    let (net, bits) = match acl_id.split_once('/') {
        Some((net, bits)) => (net, bits.parse::<u32>().ok()),
        None => (acl_id, None),
    };
    match (
        client.parse::<std::net::IpAddr>(),
        net.parse::<std::net::IpAddr>(),
    ) {
        (Ok(std::net::IpAddr::V4(c)), Ok(std::net::IpAddr::V4(n))) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(c) & mask == u32::from(n) & mask
        }
        (Ok(c), Ok(n)) => c == n,
        _ => false,
    }
}

fn valid_ip_id(id: &str) -> bool {
    let (net, bits) = match id.split_once('/') {
        Some((net, bits)) => (net, Some(bits)),
        None => (id, None),
    };
    net.parse::<std::net::IpAddr>().is_ok() && bits.is_none_or(|b| b.parse::<u8>().is_ok())
}

/// `checkACL`: may a holder of `ids` do `perm` on a node with `acl`?
pub fn check(acl: &[Acl], perm: i32, ids: &[Id]) -> Result<(), ErrorCode> {
    if acl.is_empty() || ids.iter().any(|id| id.scheme == "super") {
        return Ok(());
    }
    for entry in acl.iter().filter(|a| a.perms & perm != 0) {
        if is_world_anyone(&entry.id) {
            return Ok(());
        }
        let granted = ids.iter().any(|held| {
            held.scheme == entry.id.scheme
                && match held.scheme.as_str() {
                    "ip" => ip_matches(&held.id, &entry.id.id),
                    "digest" => held.id == entry.id.id,
                    _ => false,
                }
        });
        if granted {
            return Ok(());
        }
    }
    Err(ErrorCode::NoAuth)
}

/// `fixupACL`: checks an ACL list given on create/setACL, drops duplicates,
/// and expands the `auth` scheme to the caller's authenticated identities.
pub fn fixup(acl: &[Acl], ids: &[Id]) -> Result<Vec<Acl>, ErrorCode> {
    let mut out: Vec<Acl> = Vec::new();
    for entry in acl {
        if out.contains(entry) {
            continue;
        }
        if is_world_anyone(&entry.id) {
            out.push(entry.clone());
        } else if entry.id.scheme == "auth" {
            let authenticated: Vec<&Id> = ids.iter().filter(|id| id.scheme == "digest").collect();
            if authenticated.is_empty() {
                return Err(ErrorCode::InvalidAcl);
            }
            for id in authenticated {
                out.push(Acl {
                    perms: entry.perms,
                    id: id.clone(),
                });
            }
        } else {
            let valid = match entry.id.scheme.as_str() {
                "digest" => entry.id.id.split(':').count() == 2,
                "ip" => valid_ip_id(&entry.id.id),
                _ => false,
            };
            if !valid {
                return Err(ErrorCode::InvalidAcl);
            }
            out.push(entry.clone());
        }
    }
    if out.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::records::perms;

    fn id(scheme: &str, id: &str) -> Id {
        Id {
            scheme: scheme.into(),
            id: id.into(),
        }
    }

    #[test]
    fn digest_matches_zookeepers_generate_digest() {
        // DigestAuthenticationProvider.generateDigest("super:test")
        assert_eq!(
            digest_id("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
    }

    #[test]
    fn world_ip_and_digest_grants() {
        let acl = vec![
            Acl {
                perms: perms::READ,
                id: id("world", "anyone"),
            },
            Acl {
                perms: perms::ALL,
                id: id("ip", "127.0.0.0/8"),
            },
            Acl {
                perms: perms::WRITE,
                id: id("digest", "bob:h"),
            },
        ];
        assert_eq!(check(&acl, perms::READ, &[]), Ok(()));
        assert_eq!(check(&acl, perms::DELETE, &[id("ip", "127.0.0.1")]), Ok(()));
        assert_eq!(
            check(&acl, perms::DELETE, &[id("ip", "10.0.0.1")]),
            Err(ErrorCode::NoAuth)
        );
        assert_eq!(
            check(&acl[2..], perms::WRITE, &[id("digest", "bob:h")]),
            Ok(())
        );
    }

    #[test]
    fn fixup_rejects_empty_unknown_and_unauthenticated_auth() {
        assert_eq!(fixup(&[], &[]), Err(ErrorCode::InvalidAcl));
        let bad = Acl {
            perms: 1,
            id: id("nope", "x"),
        };
        assert_eq!(fixup(&[bad], &[]), Err(ErrorCode::InvalidAcl));
        let auth = Acl {
            perms: 31,
            id: id("auth", ""),
        };
        assert_eq!(
            fixup(std::slice::from_ref(&auth), &[]),
            Err(ErrorCode::InvalidAcl)
        );
        let fixed = fixup(&[auth], &[id("digest", "u:h")]).unwrap();
        assert_eq!(
            fixed,
            vec![Acl {
                perms: 31,
                id: id("digest", "u:h")
            }]
        );
        assert_eq!(fixup(&[Acl::open(), Acl::open()], &[]).unwrap().len(), 1);
    }
}
