//! The table generator's whole job, as library functions: open (or resume) the results file,
//! run what is missing from the grid (or from one shard of it), and write the tables; or merge
//! the results files of a grid's shards and write the tables from them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::batches::Images;
use super::grid::{run_grid, Grid, GridError};
use super::output::{headline, write_outputs};
use super::record::{RunKey, RunRecord, RunStore, Settings};
use super::shard::Shard;
use super::store::{differences, StoreError, StoreRecord, FILE_NAME};

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

/// How to make a grid's runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Runs in parallel, each on one thread (with 1, a run uses every core).
    pub jobs: usize,
    /// Make at most this many runs now (the rest on the next call).
    pub max_runs: Option<usize>,
    /// Make only this shard's runs, into `out/shard-K-of-N/results.jsonl`, and write no
    /// tables ([`merge`] writes them from all the shards).
    pub shard: Option<Shard>,
}

impl Default for Schedule {
    /// One job, every run, no shard.
    fn default() -> Self {
        Self {
            jobs: 1,
            max_runs: None,
            shard: None,
        }
    }
}

/// What a call did.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// Runs in the grid (in the shard, for a shard).
    pub total: usize,
    /// Runs found already done in the results file.
    pub skipped: usize,
    /// Runs made by this call.
    pub ran: usize,
    /// The results file.
    pub results: PathBuf,
    /// The output files written (none for a shard).
    pub files: Vec<PathBuf>,
    /// The side file an incomplete last line of the results file was moved into.
    pub recovered: Option<PathBuf>,
    /// One line on the paper's claims over the runs done (see
    /// [`headline`]); `None` for a shard.
    pub headline: Option<String>,
}

/// What [`generate`] reports while it works.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Progress<'a> {
    /// The results file is open: `todo` runs of the grid's `total` are to be made now.
    Planned {
        /// Runs this call makes.
        todo: usize,
        /// Runs in the grid (in the shard, for a shard).
        total: usize,
        /// The side file an incomplete last line was moved into, if any.
        recovered: Option<&'a Path>,
    },
    /// A run finished and was stored.
    Finished(&'a RunRecord),
}

/// Checks `grid` ([`Grid::validate`]) before anything is written, then runs its missing runs
/// as `schedule` says, appending each to `out/results.jsonl` (`out/shard-K-of-N/results.jsonl`
/// for a shard) as it finishes and calling `progress` with it. Then, unless it made a shard,
/// writes `table1.md`, `table4.md`, `results.csv` and `summary.json` into `out` from every run
/// of the grid done so far (an incomplete grid gives tables over fewer seeds, which their
/// legends state).
///
/// # Errors
/// See [`GenerateError`]; a results file with other settings or corrupt lines is left as is.
pub fn generate(
    grid: &Grid,
    (train, test): (&Images, &Images),
    settings: &Settings,
    out: &Path,
    schedule: Schedule,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<Generated, GenerateError> {
    grid.validate()?;
    let grid = &grid.deduplicated();
    let dir = match schedule.shard {
        Some(shard) => out.join(shard.dir_name()),
        None => out.to_path_buf(),
    };
    let mut store = RunStore::open(&dir, settings)?;
    let mut specs = grid.specs();
    if let Some(shard) = schedule.shard {
        specs = shard.pick(&specs);
    }
    let total = specs.len();
    let mut todo: Vec<_> = specs
        .into_iter()
        .filter(|s| !store.contains(&s.key()))
        .collect();
    let skipped = total - todo.len();
    if let Some(max) = schedule.max_runs {
        todo.truncate(max);
    }
    let ran = todo.len();
    let recovered = store.recovered().map(Path::to_path_buf);
    progress(Progress::Planned {
        todo: ran,
        total,
        recovered: recovered.as_deref(),
    });
    run_grid(&todo, train, test, schedule.jobs, |result| {
        let record = RunRecord::from_result(&result);
        progress(Progress::Finished(&record));
        store.append(&record)
    })?;
    let mut generated = Generated {
        total,
        skipped,
        ran,
        results: store.path().to_path_buf(),
        files: Vec::new(),
        recovered,
        headline: None,
    };
    if schedule.shard.is_none() {
        let records = in_grid_order(grid, store.records().iter().filter(|r| grid.contains(r)));
        generated.files = write_outputs(out, &records, &grid.optimizers, &grid.lrs)?;
        generated.headline = Some(headline(&records, &grid.optimizers, &grid.lrs));
    }
    Ok(generated)
}

/// `records` sorted into the grid's run order, so that the outputs do not depend on the
/// order in which the runs finished (or on which machine made them).
fn in_grid_order<'a>(grid: &Grid, records: impl Iterator<Item = &'a RunRecord>) -> Vec<RunRecord> {
    let order: HashMap<RunKey, usize> = grid
        .specs()
        .iter()
        .enumerate()
        .map(|(i, spec)| (spec.key(), i))
        .collect();
    let mut records: Vec<RunRecord> = records.cloned().collect();
    records.sort_by_key(|r| order.get(&r.key()).copied().unwrap_or(usize::MAX));
    records
}

/// Why merging results files failed. Nothing is written when a check fails.
#[derive(Debug, Error)]
pub enum MergeError {
    /// A setting out of range.
    #[error(transparent)]
    Grid(#[from] GridError),
    /// Reading a results file or writing the merged one.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing an output file, or listing a directory.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A directory given holds no results file and no `shard-K-of-N` directories.
    #[error("{0} holds neither a results.jsonl nor shard-K-of-N directories with one")]
    NoResults(PathBuf),
    /// Two files were made with other settings.
    #[error("{other} was made with other settings than {first} ({differences})")]
    SettingsDiffer {
        /// The first file read.
        first: PathBuf,
        /// The file that differs.
        other: PathBuf,
        /// What differs: `"epochs: file 1, now 3"` (file: `other`, now: `first`).
        differences: String,
    },
    /// The files' epochs are not the grid's.
    #[error("{path} holds runs of {file} epochs, the grid asks for {grid} (give --epochs {file})")]
    OtherEpochs {
        /// The file.
        path: PathBuf,
        /// Epochs in the file's settings.
        file: usize,
        /// Epochs of the grid.
        grid: usize,
    },
    /// A record that the grid does not hold: the grid's options differ from the shards'.
    #[error(
        "{path} holds {key}, which is not in the grid: give the same grid options as the \
         shards were run with"
    )]
    NotInGrid {
        /// The file.
        path: PathBuf,
        /// The run.
        key: String,
    },
    /// The same run in two files, with the same result.
    #[error("{key} is in both {first} and {second}: was a file given twice?")]
    Duplicate {
        /// The run.
        key: String,
        /// The file where it was first found.
        first: PathBuf,
        /// The other file.
        second: PathBuf,
    },
    /// The same run in two files, with different results.
    #[error("{key} is in both {first} and {second}, with different results")]
    Conflict {
        /// The run.
        key: String,
        /// The file where it was first found.
        first: PathBuf,
        /// The other file.
        second: PathBuf,
    },
    /// Runs of the grid that no file holds.
    #[error(
        "{missing} of the grid's {total} runs are in none of the files (the first: {}); \
         finish the shards (rerun each with the same command) and merge again",
        .first.join(", ")
    )]
    Missing {
        /// How many are missing.
        missing: usize,
        /// Runs in the grid.
        total: usize,
        /// The first few missing runs.
        first: Vec<String>,
    },
}

/// The results files in `dir`: `dir/results.jsonl`, or else `dir/shard-*/results.jsonl`
/// (sorted by name).
fn results_files(dir: &Path) -> Result<Vec<PathBuf>, MergeError> {
    let direct = dir.join(FILE_NAME);
    if direct.is_file() {
        return Ok(vec![direct]);
    }
    let io = |source| MergeError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let file = entry.path().join(FILE_NAME);
        if entry.file_name().to_string_lossy().starts_with("shard-") && file.is_file() {
            files.push(file);
        }
    }
    if files.is_empty() {
        return Err(MergeError::NoResults(dir.to_path_buf()));
    }
    files.sort();
    Ok(files)
}

/// A record's result, without its timing (which differs between machines and reruns).
fn result_of(record: &RunRecord) -> String {
    let mut record = record.clone();
    record.train_seconds = 0.0;
    serde_json::to_string(&record).unwrap_or_default()
}

/// Merges the results files of a grid's shards: each of `dirs` holds a `results.jsonl`, or
/// `shard-K-of-N` directories holding one (as [`generate`] makes them with a [`Schedule`]'s
/// shard). Checks that every file has the same settings, made with the grid's epochs, and that
/// every run of `grid` is in exactly one file (a run in two files is a duplicate, or a
/// conflict if the results differ). Then writes the runs into `out/results.jsonl` (adding to
/// it if it exists, which then must agree) and the tables as [`generate`] does; the tables
/// are byte-for-byte those of the same grid run on one machine.
///
/// Files are read without being changed; one that a process is still writing is refused.
///
/// # Errors
/// See [`MergeError`]. Nothing is written unless every check passes.
pub fn merge<P: AsRef<Path>>(grid: &Grid, dirs: &[P], out: &Path) -> Result<Generated, MergeError> {
    grid.validate()?;
    let grid = &grid.deduplicated();
    let mut files = Vec::new();
    for dir in dirs {
        files.extend(results_files(dir.as_ref())?);
    }
    let mut settings: Option<(Settings, PathBuf)> = None;
    let mut found: HashMap<RunKey, (RunRecord, PathBuf)> = HashMap::new();
    for file in &files {
        let contents = RunStore::read_only(file)?;
        match &settings {
            None => {
                if contents.settings.epochs != grid.epochs {
                    return Err(MergeError::OtherEpochs {
                        path: file.clone(),
                        file: contents.settings.epochs,
                        grid: grid.epochs,
                    });
                }
                settings = Some((contents.settings, file.clone()));
            }
            Some((first_settings, first)) if *first_settings != contents.settings => {
                return Err(MergeError::SettingsDiffer {
                    first: first.clone(),
                    other: file.clone(),
                    differences: differences(&contents.settings, first_settings),
                })
            }
            Some(_) => {}
        }
        for record in contents.records {
            let key = record.key();
            if !grid.contains(&record) {
                return Err(MergeError::NotInGrid {
                    path: file.clone(),
                    key: format!("{key:?}"),
                });
            }
            if let Some((earlier, first)) = found.get(&key) {
                let (key, first, second) = (format!("{key:?}"), first.clone(), file.clone());
                return Err(if result_of(earlier) == result_of(&record) {
                    MergeError::Duplicate { key, first, second }
                } else {
                    MergeError::Conflict { key, first, second }
                });
            }
            found.insert(key, (record, file.clone()));
        }
    }
    let specs = grid.specs();
    let missing: Vec<String> = specs
        .iter()
        .map(|s| s.key())
        .filter(|k| !found.contains_key(k))
        .map(|k| format!("{k:?}"))
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing {
            missing: missing.len(),
            total: specs.len(),
            first: missing.into_iter().take(3).collect(),
        });
    }
    // Every run of the grid was found, so there was at least one file.
    let Some((settings, _)) = settings else {
        return Err(MergeError::NoResults(out.to_path_buf()));
    };
    let mut store = RunStore::open(out, &settings)?;
    for stored in store.records() {
        if let Some((record, file)) = found.get(&stored.key()) {
            if result_of(record) != result_of(stored) {
                return Err(MergeError::Conflict {
                    key: format!("{:?}", stored.key()),
                    first: store.path().to_path_buf(),
                    second: file.clone(),
                });
            }
        }
    }
    let records = in_grid_order(grid, found.values().map(|(record, _)| record));
    let mut added = 0;
    for record in &records {
        if !store.contains(&record.key()) {
            store.append(record)?;
            added += 1;
        }
    }
    let files = write_outputs(out, &records, &grid.optimizers, &grid.lrs).map_err(|source| {
        MergeError::Io {
            path: out.to_path_buf(),
            source,
        }
    })?;
    Ok(Generated {
        total: records.len(),
        skipped: records.len() - added,
        ran: 0,
        results: store.path().to_path_buf(),
        files,
        recovered: store.recovered().map(Path::to_path_buf),
        headline: Some(headline(&records, &grid.optimizers, &grid.lrs)),
    })
}
