//! Table 3's grid (activations x shot settings x seeds), its results file, and the files made
//! from it: `table3.md`, `results.csv` and `summary.json`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Mutex};

use serde::{Deserialize, Deserializer, Serialize};
use thiserror::Error;

use super::meta::{run_maml, MamlResult, MamlSpec};
use super::{MamlConfig, MamlError, Order, MNIST_MEAN, MNIST_STD};
use crate::error::ActivationError;
use crate::experiment::generate::Generated;
use crate::experiment::grid::ElsaMode;
use crate::experiment::record::{name_from_fields, name_to_fields};
use crate::experiment::store::{Store, StoreError, StoreRecord};
use crate::experiment::table::{Cell, Group, MISSING};
use crate::mnist::MnistSplit;
use crate::name::{ActivationName, BaseActivation};

/// The version of the results file's format.
pub const FORMAT: u32 = 1;

/// The settings every run of one results file shares (all but activation, shots and seed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MamlSettings {
    /// The file format's version.
    pub format: u32,
    /// Where the images came from (`"shipped subset"` or the directory given).
    pub data: String,
    /// Training images (the task pool's source).
    pub train_images: usize,
    /// Test images (the test tasks' source).
    pub test_images: usize,
    /// Classes per task.
    pub ways: usize,
    /// Meta-steps.
    pub iterations: usize,
    /// Tasks per meta-step.
    pub tasks_per_step: usize,
    /// Inner SGD steps.
    pub inner_steps: usize,
    /// Inner learning rate.
    pub inner_lr: f64,
    /// Adam's learning rate.
    pub outer_lr: f64,
    /// First or second order.
    pub order: Order,
    /// Training tasks in the pool.
    pub pool_size: usize,
    /// Test tasks.
    pub test_tasks: usize,
    /// Pixel normalisation `(mean, std)` of pixels in `[0, 1]`.
    pub normalisation: (f64, f64),
}

impl MamlSettings {
    /// The settings of `config` (its `shots` aside) on data described by `data`.
    pub fn new(config: &MamlConfig, data: String, train: &MnistSplit, test: &MnistSplit) -> Self {
        Self {
            format: FORMAT,
            data,
            train_images: train.len(),
            test_images: test.len(),
            ways: config.ways,
            iterations: config.iterations,
            tasks_per_step: config.tasks_per_step,
            inner_steps: config.inner_steps,
            inner_lr: config.inner_lr,
            outer_lr: config.outer_lr,
            order: config.order,
            pool_size: config.pool_size,
            test_tasks: config.test_tasks,
            normalisation: (MNIST_MEAN, MNIST_STD),
        }
    }

    /// The run settings for `shots`.
    pub fn config(&self, shots: usize) -> MamlConfig {
        MamlConfig {
            ways: self.ways,
            shots,
            iterations: self.iterations,
            tasks_per_step: self.tasks_per_step,
            inner_steps: self.inner_steps,
            inner_lr: self.inner_lr,
            outer_lr: self.outer_lr,
            order: self.order,
            pool_size: self.pool_size,
            test_tasks: self.test_tasks,
        }
    }
}

/// One finished run (one line of `results.jsonl`). In the file the activation is two
/// fields, the base name and the ELSA flag (`"activation":"swish","elsa":true`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "RawMamlRecord", try_from = "RawMamlRecord")]
pub struct MamlRecord {
    /// The activation variant.
    pub activation: ActivationName,
    /// Shots (K).
    pub shots: usize,
    /// The seed.
    pub seed: u64,
    /// Mean query accuracy (%) on the test tasks after adaptation.
    pub test_accuracy: f64,
    /// Half the width of its 95% interval over tasks.
    pub test_ci95: f64,
    /// The best mean query accuracy (%) over the meta-steps on the training pool.
    pub best_train_accuracy: f64,
    /// Mean query accuracy (%) of each meta-step.
    pub step_accuracy: Vec<f64>,
    /// Mean query loss of each meta-step (`null` in the file where it is not finite).
    pub step_loss: Vec<f64>,
    /// Seconds of meta-training.
    pub train_seconds: f64,
    /// Seconds of the final test.
    pub test_seconds: f64,
    /// Each activation layer's parameters after meta-training (`null` where not finite).
    pub activation_params: Vec<Vec<f64>>,
}

/// A [`MamlRecord`] as its line of the file has it (the field order is the file's).
#[derive(Serialize, Deserialize)]
struct RawMamlRecord {
    activation: String,
    elsa: bool,
    shots: usize,
    seed: u64,
    test_accuracy: f64,
    test_ci95: f64,
    best_train_accuracy: f64,
    step_accuracy: Vec<f64>,
    #[serde(deserialize_with = "nan_from_null")]
    step_loss: Vec<f64>,
    train_seconds: f64,
    test_seconds: f64,
    #[serde(deserialize_with = "nested_nan_from_null")]
    activation_params: Vec<Vec<f64>>,
}

impl From<MamlRecord> for RawMamlRecord {
    fn from(r: MamlRecord) -> Self {
        let (activation, elsa) = name_to_fields(r.activation);
        Self {
            activation,
            elsa,
            shots: r.shots,
            seed: r.seed,
            test_accuracy: r.test_accuracy,
            test_ci95: r.test_ci95,
            best_train_accuracy: r.best_train_accuracy,
            step_accuracy: r.step_accuracy,
            step_loss: r.step_loss,
            train_seconds: r.train_seconds,
            test_seconds: r.test_seconds,
            activation_params: r.activation_params,
        }
    }
}

impl TryFrom<RawMamlRecord> for MamlRecord {
    type Error = ActivationError;
    fn try_from(r: RawMamlRecord) -> Result<Self, ActivationError> {
        Ok(Self {
            activation: name_from_fields(&r.activation, r.elsa)?,
            shots: r.shots,
            seed: r.seed,
            test_accuracy: r.test_accuracy,
            test_ci95: r.test_ci95,
            best_train_accuracy: r.best_train_accuracy,
            step_accuracy: r.step_accuracy,
            step_loss: r.step_loss,
            train_seconds: r.train_seconds,
            test_seconds: r.test_seconds,
            activation_params: r.activation_params,
        })
    }
}

fn nan_from_null<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    let raw: Vec<Option<f64>> = Deserialize::deserialize(d)?;
    Ok(raw.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

fn nested_nan_from_null<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f64>>, D::Error> {
    let raw: Vec<Vec<Option<f64>>> = Deserialize::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|layer| layer.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
        .collect())
}

/// A run's identity: (activation, shots, seed).
pub type MamlKey = (ActivationName, usize, u64);

impl StoreRecord for MamlRecord {
    type Key = MamlKey;
    fn key(&self) -> MamlKey {
        (self.activation, self.shots, self.seed)
    }
}

impl MamlRecord {
    /// The record of `spec`'s finished run.
    pub fn new(spec: &MamlSpec, result: MamlResult) -> Self {
        Self {
            activation: spec.activation,
            shots: spec.config.shots,
            seed: spec.seed,
            test_accuracy: result.test_accuracy,
            test_ci95: result.test_ci95,
            best_train_accuracy: result.best_train_accuracy,
            step_accuracy: result.step_accuracy,
            step_loss: result.step_loss,
            train_seconds: result.train_seconds,
            test_seconds: result.test_seconds,
            activation_params: result.activation_params,
        }
    }
}

/// The runs of Table 3.
#[derive(Debug, Clone, PartialEq)]
pub struct MamlGrid {
    /// Base activations, in table order.
    pub activations: Vec<BaseActivation>,
    /// With, without, or both.
    pub elsa: ElsaMode,
    /// Shot settings (columns).
    pub shots: Vec<usize>,
    /// Seeds `0..seeds`.
    pub seeds: u64,
}

impl MamlGrid {
    /// Every run as (activation, shots, seed), seed-major so that an interrupted grid has
    /// whole tables for the seeds it finished. `elsa-arelu` is left out.
    pub fn runs(&self) -> Vec<(ActivationName, usize, u64)> {
        let flags: &[bool] = match self.elsa {
            ElsaMode::Off => &[false],
            ElsaMode::On => &[true],
            ElsaMode::Both => &[false, true],
        };
        let mut runs = Vec::new();
        for seed in 0..self.seeds {
            for &elsa in flags {
                for &shots in &self.shots {
                    for &base in &self.activations {
                        if let Ok(name) = ActivationName::new(base, elsa) {
                            runs.push((name, shots, seed));
                        }
                    }
                }
            }
        }
        runs
    }

    /// Whether a stored record belongs to this grid.
    pub fn contains(&self, record: &MamlRecord) -> bool {
        let elsa_ok = match self.elsa {
            ElsaMode::Off => !record.activation.is_elsa(),
            ElsaMode::On => record.activation.is_elsa(),
            ElsaMode::Both => true,
        };
        elsa_ok
            && self.activations.contains(&record.activation.base())
            && self.shots.contains(&record.shots)
            && record.seed < self.seeds
    }
}

/// Why making Table 3 failed.
#[derive(Debug, Error)]
pub enum MamlGenerateError {
    /// The results file.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A run.
    #[error(transparent)]
    Run(#[from] MamlError),
    /// Writing an output file.
    #[error("writing the outputs: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs the missing runs of `grid` (at most `max_runs` when given) on `jobs` threads, one
/// thread per run, appending each to `out/results.jsonl` as it finishes and calling
/// `progress` with it; then writes `table3.md`, `results.csv` and `summary.json` from every
/// run of the grid done so far.
///
/// # Errors
/// See [`MamlGenerateError`]; a results file with other settings is left as is.
#[allow(clippy::too_many_arguments)]
pub fn generate_maml(
    grid: &MamlGrid,
    (train, test): (&MnistSplit, &MnistSplit),
    settings: &MamlSettings,
    out: &Path,
    jobs: usize,
    max_runs: Option<usize>,
    mut progress: impl FnMut(&MamlRecord),
) -> Result<Generated, MamlGenerateError> {
    for &shots in &grid.shots {
        settings.config(shots).validate()?;
    }
    let mut store: Store<MamlSettings, MamlRecord> = Store::open(out, settings)?;
    let all = grid.runs();
    let total = all.len();
    let mut todo: Vec<MamlSpec> = all
        .into_iter()
        .filter(|run| !store.contains(run))
        .map(|(activation, shots, seed)| MamlSpec {
            activation,
            seed,
            config: settings.config(shots),
        })
        .collect();
    let skipped = total - todo.len();
    if let Some(max) = max_runs {
        todo.truncate(max);
    }
    let ran = todo.len();
    run_specs(&todo, train, test, jobs.max(1), |spec, result| {
        let record = MamlRecord::new(&spec, result?);
        progress(&record);
        store.append(&record).map_err(MamlGenerateError::from)
    })?;
    let records: Vec<MamlRecord> = store
        .records()
        .iter()
        .filter(|r| grid.contains(r))
        .cloned()
        .collect();
    let files = write_outputs(out, &records, grid, settings)?;
    // The terminal's summary: the table's lines on AReLU's lead, one per shot setting.
    let headline = std::fs::read_to_string(out.join("table3.md"))?
        .lines()
        .filter(|line| line.contains("AReLU's test accuracy"))
        .collect::<Vec<_>>()
        .join("\n");
    Ok(Generated {
        total,
        skipped,
        ran,
        results: store.path().to_path_buf(),
        files,
        recovered: store.recovered().map(Path::to_path_buf),
        headline: Some(headline),
    })
}

/// Runs `specs` on `jobs` worker threads, each run on a one-thread pool, handing each result
/// to `on_result` on the calling thread as it is done; stops at the first error.
fn run_specs(
    specs: &[MamlSpec],
    train: &MnistSplit,
    test: &MnistSplit,
    jobs: usize,
    mut on_result: impl FnMut(MamlSpec, Result<MamlResult, MamlError>) -> Result<(), MamlGenerateError>,
) -> Result<(), MamlGenerateError> {
    let queue = Mutex::new(specs.iter().copied());
    let (sender, receiver) = mpsc::channel();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let sender = sender.clone();
            let (queue, stop) = (&queue, &stop);
            scope.spawn(move || {
                let single = rayon::ThreadPoolBuilder::new().num_threads(1).build();
                loop {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let next = queue.lock().ok().and_then(|mut q| q.next());
                    let Some(spec) = next else { break };
                    let result = match &single {
                        Ok(pool) => pool.install(|| run_maml(spec, train, test)),
                        Err(_) => run_maml(spec, train, test),
                    };
                    if sender.send((spec, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        for (spec, result) in receiver {
            if let Err(e) = on_result(spec, result) {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                return Err(e);
            }
        }
        Ok(())
    })
}

/// Per (activation, shots): the cells over seeds. In `summary.json` the activation is two
/// fields, the base name and the ELSA flag.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(into = "RawMamlCell")]
pub struct MamlCell {
    /// The activation variant.
    pub activation: ActivationName,
    /// Shots.
    pub shots: usize,
    /// Seeds.
    pub n: usize,
    /// Test-task accuracy: mean over seeds.
    pub test_mean: f64,
    /// Its sample standard deviation over seeds.
    pub test_sd: f64,
    /// The reference's figure (best training-pool accuracy): mean over seeds.
    pub best_train_mean: f64,
    /// Its sample standard deviation over seeds.
    pub best_train_sd: f64,
    /// Mean seconds of meta-training per run.
    pub train_seconds: f64,
}

/// A [`MamlCell`] as `summary.json` has it.
#[derive(Serialize)]
struct RawMamlCell {
    activation: &'static str,
    elsa: bool,
    shots: usize,
    n: usize,
    test_mean: f64,
    test_sd: f64,
    best_train_mean: f64,
    best_train_sd: f64,
    train_seconds: f64,
}

impl From<MamlCell> for RawMamlCell {
    fn from(c: MamlCell) -> Self {
        Self {
            activation: c.activation.base().as_str(),
            elsa: c.activation.is_elsa(),
            shots: c.shots,
            n: c.n,
            test_mean: c.test_mean,
            test_sd: c.test_sd,
            best_train_mean: c.best_train_mean,
            best_train_sd: c.best_train_sd,
            train_seconds: c.train_seconds,
        }
    }
}

/// The cells of `records`, in the grid's order.
pub fn cells(records: &[MamlRecord], grid: &MamlGrid) -> Vec<MamlCell> {
    let mut groups: BTreeMap<(ActivationName, usize), Vec<&MamlRecord>> = BTreeMap::new();
    for r in records {
        groups.entry((r.activation, r.shots)).or_default().push(r);
    }
    let mut out = Vec::new();
    for (name, shots, seed) in grid.runs() {
        if seed != 0 {
            continue;
        }
        let Some(runs) = groups.get(&(name, shots)) else {
            continue;
        };
        let test: Vec<f64> = runs.iter().map(|r| r.test_accuracy).collect();
        let best: Vec<f64> = runs.iter().map(|r| r.best_train_accuracy).collect();
        let (Some(t), Some(b)) = (Cell::from_values(&test), Cell::from_values(&best)) else {
            continue;
        };
        out.push(MamlCell {
            activation: name,
            shots,
            n: t.n,
            test_mean: t.mean,
            test_sd: t.std,
            best_train_mean: b.mean,
            best_train_sd: b.std,
            train_seconds: runs.iter().map(|r| r.train_seconds).sum::<f64>() / t.n as f64,
        });
    }
    out
}

fn text(mean: f64, sd: f64, n: usize) -> String {
    if n > 1 {
        format!("{mean:.2} ± {sd:.2}")
    } else {
        format!("{mean:.2}")
    }
}

/// The best cell of `group` for `shots` and `elsa`, by test mean (ties: the first).
fn best<'a>(
    cells: &'a [MamlCell],
    shots: usize,
    elsa: bool,
    groups: &[Group],
) -> Option<&'a MamlCell> {
    cells
        .iter()
        .filter(|c| {
            c.shots == shots
                && c.activation.is_elsa() == elsa
                && groups.contains(&Group::of(c.activation.base()))
        })
        .filter(|c| c.test_mean.is_finite())
        .fold(None, |acc: Option<&MamlCell>, c| match acc {
            Some(a) if a.test_mean >= c.test_mean => Some(a),
            _ => Some(c),
        })
}

/// `table3.md`: one table per ELSA setting in the grid.
pub fn markdown(cells: &[MamlCell], grid: &MamlGrid, settings: &MamlSettings) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Table 3: meta-learning (MAML) on MNIST\n");
    let _ = writeln!(
        s,
        "{}-way tasks, {}-order MAML: {} meta-steps of {} tasks (sampled from a pool of {} \
         tasks drawn once from the training images), {} inner SGD steps (lr {}), Adam on the \
         meta-parameters (lr {}); pixels normalised with mean {} and sd {}; data: {} \
         ({} training / {} test images).\n",
        settings.ways,
        settings.order.as_str(),
        settings.iterations,
        settings.tasks_per_step,
        settings.pool_size,
        settings.inner_steps,
        settings.inner_lr,
        settings.outer_lr,
        settings.normalisation.0,
        settings.normalisation.1,
        settings.data,
        settings.train_images,
        settings.test_images,
    );
    let _ = writeln!(
        s,
        "**test**: mean query accuracy (%) on {} new tasks from the test images, each adapted \
         with the same inner loop after meta-training; mean ± sd over seeds. **train-pool \
         best**: the best mean query accuracy over the meta-steps on the training task pool, \
         the figure the reference code reports (optimistic: chosen over steps, on training \
         tasks). The paper's own Table 3 figures are not reproduced here. **Bold**: best \
         fixed activation of a column; _italic_: best learnable one (AReLU included).\n",
        settings.test_tasks
    );
    let flags: &[bool] = match grid.elsa {
        ElsaMode::Off => &[false],
        ElsaMode::On => &[true],
        ElsaMode::Both => &[false, true],
    };
    for &elsa in flags {
        if grid.elsa == ElsaMode::Both {
            let _ = writeln!(s, "## {}\n", if elsa { "With ELSA" } else { "Alone" });
        }
        let mut header = String::from("| activation | type |");
        let mut rule = String::from("|---|---|");
        for &k in &grid.shots {
            let _ = write!(
                header,
                " {w}-way {k}-shot test | {w}-way {k}-shot train-pool best | seeds |",
                w = settings.ways
            );
            rule.push_str("---:|---:|---:|");
        }
        let _ = writeln!(s, "{header}\n{rule}");
        let marks: Vec<(Option<&MamlCell>, Option<&MamlCell>)> = grid
            .shots
            .iter()
            .map(|&k| {
                (
                    best(cells, k, elsa, &[Group::Fixed]),
                    best(cells, k, elsa, &[Group::Learnable, Group::Arelu]),
                )
            })
            .collect();
        for &base in &grid.activations {
            let Ok(name) = ActivationName::new(base, elsa) else {
                continue;
            };
            let group = Group::of(base);
            let mut row = format!("| {name} | {} |", group.type_label());
            for (&k, (fixed, learnable)) in grid.shots.iter().zip(&marks) {
                let cell = cells.iter().find(|c| c.activation == name && c.shots == k);
                match cell {
                    Some(c) => {
                        let mut t = text(c.test_mean, c.test_sd, c.n);
                        if fixed.is_some_and(|f| std::ptr::eq(f, c)) {
                            t = format!("**{t}**");
                        } else if learnable.is_some_and(|l| std::ptr::eq(l, c)) {
                            t = format!("_{t}_");
                        }
                        let _ = write!(
                            row,
                            " {t} | {} | {} |",
                            text(c.best_train_mean, c.best_train_sd, c.n),
                            c.n
                        );
                    }
                    None => {
                        let _ = write!(row, " {MISSING} | {MISSING} | 0 |");
                    }
                }
            }
            let _ = writeln!(s, "{row}");
        }
        let _ = writeln!(s);
        for &k in &grid.shots {
            let arelu = cells.iter().find(|c| {
                c.activation.base() == BaseActivation::Arelu
                    && !c.activation.is_elsa()
                    && c.shots == k
            });
            let Some(a) = arelu.filter(|_| !elsa) else {
                continue;
            };
            let fixed = best(cells, k, false, &[Group::Fixed]);
            let learnable = best(cells, k, false, &[Group::Learnable]);
            let diff = |o: Option<&MamlCell>| match o {
                Some(o) => format!("{:+.2} over {}", a.test_mean - o.test_mean, o.activation),
                None => MISSING.to_string(),
            };
            let _ = writeln!(
                s,
                "{}-way {k}-shot, AReLU's test accuracy: {} (best fixed), {} (best other \
                 learnable).",
                settings.ways,
                diff(fixed),
                diff(learnable)
            );
        }
        let _ = writeln!(s);
    }
    s
}

/// `results.csv`: one line per run.
pub fn csv(records: &[MamlRecord]) -> String {
    let mut s = String::from(
        "activation,elsa,shots,seed,test_accuracy,test_ci95,best_train_accuracy,\
         final_train_accuracy,train_seconds,test_seconds\n",
    );
    for r in records {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{}",
            r.activation.base().as_str(),
            r.activation.is_elsa(),
            r.shots,
            r.seed,
            r.test_accuracy,
            r.test_ci95,
            r.best_train_accuracy,
            r.step_accuracy.last().copied().unwrap_or(f64::NAN),
            r.train_seconds,
            r.test_seconds
        );
    }
    s
}

/// Writes `table3.md`, `results.csv` and `summary.json` into `out`.
///
/// # Errors
/// When a file cannot be written.
pub fn write_outputs(
    out: &Path,
    records: &[MamlRecord],
    grid: &MamlGrid,
    settings: &MamlSettings,
) -> std::io::Result<Vec<PathBuf>> {
    let mut sorted = records.to_vec();
    // By base name (alphabetically), then ELSA, shots and seed.
    let order = |r: &MamlRecord| {
        let (base, elsa) = (r.activation.base().as_str(), r.activation.is_elsa());
        (base, elsa, r.shots, r.seed)
    };
    sorted.sort_by(|a, b| order(a).cmp(&order(b)));
    let cells = cells(&sorted, grid);
    let summary = serde_json::json!({
        "settings": settings,
        "runs": sorted.len(),
        "cells": cells,
    });
    let files = [
        ("table3.md", markdown(&cells, grid, settings)),
        ("results.csv", csv(&sorted)),
        (
            "summary.json",
            serde_json::to_string_pretty(&summary).map_err(std::io::Error::other)? + "\n",
        ),
    ];
    std::fs::create_dir_all(out)?;
    let mut written = Vec::new();
    for (name, contents) in files {
        let path = out.join(name);
        std::fs::write(&path, contents)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::record::committed_lines;

    #[test]
    fn every_committed_record_reads_and_writes_back_byte_for_byte() {
        let Some(lines) = committed_lines("results/table3-full/results.jsonl") else {
            return;
        };
        assert!(lines.len() >= 19, "{}", lines.len());
        for line in &lines {
            let record: MamlRecord = serde_json::from_str(line).unwrap();
            assert_eq!(&serde_json::to_string(&record).unwrap(), line);
        }
    }

    #[test]
    fn a_record_keeps_its_activation_in_two_fields() {
        let Some(lines) = committed_lines("results/table3-full/results.jsonl") else {
            return;
        };
        let line = &lines[0];
        let mut record: MamlRecord = serde_json::from_str(line).unwrap();
        record.activation = "elsa-swish".parse().unwrap();
        record.step_loss[0] = f64::NAN;
        let text = serde_json::to_string(&record).unwrap();
        assert!(
            text.starts_with("{\"activation\":\"swish\",\"elsa\":true,\"shots\":1,"),
            "{text}"
        );
        let back: MamlRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(back.key(), record.key());
        assert!(back.step_loss[0].is_nan());
        for bad in [
            "\"activation\":\"softmax\"",
            "\"activation\":\"elsa-swish\"",
        ] {
            let bad = text.replacen("\"activation\":\"swish\"", bad, 1);
            assert!(serde_json::from_str::<MamlRecord>(&bad).is_err(), "{bad}");
        }
        let cell = MamlCell {
            activation: record.activation,
            shots: 1,
            n: 1,
            test_mean: 50.0,
            test_sd: 0.0,
            best_train_mean: 60.0,
            best_train_sd: 0.0,
            train_seconds: 2.0,
        };
        assert_eq!(
            serde_json::to_string(&cell).unwrap(),
            "{\"activation\":\"swish\",\"elsa\":true,\"shots\":1,\"n\":1,\"test_mean\":50.0,\
             \"test_sd\":0.0,\"best_train_mean\":60.0,\"best_train_sd\":0.0,\
             \"train_seconds\":2.0}"
        );
    }
}
