//! The validated graph: names resolved, edges checked, stages in an order
//! where every stage comes after the stages it reads.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::config::{self, Diagnostics, RawStage, RunnerConfig, Section};
use super::error::{ConfigErrorKind, ConfigErrors, RunError};
use super::metrics::StageMetrics;
use super::registry::BuildContext;
use super::runner::{self, RunNode, RunReport, Shutdown, Stage};

/// A pipeline config, checked and ready to run.
#[derive(Debug)]
pub struct Topology {
    file: String,
    base_dir: PathBuf,
    runner: RunnerConfig,
    /// In topological order.
    stages: Vec<RawStage>,
    /// Per stage, the indices (into `stages`) of its inputs.
    inputs: Vec<Vec<usize>>,
}

impl Topology {
    /// Reads and checks the config file at `path`.
    pub fn load(path: &Path) -> Result<Topology, RunError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| RunError::Read {
            file: file.clone(),
            source,
        })?;
        let base_dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Ok(Topology::parse(&file, &text, base_dir)?)
    }

    /// Checks the config `text` (named `file` in errors); relative paths in
    /// stage options are relative to `base_dir`.
    pub fn parse(file: &str, text: &str, base_dir: PathBuf) -> Result<Topology, ConfigErrors> {
        let mut diag = Diagnostics::new(text);
        let topology = config::parse(text, &mut diag).and_then(|doc| {
            let (stages, inputs) = connect(doc.stages, &mut diag)?;
            Some(Topology {
                file: file.to_string(),
                base_dir,
                runner: doc.runner,
                stages,
                inputs,
            })
        });
        match topology {
            Some(t) if diag.errors.is_empty() => Ok(t),
            _ => {
                let mut errors = diag.errors;
                errors.sort_by_key(|e| (e.line, e.column));
                Err(ConfigErrors {
                    file: file.to_string(),
                    errors,
                })
            }
        }
    }

    /// The `[runner]` settings.
    pub fn runner(&self) -> &RunnerConfig {
        &self.runner
    }

    /// What `trawl validate` prints: counts, then one line per stage with
    /// its type and inputs.
    pub fn summary(&self) -> String {
        let count = |s: Section| self.stages.iter().filter(|st| st.section == s).count();
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let edges: usize = self.inputs.iter().map(Vec::len).sum();
        let mut out = format!(
            "{}: ok: {}, {}, {}, {}\n",
            self.file,
            plural(count(Section::Sources), "source"),
            plural(count(Section::Transforms), "transform"),
            plural(count(Section::Sinks), "sink"),
            plural(edges, "edge"),
        );
        for (stage, inputs) in self.stages.iter().zip(&self.inputs) {
            let _ = write!(out, "  {} ({})", stage.path(), stage.ty);
            if !inputs.is_empty() {
                let names: Vec<_> = inputs
                    .iter()
                    .map(|&i| self.stages[i].name.as_str())
                    .collect();
                let _ = write!(out, " <- {}", names.join(", "));
            }
            out.push('\n');
        }
        out
    }

    /// Builds every stage and runs the pipeline until its sources end or
    /// `shutdown` is triggered, then drains and flushes.
    pub fn run(&self, shutdown: &Shutdown) -> Result<RunReport, RunError> {
        let pipeline: Arc<[Arc<StageMetrics>]> = self
            .stages
            .iter()
            .map(|s| Arc::new(StageMetrics::new(s.path(), s.section == Section::Sources)))
            .collect();
        let mut nodes = Vec::with_capacity(self.stages.len());
        for ((stage, inputs), metrics) in self.stages.iter().zip(&self.inputs).zip(pipeline.iter())
        {
            let ctx = BuildContext {
                base_dir: self.base_dir.clone(),
                metrics: metrics.clone(),
                pipeline: pipeline.clone(),
            };
            let build = |config: &dyn super::registry::StageFactory| config.build(&ctx);
            let built = stage
                .config
                .as_deref()
                .ok_or_else(|| "options with errors".into())
                .and_then(build)
                .map_err(|source| RunError::Build {
                    stage: stage.path(),
                    source,
                })?;
            let fits = matches!(
                (&built, stage.section),
                (Stage::Source(_), Section::Sources)
                    | (Stage::Transform(_), Section::Transforms)
                    | (Stage::Sink(_), Section::Sinks)
            );
            if !fits {
                return Err(RunError::Build {
                    stage: stage.path(),
                    source: format!("type \"{}\" built a stage of another kind", stage.ty).into(),
                });
            }
            nodes.push(RunNode {
                metrics: metrics.clone(),
                inputs: inputs.clone(),
                stage: built,
            });
        }
        runner::execute(nodes, &self.runner, shutdown)
    }
}

/// Checks names and edges; returns the stages in topological order with
/// their inputs as indices.
fn connect(
    stages: Vec<RawStage>,
    diag: &mut Diagnostics<'_>,
) -> Option<(Vec<RawStage>, Vec<Vec<usize>>)> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, stage) in stages.iter().enumerate() {
        if let Some(&first) = index.get(stage.name.as_str()) {
            let kind = ConfigErrorKind::DuplicateName {
                name: stage.name.clone(),
                first: diag.position(stages[first].span.start),
            };
            diag.push(&stage.span, stage.path(), kind);
        } else {
            index.insert(&stage.name, i);
        }
    }
    let mut inputs: Vec<Vec<usize>> = vec![Vec::new(); stages.len()];
    let mut consumed = vec![false; stages.len()];
    for (i, stage) in stages.iter().enumerate() {
        if stage.section != Section::Sources && stage.inputs.is_empty() {
            let span = diag
                .span_of(&[stage.section.key(), &stage.name, "inputs"])
                .unwrap_or(stage.span.clone());
            let kind = ConfigErrorKind::NoInputs(stage.section.singular());
            diag.push(&span, format!("{}.inputs", stage.path()), kind);
        }
        let mut seen = HashSet::new();
        for (k, name) in stage.inputs.iter().enumerate() {
            let path = format!("{}.inputs[{k}]", stage.path());
            let name_str = name.get_ref().as_str();
            let kind = match index.get(name_str) {
                _ if !seen.insert(name_str) => ConfigErrorKind::DuplicateInput(name_str.into()),
                None => ConfigErrorKind::UnknownInput(name_str.into()),
                Some(&j) if stages[j].section == Section::Sinks => {
                    ConfigErrorKind::InputIsSink(name_str.into())
                }
                Some(&j) => {
                    inputs[i].push(j);
                    consumed[j] = true;
                    continue;
                }
            };
            diag.push(&name.span(), path, kind);
        }
    }
    for (stage, consumed) in stages.iter().zip(&consumed) {
        if stage.section != Section::Sinks && !consumed {
            diag.push(&stage.span, stage.path(), ConfigErrorKind::NoConsumer);
        }
    }
    for (section, what) in [(Section::Sources, "source"), (Section::Sinks, "sink")] {
        if !stages.iter().any(|s| s.section == section) {
            diag.push(&(0..0), String::new(), ConfigErrorKind::Missing(what));
        }
    }
    let order = topological_order(&stages, &inputs, diag);
    if !diag.errors.is_empty() {
        return None;
    }
    // Renumber into topological order.
    let mut position = vec![0; stages.len()];
    for (p, &i) in order.iter().enumerate() {
        position[i] = p;
    }
    let mut slots: Vec<Option<RawStage>> = stages.into_iter().map(Some).collect();
    let mut sorted = Vec::with_capacity(order.len());
    let mut sorted_inputs = Vec::with_capacity(order.len());
    for &i in &order {
        sorted.extend(slots[i].take());
        sorted_inputs.push(inputs[i].iter().map(|&j| position[j]).collect());
    }
    Some((sorted, sorted_inputs))
}

/// Kahn's algorithm over `inputs`; reports each cycle once.
fn topological_order(
    stages: &[RawStage],
    inputs: &[Vec<usize>],
    diag: &mut Diagnostics<'_>,
) -> Vec<usize> {
    let n = stages.len();
    let mut pending: Vec<usize> = inputs.iter().map(Vec::len).collect();
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, ins) in inputs.iter().enumerate() {
        for &j in ins {
            readers[j].push(i);
        }
    }
    let mut order: Vec<usize> = (0..n).filter(|&i| pending[i] == 0).collect();
    let mut next = 0;
    while next < order.len() {
        let i = order[next];
        next += 1;
        for &r in &readers[i] {
            pending[r] -= 1;
            if pending[r] == 0 {
                order.push(r);
            }
        }
    }
    // What is left is on a cycle or fed by one: walk inputs that are left
    // until a stage repeats.
    let mut reported = vec![false; n];
    for start in 0..n {
        if pending[start] == 0 || reported[start] {
            continue;
        }
        let mut walk = vec![start];
        let mut at = start;
        let cycle_start = loop {
            let Some(&j) = inputs[at].iter().find(|&&j| pending[j] > 0) else {
                break None;
            };
            if let Some(p) = walk.iter().position(|&w| w == j) {
                break Some(p);
            }
            walk.push(j);
            at = j;
        };
        let Some(p) = cycle_start else { continue };
        let cycle = &walk[p..];
        if cycle.iter().any(|&c| reported[c]) {
            continue;
        }
        for &c in cycle {
            reported[c] = true;
        }
        // Name the stages in the direction data flows (the walk went
        // against it), from the first one in the file.
        let first = &stages[cycle[0]];
        let mut names = vec![first.name.clone()];
        names.extend(cycle[1..].iter().rev().map(|&c| stages[c].name.clone()));
        names.push(first.name.clone());
        diag.push(&first.span, first.path(), ConfigErrorKind::Cycle(names));
    }
    order
}
