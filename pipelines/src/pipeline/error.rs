//! What can be wrong with a pipeline: its config (with line, column and the
//! dotted path of the offending value), or a stage at run time.

use std::fmt;

/// One mistake in a pipeline config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// 1-based line of the offending text.
    pub line: usize,
    /// 1-based column (in characters) of the offending text.
    pub column: usize,
    /// Dotted path of the offending value (`sinks.out.inputs[1]`), empty for
    /// the document itself.
    pub path: String,
    /// What is wrong.
    pub kind: ConfigErrorKind,
}

/// The classes of config mistakes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// Not TOML.
    #[error("{0}")]
    Syntax(String),
    /// A value does not fit its field: unknown key, wrong type, missing field,
    /// out of range (the message is serde's).
    #[error("{0}")]
    Field(String),
    /// A top-level table other than `runner`, `sources`, `transforms`, `sinks`.
    #[error("unknown section `{0}`, expected one of `runner`, `sources`, `transforms`, `sinks`")]
    UnknownSection(String),
    /// A stage that is not a table.
    #[error("a stage must be a table")]
    NotATable,
    /// A stage without `type`.
    #[error("missing field `type`")]
    MissingType,
    /// A `type` no stage of that section has.
    #[error("unknown {section} type \"{found}\", expected one of {}", quoted(.expected))]
    UnknownType {
        /// `source`, `transform` or `sink`.
        section: &'static str,
        /// The type given.
        found: String,
        /// The types that exist.
        expected: &'static [&'static str],
    },
    /// A value that has the right type but cannot be used.
    #[error("{0}")]
    Invalid(String),
    /// Two stages with one name (in any sections).
    #[error("a stage named \"{name}\" is already defined at {first}")]
    DuplicateName {
        /// The name.
        name: String,
        /// `line:column` of the first definition.
        first: String,
    },
    /// An input naming no stage.
    #[error("no stage named \"{0}\"")]
    UnknownInput(String),
    /// An input naming a sink (sinks have no output).
    #[error("\"{0}\" is a sink: sinks have no output")]
    InputIsSink(String),
    /// The same input listed twice.
    #[error("\"{0}\" is listed twice")]
    DuplicateInput(String),
    /// A transform or sink whose `inputs` is empty.
    #[error("no inputs: a {0} needs at least one")]
    NoInputs(&'static str),
    /// A source or transform whose output no stage reads.
    #[error("no stage reads its output (name it in some stage's `inputs`)")]
    NoConsumer,
    /// Stages that feed each other.
    #[error("cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    /// A pipeline without sources or without sinks.
    #[error("a pipeline needs at least one {0}")]
    Missing(&'static str),
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}", self.kind)
    }
}

/// Every mistake found in one config file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    /// The file, as named on the command line.
    pub file: String,
    /// The mistakes (at least one).
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{e}", self.file)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Why a pipeline could not start or did not end cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The config file cannot be read.
    #[error("{file}: {source}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The config is wrong.
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// A stage could not be built (input missing, output not writable).
    #[error("{stage}: {source}")]
    Build {
        /// Dotted name of the stage (`sinks.out`).
        stage: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A thread could not be started, or the signal handlers installed.
    #[error("{context}: {source}")]
    Os {
        /// What was being done.
        context: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
