//! `trawl containers`: what the container watchers see on this host.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use trawl_enrich::{
    Change, ContainerFile, ContainerRecord, DEFAULT_PROC_ROOT, WatcherBuilder,
    default_docker_socket,
};

/// Arguments of `trawl containers`.
#[derive(Debug, Args)]
pub struct ContainersArgs {
    /// The Docker socket (default: `DOCKER_HOST` if it is `unix://PATH`, else
    /// /var/run/docker.sock).
    #[arg(long, value_name = "PATH")]
    pub docker_socket: Option<String>,
    /// Do not ask Docker: find containers from /proc and cgroup paths only.
    #[arg(long, conflicts_with = "docker_socket")]
    pub no_docker: bool,
    /// Where /proc is mounted.
    #[arg(long = "proc", value_name = "PATH", default_value = DEFAULT_PROC_ROOT)]
    pub proc_root: PathBuf,
    /// The host name the records carry (default: this kernel's).
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Keep running and print every change as it happens.
    #[arg(long, short)]
    pub follow: bool,
    /// `table` (default) or `json` (a static container file for offline traces).
    #[arg(long, value_enum, default_value_t = ContainersFormat::Table)]
    pub format: ContainersFormat,
}

/// Output format of `trawl containers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ContainersFormat {
    /// One line per container.
    Table,
    /// `{"containers": [...]}`, readable back as a static container file
    /// (one object per line with `--follow`).
    Json,
}

pub(super) fn run(args: ContainersArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let socket = if args.no_docker {
        None
    } else {
        Some(
            args.docker_socket
                .clone()
                .unwrap_or_else(default_docker_socket),
        )
    };
    let mut builder = WatcherBuilder::new()
        .docker_socket(socket)
        .proc_root(&args.proc_root)
        .follow(args.follow);
    if let Some(host) = &args.host {
        builder = builder.host(host);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut watcher = builder.start().await;
        let mut out = std::io::stdout().lock();
        let mut first = true;
        while let Some(records) = watcher.next_records().await {
            for warning in watcher.take_warnings() {
                eprintln!("trawl: warning: {warning}");
            }
            if records.is_empty() {
                continue;
            }
            match args.format {
                ContainersFormat::Json => {
                    let file = ContainerFile {
                        containers: records,
                    };
                    serde_json::to_writer(&mut out, &file)?;
                    writeln!(out)?;
                }
                ContainersFormat::Table => {
                    if first {
                        writeln!(
                            out,
                            "# source: {}, host: {}",
                            watcher.source(),
                            watcher.host()
                        )?;
                        writeln!(out, "{}", header(args.follow))?;
                    }
                    for r in records.iter().filter(|r| r.change != Change::Host) {
                        writeln!(out, "{}", line(r, args.follow))?;
                    }
                }
            }
            first = false;
            out.flush()?;
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn header(follow: bool) -> String {
    let change = if follow { "CHANGE    " } else { "" };
    format!(
        "{change}{:<12}  {:<20}  {:<24}  {:<30}  {:<10}  {:<10}  {:<10}  {:<10}  PIDS",
        "ID", "NAME", "IMAGE", "POD", "PID_NS", "NET_NS", "MNT_NS", "CGROUP_NS"
    )
}

fn line(r: &ContainerRecord, follow: bool) -> String {
    let opt = |v: Option<&str>| v.unwrap_or("-").to_owned();
    let ns = |v: Option<u32>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    let pod = match (r.k8s_namespace(), r.k8s_pod(), r.k8s_container()) {
        (None, None, None) => "-".to_owned(),
        (n, p, c) => format!("{}/{}/{}", opt(n), opt(p), opt(c)),
    };
    let pids = r
        .pids
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let change = if follow {
        format!("{:<10}", r.change.as_str())
    } else {
        String::new()
    };
    format!(
        "{change}{:<12}  {:<20}  {:<24}  {:<30}  {:<10}  {:<10}  {:<10}  {:<10}  {}",
        r.id.get(..12).unwrap_or(&r.id),
        opt(r.name.as_deref()),
        opt(r.image.as_deref()),
        pod,
        ns(r.ns.pid_ns),
        ns(r.ns.net_ns),
        ns(r.ns.mnt_ns),
        ns(r.ns.cgroup_ns),
        if pids.is_empty() { "-" } else { &pids },
    )
}
