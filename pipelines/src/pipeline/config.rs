//! The pipeline config file: TOML in the style of Vector.
//!
//! ```toml
//! [runner]                      # optional; every key has a default
//! edge_capacity = 16
//! metrics_interval_secs = 10
//!
//! [sources.traces]              # a source: `type` and its own keys
//! type = "lttng"
//! paths = ["/var/lib/traces"]
//!
//! [transforms.sched]            # a transform: `type`, `inputs`, its keys
//! type = "filter"
//! inputs = ["traces"]
//! events = ["sched_*"]
//!
//! [sinks.out]                   # a sink: `type`, `inputs`, its keys
//! type = "jsonl"
//! inputs = ["sched"]
//! path = "sched.jsonl"
//! ```
//!
//! Stage names are unique across the three sections. Relative paths in
//! stage options are relative to the config file's directory.
//!
//! Parsing keeps every value's position: the `type` and `inputs` keys are
//! read here, the rest of a stage's table is deserialized (serde,
//! `deny_unknown_fields`) into the config of its type by the registry, from
//! toml's spanned tree, so that every error carries a line, a column and
//! the dotted path of the value.

use std::num::NonZeroUsize;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::error::{ConfigError, ConfigErrorKind};
use super::registry::{self, StageFactory};

/// Messages a stage's input queue holds before its producers block.
pub const DEFAULT_EDGE_CAPACITY: usize = 16;
/// Seconds between two reports of the per-stage counters on stderr.
pub const DEFAULT_METRICS_INTERVAL_SECS: f64 = 10.0;

/// The `[runner]` table: how the pipeline runs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunnerConfig {
    /// Messages (batches, watermarks, losses) each stage's input queue holds
    /// before the stages feeding it block (default [`DEFAULT_EDGE_CAPACITY`]).
    /// Memory held by the edges is about `edge_capacity` × the batch size
    /// per stage.
    pub edge_capacity: NonZeroUsize,
    /// Seconds between two reports of the per-stage counters on stderr; `0`
    /// reports only at the end (default [`DEFAULT_METRICS_INTERVAL_SECS`]).
    pub metrics_interval_secs: f64,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            edge_capacity: NonZeroUsize::new(DEFAULT_EDGE_CAPACITY).unwrap_or(NonZeroUsize::MIN),
            metrics_interval_secs: DEFAULT_METRICS_INTERVAL_SECS,
        }
    }
}

/// The three kinds of stages, one table each in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    /// `[sources.NAME]`: produce messages.
    Sources,
    /// `[transforms.NAME]`: map messages.
    Transforms,
    /// `[sinks.NAME]`: consume messages.
    Sinks,
}

impl Section {
    /// The table name (`sources`).
    pub fn key(self) -> &'static str {
        match self {
            Section::Sources => "sources",
            Section::Transforms => "transforms",
            Section::Sinks => "sinks",
        }
    }

    /// One stage of the section (`source`).
    pub fn singular(self) -> &'static str {
        match self {
            Section::Sources => "source",
            Section::Transforms => "transform",
            Section::Sinks => "sink",
        }
    }
}

/// A stage as written, its options parsed, its edges not yet checked.
#[derive(Debug)]
pub(crate) struct RawStage {
    pub section: Section,
    pub name: String,
    /// Where its name is written (`[sources.NAME]`).
    pub span: Range<usize>,
    /// The value of `type`.
    pub ty: String,
    /// The names in `inputs` (empty for sources).
    pub inputs: Vec<Spanned<String>>,
    /// The options, `None` if they have errors (reported): the stage is
    /// kept so that the edges can still be checked.
    pub config: Option<Box<dyn StageFactory>>,
}

impl RawStage {
    /// `sources.NAME`.
    pub fn path(&self) -> String {
        format!("{}.{}", self.section.key(), self.name)
    }
}

/// A parsed document: the runner settings and the stages in file order.
#[derive(Debug)]
pub(crate) struct Document {
    pub runner: RunnerConfig,
    pub stages: Vec<RawStage>,
}

/// Collects errors against the text they are about.
pub(crate) struct Diagnostics<'a> {
    text: &'a str,
    /// The parsed tree, to name the value at an error's position.
    tree: Option<DeTable<'a>>,
    pub errors: Vec<ConfigError>,
}

impl<'a> Diagnostics<'a> {
    pub fn new(text: &'a str) -> Self {
        Diagnostics {
            text,
            tree: None,
            errors: Vec::new(),
        }
    }

    /// An error at byte `span.start`, about the value at `path`.
    pub fn push(&mut self, span: &Range<usize>, path: String, kind: ConfigErrorKind) {
        let (line, column) = self.line_column(span.start);
        self.errors.push(ConfigError {
            line,
            column,
            path,
            kind,
        });
    }

    /// `line:column` of byte `offset`.
    pub fn position(&self, offset: usize) -> String {
        let (line, column) = self.line_column(offset);
        format!("{line}:{column}")
    }

    /// A deserialization error of toml: its position and the path of the
    /// value there.
    fn toml(&mut self, e: &toml::de::Error, kind: fn(String) -> ConfigErrorKind) {
        let span = e.span().unwrap_or(0..0);
        let path = self
            .tree
            .as_ref()
            .map(|t| path_at(t, &span))
            .unwrap_or_default();
        self.push(&span, path, kind(e.message().to_string()));
    }

    fn line_column(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..floor_char_boundary(self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }

    /// The span of the value at `path` (keys from the root), if present.
    pub fn span_of(&self, path: &[&str]) -> Option<Range<usize>> {
        let (last, parents) = path.split_last()?;
        let mut table = self.tree.as_ref()?;
        for key in parents {
            table = table.get(*key)?.get_ref().as_table()?;
        }
        table.get(*last).map(Spanned::span)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The dotted path of the deepest key or value of `table` that holds
/// `span`. A table's own span is only its header, so the whole tree is
/// searched.
fn path_at(table: &DeTable<'_>, span: &Range<usize>) -> String {
    let mut best = None;
    search_table(table, span, String::new(), &mut best);
    best.unwrap_or_default()
}

fn search_table(
    table: &DeTable<'_>,
    span: &Range<usize>,
    prefix: String,
    best: &mut Option<String>,
) {
    for (k, v) in table.iter() {
        let path = if prefix.is_empty() {
            k.get_ref().to_string()
        } else {
            format!("{prefix}.{}", k.get_ref())
        };
        if holds(&k.span(), span) {
            *best = Some(path.clone());
        }
        search_value(v, span, path, best);
    }
}

fn search_value(
    value: &Spanned<DeValue<'_>>,
    span: &Range<usize>,
    path: String,
    best: &mut Option<String>,
) {
    if holds(&value.span(), span) {
        *best = Some(path.clone());
    }
    match value.get_ref() {
        DeValue::Table(t) => search_table(t, span, path, best),
        DeValue::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                search_value(v, span, format!("{path}[{i}]"), best);
            }
        }
        _ => {}
    }
}

fn holds(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end && outer.start < outer.end
}

/// Parses `text`; `None` when it is not TOML. Other errors go to `diag`.
pub(crate) fn parse<'a>(text: &'a str, diag: &mut Diagnostics<'a>) -> Option<Document> {
    let root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(e) => {
            diag.toml(&e, ConfigErrorKind::Syntax);
            return None;
        }
    };
    diag.tree = Some(root.get_ref().clone());
    let mut doc = Document {
        runner: RunnerConfig::default(),
        stages: Vec::new(),
    };
    for (key, value) in root.into_inner() {
        let section = match key.get_ref().as_ref() {
            "runner" => {
                match RunnerConfig::deserialize(ValueDeserializer::from(value)) {
                    Ok(runner) => doc.runner = runner,
                    Err(e) => diag.toml(&e, ConfigErrorKind::Field),
                }
                continue;
            }
            "sources" => Section::Sources,
            "transforms" => Section::Transforms,
            "sinks" => Section::Sinks,
            other => {
                let kind = ConfigErrorKind::UnknownSection(other.to_string());
                diag.push(&key.span(), other.to_string(), kind);
                continue;
            }
        };
        let span = value.span();
        let DeValue::Table(stages) = value.into_inner() else {
            diag.push(&span, section.key().into(), ConfigErrorKind::NotATable);
            continue;
        };
        for (name, stage) in stages {
            doc.stages.push(parse_stage(section, name, stage, diag));
        }
    }
    // The tree's tables are sorted by name; keep the file's order.
    doc.stages.sort_by_key(|s| s.span.start);
    if doc.runner.metrics_interval_secs < 0.0 || !doc.runner.metrics_interval_secs.is_finite() {
        let span = diag
            .span_of(&["runner", "metrics_interval_secs"])
            .unwrap_or(0..0);
        diag.push(
            &span,
            "runner.metrics_interval_secs".into(),
            ConfigErrorKind::Invalid("must be a finite number of seconds >= 0".into()),
        );
    }
    Some(doc)
}

fn parse_stage(
    section: Section,
    name: Spanned<std::borrow::Cow<'_, str>>,
    value: Spanned<DeValue<'_>>,
    diag: &mut Diagnostics<'_>,
) -> RawStage {
    let mut stage = RawStage {
        section,
        span: name.span(),
        name: name.into_inner().into_owned(),
        ty: String::new(),
        inputs: Vec::new(),
        config: None,
    };
    let path = stage.path();
    let table_span = value.span();
    let DeValue::Table(mut table) = value.into_inner() else {
        diag.push(&table_span, path, ConfigErrorKind::NotATable);
        return stage;
    };
    if section != Section::Sources {
        // Missing or empty: the topology says so. Names are read one by
        // one so that a bad one does not hide the edges of the others.
        match table.remove("inputs") {
            None => {}
            Some(v) => match v.into_inner() {
                DeValue::Array(names) => {
                    for name in names.into_iter() {
                        let span = name.span();
                        match String::deserialize(ValueDeserializer::from(name)) {
                            Ok(name) => stage.inputs.push(Spanned::new(span, name)),
                            Err(e) => diag.toml(&e, ConfigErrorKind::Field),
                        }
                    }
                }
                _ => {
                    let span = diag
                        .span_of(&[section.key(), &stage.name, "inputs"])
                        .unwrap_or(stage.span.clone());
                    let kind = ConfigErrorKind::Invalid("must be an array of stage names".into());
                    diag.push(&span, format!("{path}.inputs"), kind);
                }
            },
        }
    }
    match table.remove("type") {
        None => {
            diag.push(&stage.span, path, ConfigErrorKind::MissingType);
            return stage;
        }
        Some(ty) => match String::deserialize(ValueDeserializer::from(ty)) {
            Ok(ty) => stage.ty = ty,
            Err(e) => {
                diag.toml(&e, ConfigErrorKind::Field);
                return stage;
            }
        },
    }
    let options = ValueDeserializer::from(Spanned::new(table_span, DeValue::Table(table)));
    let config = match registry::parse(section, &stage.ty, options) {
        None => {
            let span = diag
                .span_of(&[section.key(), &stage.name, "type"])
                .unwrap_or(stage.span.clone());
            let kind = ConfigErrorKind::UnknownType {
                section: section.singular(),
                found: stage.ty.clone(),
                expected: registry::types(section),
            };
            diag.push(&span, format!("{path}.type"), kind);
            return stage;
        }
        Some(Err(e)) => {
            diag.toml(&e, ConfigErrorKind::Field);
            return stage;
        }
        Some(Ok(config)) => config,
    };
    for (field, reason) in config.check() {
        let span = diag
            .span_of(&[section.key(), &stage.name, &field])
            .unwrap_or(stage.span.clone());
        diag.push(
            &span,
            format!("{path}.{field}"),
            ConfigErrorKind::Invalid(reason),
        );
    }
    stage.config = Some(config);
    stage
}
