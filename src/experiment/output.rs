//! Writes a grid's outputs: `table1.md`, `table4.md`, `results.csv` and `summary.json`.

use std::path::{Path, PathBuf};

use super::lr::LearningRate;
use super::record::RunRecord;
use super::table::{results_csv, summary_json, table1_markdown, table4_markdown, Summary};
use super::train::Optimizer;

/// One line on the paper's claims over `records`: in how many columns AReLU beats the best
/// fixed and the best other learnable activation, in how many cells ELSA improves the
/// activation alone, and how many runs diverged.
pub fn headline(records: &[RunRecord], optimizers: &[Optimizer], lrs: &[LearningRate]) -> String {
    let summary = Summary::from_records(records, optimizers, lrs);
    let improvements = summary.arelu_improvements();
    let count = |pick: fn(&super::table::AreluImprovement) -> Option<f64>| {
        let known: Vec<f64> = improvements.iter().filter_map(pick).collect();
        (known.iter().filter(|&&d| d > 0.0).count(), known.len())
    };
    let (fixed, fixed_of) = count(|i| i.over_fixed);
    let (learnable, learnable_of) = count(|i| i.over_learnable);
    let (elsa, elsa_of) = summary.elsa_improvement_count();
    format!(
        "AReLU beats the best fixed activation in {fixed} of {fixed_of} columns and the best \
         other learnable one in {learnable} of {learnable_of}; ELSA improves {elsa} of \
         {elsa_of} cells; {} runs diverged.",
        summary.diverged_runs()
    )
}

/// Writes the four output files into `dir` and returns their paths. Table 1 is written when
/// the records hold runs without ELSA, Table 4 when they hold runs with it.
///
/// # Errors
/// When a file cannot be written.
pub fn write_outputs(
    dir: &Path,
    records: &[RunRecord],
    optimizers: &[Optimizer],
    lrs: &[LearningRate],
) -> std::io::Result<Vec<PathBuf>> {
    let summary = Summary::from_records(records, optimizers, lrs);
    let mut files: Vec<(&str, String)> = Vec::new();
    if records.iter().any(|r| !r.activation.is_elsa()) {
        files.push(("table1.md", table1_markdown(&summary)));
    }
    if records.iter().any(|r| r.activation.is_elsa()) {
        files.push(("table4.md", table4_markdown(&summary)));
    }
    files.push(("results.csv", results_csv(records)));
    files.push(("summary.json", summary_json(&summary).to_string()));
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text)?;
        written.push(path);
    }
    Ok(written)
}
