//! Access control as ZooKeeper does it: ACL lists checked against the
//! identities a connection holds (`ip:<address>` always, `digest:user:hash`
//! after an `addauth digest user:password`, `sasl:<user>` after a SASL
//! login, `x509:<subject DN>` for a TLS client with a certificate, `super:`
//! for a configured super user).

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

/// Schemes whose ids prove who a client is, and so are what the `auth`
/// ACL scheme expands to (ZooKeeper's providers whose `isAuthenticated()`
/// is true; `ip` is not one of them).
const AUTHENTICATED_SCHEMES: [&str; 3] = ["digest", "sasl", "x509"];

/// `SASLAuthenticationProvider.matches`: the same user, or the SASL user
/// literally named `super`, which ZooKeeper lets match every sasl ACL.
fn sasl_matches(held: &str, acl_id: &str) -> bool {
    held == "super" || held == acl_id
}

/// `SASLAuthenticationProvider.isValid`: what Kerberos' `KerberosName`
/// accepts: a name without `@`, or `service[/host]@REALM` with none of
/// the parts holding another `/` or `@`.
fn valid_sasl_id(id: &str) -> bool {
    let Some((principal, realm)) = id.split_once('@') else {
        return true;
    };
    let (service, host) = principal.split_once('/').unwrap_or((principal, ""));
    !realm.contains(['/', '@']) && !service.contains('/') && !host.contains('/')
}

/// `X509AuthenticationProvider.isValid` asks Java's `X500Principal` to
/// parse the name; this checks its shape: `type=value` attributes.
fn valid_x509_id(id: &str) -> bool {
    !id.is_empty() && id.split(',').next().is_some_and(|rdn| rdn.contains('='))
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
                    "digest" | "x509" => held.id == entry.id.id,
                    "sasl" => sasl_matches(&held.id, &entry.id.id),
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
            let authenticated: Vec<&Id> = ids
                .iter()
                .filter(|id| AUTHENTICATED_SCHEMES.contains(&id.scheme.as_str()))
                .collect();
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
                "sasl" => valid_sasl_id(&entry.id.id),
                "x509" => valid_x509_id(&entry.id.id),
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

    #[test]
    fn sasl_ids_match_exactly_and_super_matches_all() {
        let acl = vec![Acl {
            perms: perms::READ,
            id: id("sasl", "alice"),
        }];
        assert_eq!(check(&acl, perms::READ, &[id("sasl", "alice")]), Ok(()));
        for other in [
            id("sasl", "bob"),
            id("sasl", "Alice"),
            id("digest", "alice"),
        ] {
            assert_eq!(check(&acl, perms::READ, &[other]), Err(ErrorCode::NoAuth));
        }
        assert_eq!(
            check(&acl, perms::WRITE, &[id("sasl", "alice")]),
            Err(ErrorCode::NoAuth)
        );
        // ZooKeeper's SASLAuthenticationProvider: a sasl user named super.
        assert_eq!(check(&acl, perms::READ, &[id("sasl", "super")]), Ok(()));
        // A super: id (superUser) passes any ACL.
        assert_eq!(check(&acl, perms::WRITE, &[id("super", "")]), Ok(()));
    }

    #[test]
    fn x509_ids_match_exactly() {
        let dn = "CN=alice,OU=eng,O=Acme\\, Inc.,C=US";
        let acl = vec![Acl {
            perms: perms::ALL,
            id: id("x509", dn),
        }];
        assert_eq!(check(&acl, perms::DELETE, &[id("x509", dn)]), Ok(()));
        assert_eq!(
            check(&acl, perms::DELETE, &[id("x509", "CN=alice")]),
            Err(ErrorCode::NoAuth)
        );
    }

    #[test]
    fn auth_scheme_takes_digest_sasl_and_x509_but_not_ip() {
        let auth = Acl {
            perms: perms::ALL,
            id: id("auth", ""),
        };
        let held = [
            id("ip", "127.0.0.1"),
            id("x509", "CN=a"),
            id("sasl", "alice"),
            id("super", ""),
        ];
        let fixed = fixup(std::slice::from_ref(&auth), &held).unwrap();
        let ids: Vec<&Id> = fixed.iter().map(|a| &a.id).collect();
        assert_eq!(ids, vec![&id("x509", "CN=a"), &id("sasl", "alice")]);
        assert_eq!(
            fixup(std::slice::from_ref(&auth), &[id("ip", "127.0.0.1")]),
            Err(ErrorCode::InvalidAcl)
        );
    }

    #[test]
    fn sasl_and_x509_ids_are_validated() {
        let one = |scheme: &str, v: &str| {
            fixup(
                &[Acl {
                    perms: perms::READ,
                    id: id(scheme, v),
                }],
                &[],
            )
        };
        for good in ["alice", "zk/host@EXAMPLE.COM", "bob@EXAMPLE.COM", ""] {
            assert!(one("sasl", good).is_ok(), "{good}");
        }
        for bad in ["a@b@c", "a/b/c@R", "a@R/x"] {
            assert_eq!(one("sasl", bad), Err(ErrorCode::InvalidAcl), "{bad}");
        }
        assert!(one("x509", "CN=alice,O=Acme").is_ok());
        assert_eq!(one("x509", "alice"), Err(ErrorCode::InvalidAcl));
        assert_eq!(one("x509", ""), Err(ErrorCode::InvalidAcl));
    }
}
