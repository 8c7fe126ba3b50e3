//! The table generator's whole job, as a library function: open (or resume) the results file,
//! run what is missing from the grid, and write the tables.

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::batches::Images;
use super::grid::{run_grid, Grid};
use super::output::write_outputs;
use super::record::{RunRecord, RunStore, Settings};
use super::store::StoreError;

/// Why generating the tables failed.
#[derive(Debug, Error)]
pub enum GenerateError {
    /// The results file.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing an output file.
    #[error("writing the outputs: {0}")]
    Io(#[from] std::io::Error),
}

/// What a call did.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// Runs in the grid.
    pub total: usize,
    /// Runs found already done in the results file.
    pub skipped: usize,
    /// Runs made by this call.
    pub ran: usize,
    /// The output files written.
    pub files: Vec<PathBuf>,
}

/// Runs the missing runs of `grid` (at most `max_runs` of them when given) on `jobs` threads,
/// appending each to `out/results.jsonl` as it finishes and calling `progress` with it; then
/// writes `table1.md`, `table4.md`, `results.csv` and `summary.json` from every run of the
/// grid done so far (an incomplete grid gives tables over fewer seeds, which their legends
/// state).
///
/// # Errors
/// See [`GenerateError`]; a results file with other settings or corrupt lines is left as is.
pub fn generate(
    grid: &Grid,
    (train, test): (&Images, &Images),
    settings: &Settings,
    out: &Path,
    jobs: usize,
    max_runs: Option<usize>,
    mut progress: impl FnMut(&RunRecord),
) -> Result<Generated, GenerateError> {
    let mut store = RunStore::open(out, settings)?;
    let specs = grid.specs();
    let total = specs.len();
    let mut todo: Vec<_> = specs
        .into_iter()
        .filter(|s| !store.contains(&s.key()))
        .collect();
    let skipped = total - todo.len();
    if let Some(max) = max_runs {
        todo.truncate(max);
    }
    let ran = todo.len();
    run_grid(&todo, train, test, jobs, |result| {
        let record = RunRecord::from_result(&result);
        progress(&record);
        store.append(&record)
    })?;
    let records: Vec<RunRecord> = store
        .records()
        .iter()
        .filter(|r| grid.contains(r))
        .cloned()
        .collect();
    let files = write_outputs(out, &records, &grid.optimizers, &grid.lrs)?;
    Ok(Generated {
        total,
        skipped,
        ran,
        files,
    })
}
