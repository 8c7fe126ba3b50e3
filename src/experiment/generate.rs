//! The table generator's whole job, as a library function: open (or resume) the results file,
//! run what is missing from the grid, and write the tables.

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::batches::Images;
use super::grid::{run_grid, Grid, GridError};
use super::output::{headline, write_outputs};
use super::record::{RunRecord, RunStore, Settings};
use super::store::StoreError;

/// Why generating the tables failed.
#[derive(Debug, Error)]
pub enum GenerateError {
    /// A setting out of range; checked before anything is written.
    #[error(transparent)]
    Grid(#[from] GridError),
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
    /// The side file an incomplete last line of the results file was moved into.
    pub recovered: Option<PathBuf>,
    /// One line on the paper's claims over the runs done (see
    /// [`headline`](super::output::headline)).
    pub headline: String,
}

/// What [`generate`] reports while it works.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Progress<'a> {
    /// The results file is open: `todo` runs of the grid's `total` are to be made now.
    Planned {
        /// Runs this call makes.
        todo: usize,
        /// Runs in the grid.
        total: usize,
        /// The side file an incomplete last line was moved into, if any.
        recovered: Option<&'a Path>,
    },
    /// A run finished and was stored.
    Finished(&'a RunRecord),
}

/// Checks `grid` ([`Grid::validate`]) before anything is written, then runs its missing runs
/// (at most `max_runs` of them when given) on `jobs` threads, appending each to
/// `out/results.jsonl` as it finishes and calling `progress` with it; then
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
    mut progress: impl FnMut(Progress<'_>),
) -> Result<Generated, GenerateError> {
    grid.validate()?;
    let grid = &grid.deduplicated();
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
    let recovered = store.recovered().map(Path::to_path_buf);
    progress(Progress::Planned {
        todo: ran,
        total,
        recovered: recovered.as_deref(),
    });
    run_grid(&todo, train, test, jobs, |result| {
        let record = RunRecord::from_result(&result);
        progress(Progress::Finished(&record));
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
        recovered,
        headline: headline(&records, &grid.optimizers, &grid.lrs),
    })
}
