//! Live URLs as babeltrace2 and lttng take them:
//! `net://RELAY[:PORT]/host/TRACED_HOST/SESSION` names a session,
//! `net://RELAY[:PORT]` a relay (to list its sessions). `net4://` and
//! `net6://` are accepted too; IPv6 addresses go in brackets (`net6://[::1]`).

use std::fmt;

/// The relay daemon's default viewer port (lttng-tools `DEFAULT_NETWORK_VIEWER_PORT`).
pub const DEFAULT_VIEWER_PORT: u16 = 5344;

/// A URL that cannot be used, with the URL and what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("live URL `{url}`: {reason}")]
pub struct UrlError {
    /// The URL as given.
    pub url: String,
    /// What is wrong and what was expected.
    pub reason: &'static str,
}

/// A parsed live URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveUrl {
    /// Relay host (name or address, without IPv6 brackets).
    pub relay_host: String,
    /// Relay viewer port.
    pub port: u16,
    /// Traced host and session name, when the URL names a session.
    pub target: Option<SessionTarget>,
}

/// The `/host/HOSTNAME/SESSION` part of a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTarget {
    /// Hostname of the traced machine, as the relay lists it.
    pub hostname: String,
    /// Tracing session name.
    pub session: String,
}

impl LiveUrl {
    /// Parse a URL.
    pub fn parse(url: &str) -> Result<LiveUrl, UrlError> {
        let err = |reason| UrlError {
            url: url.to_string(),
            reason,
        };
        let rest = ["net://", "net4://", "net6://"]
            .iter()
            .find_map(|scheme| url.strip_prefix(scheme))
            .ok_or(err(
                "expected net://RELAY[:PORT]/host/HOSTNAME/SESSION (or net4://, net6://)",
            ))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (relay_host, port) = parse_authority(authority).map_err(err)?;
        let target = match path.trim_end_matches('/') {
            "" => None,
            p => {
                let parts: Vec<&str> = p.split('/').collect();
                match parts.as_slice() {
                    ["", "host", host, session] if !host.is_empty() && !session.is_empty() => {
                        Some(SessionTarget {
                            hostname: (*host).to_string(),
                            session: (*session).to_string(),
                        })
                    }
                    _ => {
                        return Err(err(
                            "the path must be /host/HOSTNAME/SESSION (hostname and session \
                             name as `trawl ls net://RELAY` shows them)",
                        ));
                    }
                }
            }
        };
        Ok(LiveUrl {
            relay_host,
            port,
            target,
        })
    }

    /// `host:port` for connecting (IPv6 in brackets).
    pub fn relay_addr(&self) -> String {
        if self.relay_host.contains(':') {
            format!("[{}]:{}", self.relay_host, self.port)
        } else {
            format!("{}:{}", self.relay_host, self.port)
        }
    }
}

fn parse_authority(a: &str) -> Result<(String, u16), &'static str> {
    let (host, port) = if let Some(v6) = a.strip_prefix('[') {
        let close = v6.find(']').ok_or("an IPv6 address needs a closing `]`")?;
        let after = &v6[close + 1..];
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("expected `:PORT` after `]`")?),
        };
        (&v6[..close], port)
    } else {
        match a.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (a, None),
        }
    };
    if host.is_empty() {
        return Err("missing relay host (net://RELAY[:PORT]/...)");
    }
    let port = match port {
        None => DEFAULT_VIEWER_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => return Err("the port must be a number from 1 to 65535"),
            Ok(n) => n,
        },
    };
    Ok((host.to_string(), port))
}

impl fmt::Display for LiveUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "net://{}", self.relay_addr())?;
        if let Some(t) = &self.target {
            write!(f, "/host/{}/{}", t.hostname, t.session)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_url() {
        let u = LiveUrl::parse("net://relay.example:6000/host/web-1/my-session").unwrap();
        assert_eq!(u.relay_host, "relay.example");
        assert_eq!(u.port, 6000);
        let t = u.target.clone().unwrap();
        assert_eq!(
            (t.hostname.as_str(), t.session.as_str()),
            ("web-1", "my-session")
        );
        assert_eq!(
            u.to_string(),
            "net://relay.example:6000/host/web-1/my-session"
        );
    }

    #[test]
    fn default_port_and_relay_only() {
        let u = LiveUrl::parse("net://localhost").unwrap();
        assert_eq!((u.port, u.target), (DEFAULT_VIEWER_PORT, None));
        let u = LiveUrl::parse("net4://127.0.0.1/").unwrap();
        assert_eq!(u.relay_addr(), "127.0.0.1:5344");
    }

    #[test]
    fn ipv6() {
        let u = LiveUrl::parse("net6://[::1]:5345/host/h/s").unwrap();
        assert_eq!(u.relay_host, "::1");
        assert_eq!(u.relay_addr(), "[::1]:5345");
        let u = LiveUrl::parse("net6://[fe80::1]").unwrap();
        assert_eq!(u.port, DEFAULT_VIEWER_PORT);
    }

    #[test]
    fn errors_say_what_to_fix() {
        for (url, needle) in [
            ("http://x/host/a/b", "expected net://"),
            ("net://", "missing relay host"),
            ("net://x:0", "port"),
            ("net://x:99999", "port"),
            ("net://x:abc", "port"),
            ("net://x/host/a", "/host/HOSTNAME/SESSION"),
            ("net://x/session/a/b", "/host/HOSTNAME/SESSION"),
            ("net://x/host//b", "/host/HOSTNAME/SESSION"),
            ("net://x/host/a/b/c", "/host/HOSTNAME/SESSION"),
            ("net6://[::1", "closing"),
            ("net6://[::1]5344", "`:PORT`"),
        ] {
            let e = LiveUrl::parse(url).unwrap_err();
            assert!(e.to_string().contains(needle), "{url}: {e}");
            assert!(e.to_string().contains(url), "{url}: {e}");
        }
    }
}
