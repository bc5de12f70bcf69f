//! A static file of container records, for traces read offline.
//!
//! TOML (or JSON when the name ends in `.json`, the form
//! `trawl containers --format json` prints):
//!
//! ```toml
//! [[containers]]
//! host = "node1"
//! id = "3f5a2c0e9b1d4e7a8c6b5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
//! name = "web"
//! image = "nginx:1.27"
//! labels = { "io.kubernetes.pod.name" = "web-0", "io.kubernetes.pod.namespace" = "shop" }
//! pid_ns = 4026532301
//! net_ns = 4026532304
//! ```
//!
//! Every field of [`ContainerRecord`] may be given; `change` defaults to
//! `started` and `ts` to 0 (known from the start of every trace).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::EnrichError;
use crate::record::ContainerRecord;

/// The file's top level.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerFile {
    /// The records, applied in order.
    #[serde(default)]
    pub containers: Vec<ContainerRecord>,
}

impl ContainerFile {
    /// Reads and parses `path`; errors name the file and the position.
    pub fn load(path: &Path) -> Result<ContainerFile, EnrichError> {
        let text = std::fs::read_to_string(path).map_err(|source| EnrichError::Io {
            context: format!("reading container file {}", path.display()),
            source,
        })?;
        let bad = |reason: String| EnrichError::File {
            path: path.to_path_buf(),
            reason,
        };
        if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| bad(e.to_string()))
        } else {
            toml::from_str(&text).map_err(|e| bad(e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Change;

    #[test]
    fn toml_and_json_forms_read_the_same_records() {
        let dir = tempfile::tempdir().unwrap();
        let toml_path = dir.path().join("c.toml");
        std::fs::write(
            &toml_path,
            "[[containers]]\nhost = \"n\"\nid = \"x\"\nname = \"web\"\npid_ns = 7\n\
             labels = { \"io.kubernetes.pod.name\" = \"p\" }\n\n\
             [[containers]]\nhost = \"n\"\nchange = \"host\"\npid_ns = 4026531836\n",
        )
        .unwrap();
        let file = ContainerFile::load(&toml_path).unwrap();
        assert_eq!(file.containers.len(), 2);
        assert_eq!(file.containers[0].change, Change::Started);
        assert_eq!(file.containers[0].k8s_pod(), Some("p"));
        assert_eq!(file.containers[0].ns.pid_ns, Some(7));
        assert_eq!(file.containers[1].change, Change::Host);
        let json_path = dir.path().join("c.json");
        std::fs::write(&json_path, serde_json::to_string(&file).unwrap()).unwrap();
        assert_eq!(ContainerFile::load(&json_path).unwrap(), file);
    }

    #[test]
    fn a_typo_is_an_error_naming_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[[containers]]\nhost = \"n\"\npidns = 7\n").unwrap();
        let e = ContainerFile::load(&path).unwrap_err().to_string();
        assert!(e.contains("c.toml") && e.contains("pidns"), "{e}");
    }
}
