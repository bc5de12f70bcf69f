//! The stage types a config can name: one match on `(section, type)`.
//!
//! To add a type: give its config struct (serde, `deny_unknown_fields`, a
//! doc line and a `DEFAULT_*` constant per default) an impl of
//! [`StageFactory`], add one arm to [`parse`] and its name to [`types`].
//! A config struct may live in its stage's crate (the Parquet sink's does):
//! the `StageFactory` impl then lives in `crate::stages`.

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use toml::de::ValueDeserializer;

use super::config::Section;
use super::metrics::StageMetrics;
use super::runner::Stage;
use crate::stages::{
    ContainersSourceConfig, EnrichConfig, FilterConfig, JsonlSinkConfig, LttngLiveSourceConfig,
    LttngSourceConfig, NullSinkConfig,
};

/// A stage's parsed options, able to build the stage.
pub trait StageFactory: Debug + Send {
    /// Values that parse but cannot be used: `(field, reason)` pairs.
    fn check(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Builds the stage (opens its inputs or outputs).
    fn build(&self, ctx: &BuildContext) -> Result<Stage, BuildError>;
}

/// Why a stage could not be built.
pub type BuildError = Box<dyn std::error::Error + Send + Sync>;

/// What a stage learns about its place in the pipeline when it is built.
#[derive(Debug, Clone)]
pub struct BuildContext {
    /// The directory relative paths are relative to (the config file's).
    pub base_dir: PathBuf,
    /// The stage's counters (to report errors it goes on after).
    pub metrics: Arc<StageMetrics>,
    /// The counters of every stage of the pipeline (for a stage that
    /// exports them, like the Prometheus sink).
    pub pipeline: Arc<[Arc<StageMetrics>]>,
}

impl BuildContext {
    /// `path` relative to the config file's directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.base_dir.join(path)
    }
}

/// The stage types of a section, for error messages.
pub(crate) fn types(section: Section) -> &'static [&'static str] {
    match section {
        Section::Sources => &["lttng", "lttng-live", "containers"],
        Section::Transforms => &["filter", "enrich"],
        Section::Sinks => &["jsonl", "null", "parquet", "prometheus"],
    }
}

/// Deserializes the options of a stage of type `ty`; `None` when the
/// section has no such type.
pub(crate) fn parse(
    section: Section,
    ty: &str,
    options: ValueDeserializer<'_>,
) -> Option<Result<Box<dyn StageFactory>, toml::de::Error>> {
    Some(match (section, ty) {
        (Section::Sources, "lttng") => factory::<LttngSourceConfig>(options),
        (Section::Sources, "lttng-live") => factory::<LttngLiveSourceConfig>(options),
        (Section::Sources, "containers") => factory::<ContainersSourceConfig>(options),
        (Section::Transforms, "filter") => factory::<FilterConfig>(options),
        (Section::Transforms, "enrich") => factory::<EnrichConfig>(options),
        (Section::Sinks, "jsonl") => factory::<JsonlSinkConfig>(options),
        (Section::Sinks, "null") => factory::<NullSinkConfig>(options),
        (Section::Sinks, "parquet") => factory::<trawl_sink_parquet::ParquetSinkConfig>(options),
        (Section::Sinks, "prometheus") => factory::<trawl_exporter::PrometheusSinkConfig>(options),
        _ => return None,
    })
}

fn factory<T: StageFactory + DeserializeOwned + 'static>(
    options: ValueDeserializer<'_>,
) -> Result<Box<dyn StageFactory>, toml::de::Error> {
    T::deserialize(options).map(|t| Box::new(t) as Box<dyn StageFactory>)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_type_is_parsed() {
        for section in [Section::Sources, Section::Transforms, Section::Sinks] {
            for ty in types(section) {
                let options = ValueDeserializer::parse("{}").unwrap();
                assert!(parse(section, ty, options).is_some(), "{ty}");
            }
        }
    }
}
