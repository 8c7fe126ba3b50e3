//! Writes a grid's outputs: `table1.md`, `table4.md`, `results.csv` and `summary.json`.

use std::path::{Path, PathBuf};

use super::record::RunRecord;
use super::table::{results_csv, summary_json, table1_markdown, table4_markdown, Summary};
use super::train::Optimizer;

/// Writes the four output files into `dir` and returns their paths. Table 1 is written when
/// the records hold runs without ELSA, Table 4 when they hold runs with it.
///
/// # Errors
/// When a file cannot be written.
pub fn write_outputs(
    dir: &Path,
    records: &[RunRecord],
    optimizers: &[Optimizer],
    lrs: &[f64],
) -> std::io::Result<Vec<PathBuf>> {
    let summary = Summary::from_records(records, optimizers, lrs);
    let mut files: Vec<(&str, String)> = Vec::new();
    if records.iter().any(|r| !r.elsa) {
        files.push(("table1.md", table1_markdown(&summary)));
    }
    if records.iter().any(|r| r.elsa) {
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
