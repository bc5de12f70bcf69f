//! `type = "filter"`: keeps the event batches of some event classes;
//! watermarks, losses and container records always pass.

use serde::Deserialize;
use trawl_core::{Message, Transform, envelope};

use crate::pipeline::{BuildContext, BuildError, Stage, StageFactory};

/// Options of a `filter` transform.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Event class names to keep: exact (`sched_switch`), or a prefix
    /// ending in `*` (`lttng_ust_libc:*`). Required, at least one.
    pub events: Vec<String>,
}

impl StageFactory for FilterConfig {
    fn check(&self) -> Vec<(String, String)> {
        if self.events.is_empty() {
            vec![(
                "events".into(),
                "at least one event class name or pattern is needed".into(),
            )]
        } else {
            Vec::new()
        }
    }

    fn build(&self, _: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::Transform(Box::new(FilterTransform::new(
            self.events.clone(),
        ))))
    }
}

/// Keeps event batches whose class (schema metadata `trawl.event`) matches.
#[derive(Debug, Clone)]
pub struct FilterTransform {
    patterns: Vec<String>,
}

impl FilterTransform {
    /// Keeps the classes named by `patterns` (see [`FilterConfig::events`]).
    pub fn new(patterns: Vec<String>) -> Self {
        FilterTransform { patterns }
    }

    fn keeps(&self, class: &str) -> bool {
        self.patterns.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => class.starts_with(prefix),
            None => class == p,
        })
    }
}

impl Transform for FilterTransform {
    fn process(&mut self, msg: Message, out: &mut Vec<Message>) -> trawl_core::Result<()> {
        let keep = match &msg {
            Message::Events(b) => b
                .batch
                .schema_ref()
                .metadata()
                .get(envelope::META_EVENT)
                .is_some_and(|class| self.keeps(class)),
            Message::Watermark(_) | Message::Loss(_) | Message::Containers(_) => true,
        };
        if keep {
            out.push(msg);
        }
        Ok(())
    }

    fn flush(&mut self, _: &mut Vec<Message>) -> trawl_core::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_and_prefixes() {
        let f = FilterTransform::new(vec!["sched_switch".into(), "lttng_ust_libc:*".into()]);
        assert!(f.keeps("sched_switch"));
        assert!(!f.keeps("sched_switch2"));
        assert!(f.keeps("lttng_ust_libc:malloc"));
        assert!(!f.keeps("lttng_ust_statedump:start"));
    }
}
