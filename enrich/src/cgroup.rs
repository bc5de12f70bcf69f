//! Container ids from cgroup paths, for every common runtime layout.
//!
//! The runtimes put each container in a cgroup whose last meaningful path
//! component holds its 64-hex-digit id:
//!
//! | runtime | cgroupfs driver | systemd driver |
//! |---|---|---|
//! | Docker | `/docker/ID` | `/system.slice/docker-ID.scope` |
//! | containerd (CRI) | `/kubepods/QOS/podUID/ID` | `/kubepods.slice/…/cri-containerd-ID.scope` |
//! | CRI-O | `/kubepods/QOS/podUID/crio-ID` | `/kubepods.slice/…/crio-ID.scope` |
//! | podman | `/libpod_parent/libpod-ID` | `/machine.slice/libpod-ID.scope[/container]` |
//!
//! Under cgroup v1 each hierarchy has a line in `/proc/PID/cgroup`
//! (`4:memory:/docker/ID`); under v2 there is one (`0::/system.slice/…`).
//! Monitor processes (`crio-conmon-ID`, `libpod-conmon-ID`) are not the
//! container.

/// Which runtime layout a cgroup path follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Runtime {
    /// Docker Engine (`docker-ID.scope`, `/docker/ID`).
    Docker,
    /// containerd (`cri-containerd-ID.scope`, `containerd-ID.scope`, a bare
    /// id under a Kubernetes pod).
    Containerd,
    /// CRI-O (`crio-ID`).
    CriO,
    /// podman / libpod (`libpod-ID`).
    Podman,
    /// A bare id in an unknown layout.
    Unknown,
}

impl Runtime {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Podman => "podman",
            Runtime::Unknown => "unknown",
        }
    }
}

/// A container found in a cgroup path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupContainer {
    /// The layout.
    pub runtime: Runtime,
    /// The container id (64 lowercase hex digits).
    pub id: String,
    /// The Kubernetes pod UID when the path is under `kubepods`.
    pub pod_uid: Option<String>,
}

const PREFIXES: [(&str, Runtime); 5] = [
    ("docker-", Runtime::Docker),
    ("cri-containerd-", Runtime::Containerd),
    ("containerd-", Runtime::Containerd),
    ("crio-", Runtime::CriO),
    ("libpod-", Runtime::Podman),
];

fn is_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The container a cgroup path belongs to, if any.
pub fn parse_path(path: &str) -> Option<CgroupContainer> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    // The innermost component holding an id wins (podman's `…/libpod-ID.scope/container`).
    let (at, runtime, id) = parts.iter().enumerate().rev().find_map(|(i, part)| {
        let part = part.strip_suffix(".scope").unwrap_or(part);
        for (prefix, runtime) in PREFIXES {
            if let Some(rest) = part.strip_prefix(prefix) {
                return is_id(rest).then_some((i, runtime, rest));
            }
        }
        is_id(part).then_some((i, Runtime::Unknown, part))
    })?;
    let parents = &parts[..at];
    let pod_uid = parents.iter().rev().find_map(|p| pod_uid(p));
    let runtime = match runtime {
        Runtime::Unknown if parents.last() == Some(&"docker") => Runtime::Docker,
        Runtime::Unknown if parents.first().is_some_and(|p| p.starts_with("kubepods")) => {
            Runtime::Containerd
        }
        r => r,
    };
    Some(CgroupContainer {
        runtime,
        id: id.to_owned(),
        pod_uid,
    })
}

/// `podUID` (cgroupfs) or `kubepods-QOS-podUID.slice` (systemd, `_` for `-`).
fn pod_uid(part: &str) -> Option<String> {
    let part = part.strip_suffix(".slice").unwrap_or(part);
    let uid = part
        .rsplit_once("-pod")
        .map_or_else(|| part.strip_prefix("pod"), |(_, uid)| Some(uid))?;
    (uid.len() >= 32
        && uid
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'_'))
    .then(|| uid.replace('_', "-"))
}

/// The container of a process from its `/proc/PID/cgroup` text, and the
/// path it was found in. The v2 line (`0::`) is preferred, then any v1 line.
pub fn parse_proc_cgroup(text: &str) -> Option<(CgroupContainer, String)> {
    let paths = text
        .lines()
        .filter_map(|l| l.splitn(3, ':').nth(2).map(|p| (l.starts_with("0::"), p)));
    let mut found = None;
    for (v2, path) in paths {
        if let Some(c) = parse_path(path) {
            if v2 {
                return Some((c, path.to_owned()));
            }
            found.get_or_insert((c, path.to_owned()));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f5a2c0e9b1d4e7a8c6b5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a";
    const POD: &str = "8d6b3a2e-1c4f-4a5b-9e8d-7c6b5a4f3e2d";

    fn parse(path: &str) -> (Runtime, String, Option<String>) {
        let c = parse_path(path).unwrap_or_else(|| panic!("no container in {path}"));
        (c.runtime, c.id, c.pod_uid)
    }

    #[test]
    fn docker_cgroupfs_and_systemd() {
        assert_eq!(
            parse(&format!("/docker/{ID}")),
            (Runtime::Docker, ID.into(), None)
        );
        assert_eq!(
            parse(&format!("/system.slice/docker-{ID}.scope")),
            (Runtime::Docker, ID.into(), None)
        );
        // Docker in a nested cgroup parent (e.g. inside a CI runner's cgroup).
        assert_eq!(
            parse(&format!("/actions_job/abc/docker/{ID}")),
            (Runtime::Docker, ID.into(), None)
        );
    }

    #[test]
    fn kubepods_containerd_and_crio() {
        let systemd_pod = POD.replace('-', "_");
        assert_eq!(
            parse(&format!(
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{systemd_pod}.slice/cri-containerd-{ID}.scope"
            )),
            (Runtime::Containerd, ID.into(), Some(POD.into()))
        );
        assert_eq!(
            parse(&format!("/kubepods/besteffort/pod{POD}/{ID}")),
            (Runtime::Containerd, ID.into(), Some(POD.into()))
        );
        assert_eq!(
            parse(&format!("/kubepods/pod{POD}/{ID}")),
            (Runtime::Containerd, ID.into(), Some(POD.into()))
        );
        assert_eq!(
            parse(&format!(
                "/kubepods.slice/kubepods-pod{systemd_pod}.slice/crio-{ID}.scope"
            )),
            (Runtime::CriO, ID.into(), Some(POD.into()))
        );
    }

    #[test]
    fn podman_rootful_rootless_and_nested_init_cgroup() {
        assert_eq!(
            parse(&format!("/machine.slice/libpod-{ID}.scope")),
            (Runtime::Podman, ID.into(), None)
        );
        assert_eq!(
            parse(&format!(
                "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope/container"
            )),
            (Runtime::Podman, ID.into(), None)
        );
        assert_eq!(
            parse(&format!("/libpod_parent/libpod-{ID}")),
            (Runtime::Podman, ID.into(), None)
        );
    }

    #[test]
    fn host_and_monitor_cgroups_are_no_container() {
        for path in [
            "/",
            "/user.slice/user-0.slice/session-1.scope",
            "/system.slice/docker.service",
            "/system.slice/containerd.service",
            "/kubepods.slice/kubepods-besteffort.slice",
            &format!("/machine.slice/libpod-conmon-{ID}.scope"),
            &format!("/kubepods.slice/crio-conmon-{ID}.scope"),
            // Not 64 hex digits.
            "/docker/3f5a2c0e9b1d",
            &format!("/docker/{}", ID.to_uppercase()),
        ] {
            assert_eq!(parse_path(path), None, "{path}");
        }
    }

    #[test]
    fn proc_cgroup_v1_and_v2() {
        let v1 = format!(
            "12:pids:/docker/{ID}\n11:memory:/docker/{ID}\n1:name=systemd:/docker/{ID}\n0::/\n"
        );
        let (c, path) = parse_proc_cgroup(&v1).unwrap();
        assert_eq!(
            (c.runtime, c.id.as_str(), path),
            (Runtime::Docker, ID, format!("/docker/{ID}"))
        );
        let v2 = format!("0::/system.slice/docker-{ID}.scope\n");
        assert_eq!(parse_proc_cgroup(&v2).unwrap().0.id, ID);
        assert_eq!(parse_proc_cgroup("0::/init.scope\n"), None);
        assert_eq!(parse_proc_cgroup("garbage"), None);
    }
}
