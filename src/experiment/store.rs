//! `results.jsonl`: the settings on the first line, then one finished run per line, appended
//! as each run finishes so that an interrupted grid resumes where it stopped.
//!
//! A file made with other settings, or one that does not parse, is an error and is never
//! overwritten.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::record::RunRecord;
use super::train::Optimizer;

/// The settings that make results comparable: runs made under other settings cannot share a
/// table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// The file format's version.
    pub format: u32,
    /// Where the images came from (`"shipped subset"` or the directory given).
    pub data: String,
    /// Training images used.
    pub train_images: usize,
    /// Test images.
    pub test_images: usize,
    /// Epochs per run.
    pub epochs: usize,
    /// The batch size.
    pub batch_size: usize,
}

/// The current format version.
pub const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Header {
    settings: Settings,
}

/// What can go wrong with the results file.
#[derive(Debug, Error)]
pub enum StoreError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line that is not what it should be.
    #[error(
        "{path}, line {line}: {reason}; the file is left as it is (move it away to start over)"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The file was made with other settings.
    #[error("{path} was made with other settings ({found}) than this command's ({expected}); use another --out directory or the same settings")]
    OtherSettings {
        /// The file.
        path: PathBuf,
        /// Its settings.
        found: String,
        /// This command's settings.
        expected: String,
    },
}

/// The identity of a run within a grid.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunKey {
    /// Base activation name.
    pub activation: String,
    /// ELSA-wrapped.
    pub elsa: bool,
    /// Optimiser.
    pub optimizer: Optimizer,
    /// Learning rate, as bits (exact).
    pub lr_bits: u64,
    /// Seed.
    pub seed: u64,
}

impl RunKey {
    /// The key of a record.
    pub fn of(record: &RunRecord) -> Self {
        Self {
            activation: record.activation.clone(),
            elsa: record.elsa,
            optimizer: record.optimizer,
            lr_bits: record.lr.to_bits(),
            seed: record.seed,
        }
    }
}

/// An open results file.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    file: File,
    records: Vec<RunRecord>,
}

impl Store {
    /// Opens `dir/results.jsonl`, creating it (and `dir`) with `settings` if it does not exist,
    /// or reading the runs it holds if its settings match.
    ///
    /// # Errors
    /// See [`StoreError`].
    pub fn open(dir: &Path, settings: &Settings) -> Result<Self, StoreError> {
        let path = dir.join("results.jsonl");
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let records = if path.exists() {
            read_records(&path, settings)?
        } else {
            let mut file = File::create(&path).map_err(io)?;
            let header = serde_json::to_string(&Header {
                settings: settings.clone(),
            })
            .map_err(|e| io(std::io::Error::other(e)))?;
            writeln!(file, "{header}").map_err(io)?;
            file.sync_all().map_err(io)?;
            Vec::new()
        };
        let file = OpenOptions::new().append(true).open(&path).map_err(io)?;
        Ok(Self {
            path,
            file,
            records,
        })
    }

    /// The runs already in the file.
    pub fn records(&self) -> &[RunRecord] {
        &self.records
    }

    /// The keys of the runs already done.
    pub fn done(&self) -> HashSet<RunKey> {
        self.records.iter().map(RunKey::of).collect()
    }

    /// Appends one finished run as one line, flushed to disk at once.
    ///
    /// # Errors
    /// When writing fails.
    pub fn append(&mut self, record: RunRecord) -> Result<(), StoreError> {
        let io = |source| StoreError::Io {
            path: self.path.clone(),
            source,
        };
        let mut line = serde_json::to_string(&record).map_err(|e| io(std::io::Error::other(e)))?;
        line.push('\n');
        // One write per line: an interruption loses at most the line being written.
        self.file.write_all(line.as_bytes()).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        self.records.push(record);
        Ok(())
    }
}

fn read_records(path: &Path, settings: &Settings) -> Result<Vec<RunRecord>, StoreError> {
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let corrupt = |line: usize, reason: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let reader = BufReader::new(File::open(path).map_err(io)?);
    let mut records = Vec::new();
    let mut seen = HashSet::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(io)?;
        let number = i + 1;
        if number == 1 {
            let header: Header = serde_json::from_str(&line)
                .map_err(|e| corrupt(1, format!("not a settings header: {e}")))?;
            if &header.settings != settings {
                return Err(StoreError::OtherSettings {
                    path: path.to_path_buf(),
                    found: describe(&header.settings),
                    expected: describe(settings),
                });
            }
            continue;
        }
        let record: RunRecord = serde_json::from_str(&line)
            .map_err(|e| corrupt(number, format!("not a run record: {e}")))?;
        if !seen.insert(RunKey::of(&record)) {
            return Err(corrupt(number, "a second record of the same run".into()));
        }
        records.push(record);
    }
    if records.is_empty() && std::fs::metadata(path).map_err(io)?.len() == 0 {
        return Err(corrupt(1, "the file is empty: no settings header".into()));
    }
    Ok(records)
}

fn describe(s: &Settings) -> String {
    format!(
        "data {}, {} train / {} test images, {} epochs, batch {}, format {}",
        s.data, s.train_images, s.test_images, s.epochs, s.batch_size, s.format
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            format: FORMAT,
            data: "shipped subset".into(),
            train_images: 100,
            test_images: 50,
            epochs: 1,
            batch_size: 128,
        }
    }

    fn record(seed: u64) -> RunRecord {
        RunRecord {
            activation: "relu".into(),
            elsa: true,
            optimizer: Optimizer::Sgd,
            lr: 1e-3,
            seed,
            epoch: 1,
            test_accuracy: 90.0 + seed as f64,
            train_seconds: 1.5,
            accuracy_per_epoch: vec![90.0 + seed as f64],
            activation_params: vec![vec![0.9, 2.0]; 3],
        }
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("arelu-store-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn appends_and_resumes() {
        let dir = temp_dir("resume");
        let mut store = Store::open(&dir, &settings()).unwrap();
        store.append(record(0)).unwrap();
        store.append(record(1)).unwrap();
        drop(store);
        let store = Store::open(&dir, &settings()).unwrap();
        assert_eq!(store.records(), &[record(0), record(1)]);
        assert!(store.done().contains(&RunKey::of(&record(1))));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn other_settings_are_refused_and_the_file_kept() {
        let dir = temp_dir("settings");
        let mut store = Store::open(&dir, &settings()).unwrap();
        store.append(record(0)).unwrap();
        drop(store);
        let before = std::fs::read(dir.join("results.jsonl")).unwrap();
        let mut other = settings();
        other.epochs = 20;
        let err = Store::open(&dir, &other).unwrap_err();
        assert!(matches!(err, StoreError::OtherSettings { .. }), "{err}");
        assert!(err.to_string().contains("20 epochs"));
        assert_eq!(std::fs::read(dir.join("results.jsonl")).unwrap(), before);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn corrupt_files_are_refused_and_kept() {
        let dir = temp_dir("corrupt");
        let mut store = Store::open(&dir, &settings()).unwrap();
        store.append(record(0)).unwrap();
        drop(store);
        let path = dir.join("results.jsonl");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"activation\": \"relu\", \"tru"); // an interrupted write
        std::fs::write(&path, &text).unwrap();
        let err = Store::open(&dir, &settings()).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { line: 3, .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        std::fs::write(&path, "not json\n").unwrap();
        assert!(matches!(
            Store::open(&dir, &settings()).unwrap_err(),
            StoreError::Corrupt { line: 1, .. }
        ));
        std::fs::write(&path, "").unwrap();
        assert!(Store::open(&dir, &settings()).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn diverged_runs_with_nan_parameters_round_trip() {
        let dir = temp_dir("nan");
        let mut store = Store::open(&dir, &settings()).unwrap();
        let mut diverged = record(0);
        diverged.activation_params = vec![vec![f64::NAN, -6.1, 2.0]; 3];
        store.append(diverged).unwrap();
        drop(store);
        let store = Store::open(&dir, &settings()).unwrap();
        let params = &store.records()[0].activation_params;
        assert!(params[0][0].is_nan());
        assert_eq!(params[2][1], -6.1);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn duplicate_runs_are_corruption() {
        let dir = temp_dir("dup");
        let mut store = Store::open(&dir, &settings()).unwrap();
        store.append(record(0)).unwrap();
        store.append(record(0)).unwrap();
        drop(store);
        assert!(matches!(
            Store::open(&dir, &settings()).unwrap_err(),
            StoreError::Corrupt { line: 3, .. }
        ));
        std::fs::remove_dir_all(&dir).ok();
    }
}
