//! One measured figure, printed as a table row or a JSON line.

use serde_json::{Value, json};

/// A result line: which figure, at what concurrency, over how many jobs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Figure {
    /// `enqueue`, `enqueue_batch`, `process`, `latency`, `rss` or `ceiling`.
    pub(crate) figure: &'static str,
    /// For `ceiling`: `push` (the enqueue ceiling) or `pop` (the processing ceiling).
    pub(crate) operation: Option<&'static str>,
    pub(crate) concurrency: Option<usize>,
    pub(crate) jobs: u64,
    pub(crate) jobs_per_s: Option<f64>,
    pub(crate) p50_ms: Option<f64>,
    pub(crate) p99_ms: Option<f64>,
    pub(crate) max_ms: Option<f64>,
    pub(crate) rss_mb: Option<f64>,
}

impl Figure {
    pub(crate) fn to_json(&self) -> Value {
        let mut line = json!({
            "figure": self.figure,
            "concurrency": self.concurrency,
            "jobs": self.jobs,
            "jobs_per_s": self.jobs_per_s.map(|rate| rate.round()),
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
            "rss_mb": self.rss_mb,
        });
        if let Some(operation) = self.operation {
            line["operation"] = json!(operation);
        }
        line
    }

    pub(crate) fn to_row(&self) -> String {
        let label = match self.operation {
            Some(operation) => format!("{} ({operation})", self.figure),
            None => self.figure.to_owned(),
        };
        let number = |value: Option<f64>, digits: usize| match value {
            Some(value) => format!("{value:.digits$}"),
            None => "-".to_owned(),
        };
        format!(
            "| {label:<16} | {:>5} | {:>9} | {:>10} | {:>7} | {:>7} | {:>7} | {:>7} |",
            self.concurrency.map_or("-".to_owned(), |c| c.to_string()),
            self.jobs,
            number(self.jobs_per_s, 0),
            number(self.p50_ms, 3),
            number(self.p99_ms, 3),
            number(self.max_ms, 3),
            number(self.rss_mb, 1),
        )
    }
}

/// The figures as a Markdown table, with each throughput's share of the
/// matching ceiling: enqueue figures against `push`, processing against `pop`.
pub(crate) fn table(figures: &[Figure]) -> String {
    let ceiling = |operation: &str| {
        figures
            .iter()
            .find(|figure| figure.figure == "ceiling" && figure.operation == Some(operation))
            .and_then(|figure| figure.jobs_per_s)
    };
    let mut lines = vec![
        "| figure           | conc. |      jobs |     jobs/s | p50 ms  | p99 ms  | max ms  | RSS MB  | of ceiling |"
            .to_owned(),
        "|------------------|-------|-----------|------------|---------|---------|---------|---------|------------|"
            .to_owned(),
    ];
    for figure in figures {
        let base = match figure.figure {
            "enqueue" | "enqueue_batch" => ceiling("push"),
            "process" => ceiling("pop"),
            _ => None,
        };
        let share = match (figure.jobs_per_s, base) {
            (Some(rate), Some(base)) if base > 0.0 => format!("{:.1}%", 100.0 * rate / base),
            _ => "-".to_owned(),
        };
        lines.push(format!("{} {share:>10} |", figure.to_row()));
    }
    lines.join("\n")
}
