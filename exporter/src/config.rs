//! The `[sinks.NAME] type = "prometheus"` options (serde) and their
//! validated runtime form.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::error::ExporterError;

/// Where `/metrics` listens unless `listen` says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9464";
/// Seconds after its last update that a series disappears.
pub const DEFAULT_STALE_AFTER_SECS: u64 = 300;
/// The per-container labels of every series, in this order.
pub const ALL_LABELS: [&str; 7] = [
    "host",
    "container_id",
    "container_name",
    "image",
    "namespace",
    "pod",
    "container",
];

/// Options of a `prometheus` sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusSinkConfig {
    /// `HOST:PORT` of the `/metrics` endpoint (default [`DEFAULT_LISTEN`]; port 0 picks a free one).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The container labels series carry, a subset of [`ALL_LABELS`]
    /// (default all); series that differ only in dropped labels are summed.
    #[serde(default = "default_labels")]
    pub labels: Vec<String>,
    /// A series not updated for this many seconds is dropped (default
    /// [`DEFAULT_STALE_AFTER_SECS`]; 0 keeps series forever).
    #[serde(default = "default_stale")]
    pub stale_after_secs: u64,
    /// Also export CPU usage as cAdvisor's `container_cpu_usage_seconds_total`
    /// with its labels (`id`, `name`, `image`, `namespace`, `pod`, `container`)
    /// (default false: a real cAdvisor may export the same name).
    #[serde(default)]
    pub cadvisor_names: bool,
}

fn default_listen() -> String {
    DEFAULT_LISTEN.to_string()
}

fn default_labels() -> Vec<String> {
    ALL_LABELS.iter().map(|s| s.to_string()).collect()
}

fn default_stale() -> u64 {
    DEFAULT_STALE_AFTER_SECS
}

impl Default for PrometheusSinkConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            labels: default_labels(),
            stale_after_secs: DEFAULT_STALE_AFTER_SECS,
            cadvisor_names: false,
        }
    }
}

/// The checked form of [`PrometheusSinkConfig`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// Listen address.
    pub listen: SocketAddr,
    /// Which of [`ALL_LABELS`] series keep.
    pub keep: [bool; 7],
    /// Series expiry (`None`: never).
    pub stale_after: Option<Duration>,
    /// Export `container_cpu_usage_seconds_total` too.
    pub cadvisor_names: bool,
}

impl PrometheusSinkConfig {
    /// Checks the options; errors name the field (`listen`, `labels`).
    pub fn settings(&self) -> Result<Settings, ExporterError> {
        let listen = self.listen.parse().map_err(|_| ExporterError::Config {
            field: "listen",
            why: format!("`{}` is not HOST:PORT (e.g. {DEFAULT_LISTEN})", self.listen),
        })?;
        let mut keep = [false; 7];
        for l in &self.labels {
            let i =
                ALL_LABELS
                    .iter()
                    .position(|a| a == l)
                    .ok_or_else(|| ExporterError::Config {
                        field: "labels",
                        why: format!("unknown label `{l}` (known: {})", ALL_LABELS.join(", ")),
                    })?;
            keep[i] = true;
        }
        Ok(Settings {
            listen,
            keep,
            stale_after: (self.stale_after_secs > 0)
                .then(|| Duration::from_secs(self.stale_after_secs)),
            cadvisor_names: self.cadvisor_names,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_name_their_field() {
        let c = PrometheusSinkConfig {
            listen: "nowhere".into(),
            ..Default::default()
        };
        assert_eq!(
            c.settings().unwrap_err().to_string(),
            "listen: `nowhere` is not HOST:PORT (e.g. 127.0.0.1:9464)"
        );
        let c = PrometheusSinkConfig {
            labels: vec!["pod".into(), "node".into()],
            ..Default::default()
        };
        assert!(
            c.settings()
                .unwrap_err()
                .to_string()
                .starts_with("labels: unknown label `node`")
        );
    }
}
