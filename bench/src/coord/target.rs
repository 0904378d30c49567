//! Refuses servers that are not on this machine: the benchmark writes tens of
//! thousands of nodes as fast as it can and must never hit a shared ensemble.

/// Why a connect string is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("empty connect string")]
    Empty,
    #[error("{0:?} is not host:port")]
    Malformed(String),
    #[error("{0:?} is not a loopback address (use 127.0.0.1)")]
    NotLoopback(String),
}

/// Accepts `host:port[,host:port…][/chroot]` where every host is `localhost`
/// or in 127.0.0.0/8.
pub fn check_loopback(connect: &str) -> Result<(), TargetError> {
    let hosts = connect.split('/').next().unwrap_or_default();
    if hosts.trim().is_empty() {
        return Err(TargetError::Empty);
    }
    for entry in hosts.split(',') {
        let entry = entry.trim();
        let (host, port) = entry
            .rsplit_once(':')
            .ok_or_else(|| TargetError::Malformed(entry.to_string()))?;
        if port.parse::<u16>().is_err() {
            return Err(TargetError::Malformed(entry.to_string()));
        }
        let loopback = host == "localhost"
            || host
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            return Err(TargetError::NotLoopback(host.to_string()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only() {
        assert_eq!(check_loopback("127.0.0.1:2181"), Ok(()));
        assert_eq!(
            check_loopback("localhost:2181,127.0.0.2:2182/chroot"),
            Ok(())
        );
        assert_eq!(
            check_loopback("10.0.0.1:2181"),
            Err(TargetError::NotLoopback("10.0.0.1".into()))
        );
        assert_eq!(
            check_loopback("127.0.0.1"),
            Err(TargetError::Malformed("127.0.0.1".into()))
        );
        assert_eq!(
            check_loopback("127.0.0.1:x"),
            Err(TargetError::Malformed("127.0.0.1:x".into()))
        );
        assert_eq!(check_loopback(""), Err(TargetError::Empty));
    }
}
