//! Tables 1 and 4 of the paper made from [`RunRecord`]s, and the files written next to them.
//!
//! - [`Summary`] groups runs by (activation, ELSA, optimiser, learning rate) and keeps, per
//!   group, the mean and the sample standard deviation of the test accuracy over the seeds
//!   ([`Cell`]). Columns are optimiser × learning rate in the order given; rows are the
//!   activations present, in the paper's order ([`BaseActivation`]'s order).
//! - [`table1_markdown`]: every activation alone, with the best fixed and the best other
//!   learnable activation of each column marked and, at the bottom, AReLU's improvement over
//!   them.
//! - [`table4_markdown`]: every activation wrapped in ELSA, a cell marked where ELSA beats the
//!   same activation alone.
//! - [`results_csv`]: one line per run; [`summary_json`]: every cell and both comparisons.
//!
//! Learning rates are matched through [`lr_label`] (rounded to 6 significant digits), so
//! `0.01`, `1e-2` and `0.1 * 0.1` fall in the same column.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{json, Value};
use strum::{EnumCount, IntoEnumIterator};

use super::record::RunRecord;
use super::train::Optimizer;
use crate::name::{BaseActivation, ELSA_PREFIX};

/// The text of a missing cell (no run) or of a difference that cannot be computed.
pub const MISSING: &str = "–";

/// Mean and sample standard deviation of the test accuracy (percent) over seeds, and how
/// many seeds diverged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    /// Mean over the seeds that did not diverge (NaN when all did).
    pub mean: f64,
    /// Sample standard deviation (denominator `n - 1`); 0 when `n == 1`, NaN when `n == 0`.
    pub std: f64,
    /// Number of seeds that did not diverge.
    pub n: usize,
    /// Number of seeds that diverged (non-finite loss or parameters).
    pub diverged: usize,
}

impl Cell {
    /// The cell of `values`; `None` when there are none.
    pub fn from_values(values: &[f64]) -> Option<Cell> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let std = if n > 1 {
            let ss: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
            (ss / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        Some(Cell {
            mean,
            std,
            n,
            diverged: 0,
        })
    }

    /// The cell of the accuracies of the seeds that finished and `diverged` seeds that
    /// diverged; `None` when there are neither.
    pub fn from_runs(values: &[f64], diverged: usize) -> Option<Cell> {
        match Cell::from_values(values) {
            Some(cell) => Some(Cell { diverged, ..cell }),
            None => (diverged > 0).then_some(Cell {
                mean: f64::NAN,
                std: f64::NAN,
                n: 0,
                diverged,
            }),
        }
    }

    /// The mean, unless a seed diverged: a cell with a diverged seed is never compared.
    pub fn comparable_mean(&self) -> Option<f64> {
        (self.diverged == 0 && self.mean.is_finite()).then_some(self.mean)
    }

    /// `"97.12 ± 0.31"` (two decimals), `"97.12"` for one seed, `"div 2/5"` when 2 of the 5
    /// seeds diverged.
    pub fn text(&self) -> String {
        if self.diverged > 0 {
            format!("div {}/{}", self.diverged, self.diverged + self.n)
        } else if self.n == 1 {
            format!("{:.2}", self.mean)
        } else {
            format!("{:.2} ± {:.2}", self.mean, self.std)
        }
    }
}

/// A learning rate as the paper writes it: `0.01` → `"1e-2"`, `0.0005` → `"5e-4"`,
/// `0.0025` → `"2.5e-3"`. Rounded to 6 significant digits first, so floating-point noise
/// (`0.1 * 0.1`) disappears; this is also the key learning rates are matched by.
pub fn lr_label(lr: f64) -> String {
    if !lr.is_finite() {
        return format!("{lr}");
    }
    let rounded: f64 = format!("{lr:.5e}").parse().unwrap_or(lr);
    format!("{rounded:e}")
}

/// `"SGD"` or `"Adam"`, as in the paper's headers.
pub fn optimizer_label(optimizer: Optimizer) -> &'static str {
    match optimizer {
        Optimizer::Sgd => "SGD",
        Optimizer::Adam => "Adam",
    }
}

/// One column of the tables: an optimiser and a learning rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Column {
    /// The optimiser.
    pub optimizer: Optimizer,
    /// The learning rate.
    pub lr: f64,
}

impl Column {
    /// `"SGD 1e-2"`.
    pub fn header(&self) -> String {
        format!("{} {}", optimizer_label(self.optimizer), lr_label(self.lr))
    }

    fn matches(&self, optimizer: Optimizer, lr: f64) -> bool {
        self.optimizer == optimizer && lr_label(self.lr) == lr_label(lr)
    }
}

/// Which comparison group an activation belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// One of the 13 activations without parameters.
    Fixed,
    /// A learnable activation other than AReLU: APL, Mixture, PAU, PReLU, SLAF.
    Learnable,
    /// AReLU.
    Arelu,
    /// A name that is not one of the paper's 19 (kept, but never compared).
    Unknown,
}

impl Group {
    /// The group of an activation name (`"swish"`, without the `elsa-` prefix).
    pub fn of(activation: &str) -> Group {
        match activation.parse::<BaseActivation>() {
            Ok(BaseActivation::Arelu) => Group::Arelu,
            Ok(b) if b.is_learnable() => Group::Learnable,
            Ok(_) => Group::Fixed,
            Err(_) => Group::Unknown,
        }
    }

    /// The "type" column: `"fixed"`, `"learnable"` (AReLU included) or `"?"`.
    pub fn type_label(self) -> &'static str {
        match self {
            Group::Fixed => "fixed",
            Group::Learnable | Group::Arelu => "learnable",
            Group::Unknown => "?",
        }
    }
}

/// One row: an activation, alone or wrapped in ELSA, with one optional cell per column.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The base activation's name (`"swish"`).
    pub activation: String,
    /// Whether it is wrapped in ELSA.
    pub elsa: bool,
    /// One entry per [`Summary::columns`]; `None` where there is no run.
    pub cells: Vec<Option<Cell>>,
}

impl Row {
    /// The name shown in the tables: `"swish"` or `"elsa-swish"`.
    pub fn name(&self) -> String {
        if self.elsa {
            format!("{ELSA_PREFIX}{}", self.activation)
        } else {
            self.activation.clone()
        }
    }

    /// The comparison group of the base activation.
    pub fn group(&self) -> Group {
        Group::of(&self.activation)
    }
}

/// The best mean of a column within some rows, and every activation reaching it (ties).
#[derive(Debug, Clone, PartialEq)]
pub struct Best {
    /// The base names of the rows with the best mean.
    pub activations: Vec<String>,
    /// The best mean.
    pub mean: f64,
}

/// AReLU against the best fixed and the best other learnable activation in one column
/// (all without ELSA).
#[derive(Debug, Clone, PartialEq)]
pub struct AreluImprovement {
    /// Index into [`Summary::columns`].
    pub column: usize,
    /// AReLU's mean, if it ran.
    pub arelu: Option<f64>,
    /// The best fixed activation.
    pub best_fixed: Option<Best>,
    /// The best learnable activation other than AReLU.
    pub best_learnable: Option<Best>,
    /// AReLU's mean minus the best fixed mean.
    pub over_fixed: Option<f64>,
    /// AReLU's mean minus the best other learnable mean.
    pub over_learnable: Option<f64>,
}

/// An activation wrapped in ELSA against the same activation alone, in one column where both
/// ran.
#[derive(Debug, Clone, PartialEq)]
pub struct ElsaComparison {
    /// The base activation's name.
    pub activation: String,
    /// Index into [`Summary::columns`].
    pub column: usize,
    /// The mean without ELSA.
    pub plain: f64,
    /// The mean with ELSA.
    pub elsa: f64,
    /// `elsa > plain`.
    pub improved: bool,
}

/// Runs grouped by (activation, ELSA, optimiser, learning rate): the data of Tables 1 and 4.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Optimiser × learning rate, in the order given (duplicates removed).
    pub columns: Vec<Column>,
    /// The activations present in the records, plain and ELSA-wrapped, in the paper's order
    /// (the plain row of an activation before its ELSA row; unknown names last, sorted).
    pub rows: Vec<Row>,
    /// The distinct epochs the cells' accuracies were taken after (sorted).
    pub epochs: Vec<usize>,
}

/// Sort key of an activation name: its index in the paper's order, unknown names after.
fn paper_order(activation: &str) -> (usize, String) {
    match activation.parse::<BaseActivation>() {
        Ok(b) => (
            BaseActivation::iter().position(|x| x == b).unwrap_or(0),
            String::new(),
        ),
        Err(_) => (BaseActivation::COUNT, activation.to_string()),
    }
}

impl Summary {
    /// Groups `records` by (activation, ELSA, optimiser, learning rate) over seeds, using each
    /// record's `test_accuracy`. Columns are `optimizers` × `lrs` (optimiser-major, e.g.
    /// SGD 1e-2, SGD 1e-3, ..., Adam 1e-2, ...). Records outside these columns are ignored.
    /// Two records of the same group and seed count once: the later one wins.
    /// A run that diverged counts as diverged in its cell instead of giving an accuracy.
    pub fn from_records(records: &[RunRecord], optimizers: &[Optimizer], lrs: &[f64]) -> Summary {
        Self::build(records, optimizers, lrs, |r| {
            let accuracy = r.diverged_at.is_none().then_some(r.test_accuracy);
            Some((accuracy, r.epoch))
        })
    }

    /// Like [`Summary::from_records`], but with the accuracy after epoch `epoch` (1-based,
    /// from `accuracy_per_epoch`), so that longer runs (e.g. Figure 3's 20 epochs) feed the
    /// first-epoch tables too. Records with fewer epochs are ignored.
    pub fn from_records_at_epoch(
        records: &[RunRecord],
        optimizers: &[Optimizer],
        lrs: &[f64],
        epoch: usize,
    ) -> Summary {
        Self::build(records, optimizers, lrs, |r| {
            let index = epoch.checked_sub(1)?;
            let diverged = r.diverged_at.is_some_and(|d| d <= epoch);
            r.accuracy_per_epoch
                .get(index)
                .map(|&a| ((!diverged).then_some(a), epoch))
        })
    }

    fn build(
        records: &[RunRecord],
        optimizers: &[Optimizer],
        lrs: &[f64],
        value: impl Fn(&RunRecord) -> Option<(Option<f64>, usize)>,
    ) -> Summary {
        let mut columns: Vec<Column> = Vec::new();
        for &optimizer in optimizers {
            for &lr in lrs {
                if !columns.iter().any(|c| c.matches(optimizer, lr)) {
                    columns.push(Column { optimizer, lr });
                }
            }
        }
        // (paper order, elsa) -> (name, column -> seed -> accuracy)
        type Key = ((usize, String), bool);
        // `None`: the seed diverged.
        type ByColumn = BTreeMap<usize, BTreeMap<u64, Option<f64>>>;
        let mut groups: BTreeMap<Key, (String, ByColumn)> = BTreeMap::new();
        let mut epochs: Vec<usize> = Vec::new();
        for record in records {
            let entry = groups
                .entry((paper_order(&record.activation), record.elsa))
                .or_insert_with(|| (record.activation.clone(), BTreeMap::new()));
            let Some(column) = columns
                .iter()
                .position(|c| c.matches(record.optimizer, record.lr))
            else {
                continue;
            };
            let Some((accuracy, epoch)) = value(record) else {
                continue;
            };
            entry
                .1
                .entry(column)
                .or_default()
                .insert(record.seed, accuracy);
            if !epochs.contains(&epoch) {
                epochs.push(epoch);
            }
        }
        epochs.sort_unstable();
        let rows = groups
            .into_iter()
            .map(|((_, elsa), (activation, by_column))| {
                let cells = (0..columns.len())
                    .map(|c| {
                        by_column.get(&c).and_then(|seeds| {
                            let values: Vec<f64> = seeds.values().flatten().copied().collect();
                            Cell::from_runs(&values, seeds.len() - values.len())
                        })
                    })
                    .collect();
                Row {
                    activation,
                    elsa,
                    cells,
                }
            })
            .collect();
        Summary {
            columns,
            rows,
            epochs,
        }
    }

    /// The row of `activation` (base name), with or without ELSA.
    pub fn row(&self, activation: &str, elsa: bool) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.activation == activation && r.elsa == elsa)
    }

    /// The cell of `activation` (base name) in column `column`.
    pub fn cell(&self, activation: &str, elsa: bool, column: usize) -> Option<&Cell> {
        self.row(activation, elsa)?.cells.get(column)?.as_ref()
    }

    /// The best mean in column `column` among the rows with this `elsa` whose group is in
    /// `groups`, with every activation reaching it; `None` if none of them ran there.
    pub fn best(&self, column: usize, elsa: bool, groups: &[Group]) -> Option<Best> {
        let candidates: Vec<(&str, f64)> = self
            .rows
            .iter()
            .filter(|r| r.elsa == elsa && groups.contains(&r.group()))
            .filter_map(|r| {
                let cell = r.cells.get(column)?.as_ref()?;
                Some((r.activation.as_str(), cell.comparable_mean()?))
            })
            .collect();
        let mean = candidates
            .iter()
            .map(|&(_, m)| m)
            .fold(None, |best: Option<f64>, m| {
                Some(best.map_or(m, |b| b.max(m)))
            })?;
        Some(Best {
            activations: candidates
                .iter()
                .filter(|&&(_, m)| m == mean)
                .map(|&(a, _)| a.to_string())
                .collect(),
            mean,
        })
    }

    /// Per column, AReLU against the best fixed and the best other learnable activation (the
    /// bottom rows of Table 1).
    pub fn arelu_improvements(&self) -> Vec<AreluImprovement> {
        let arelu = BaseActivation::Arelu.as_str();
        (0..self.columns.len())
            .map(|column| {
                let mean = self
                    .cell(arelu, false, column)
                    .and_then(Cell::comparable_mean);
                let best_fixed = self.best(column, false, &[Group::Fixed]);
                let best_learnable = self.best(column, false, &[Group::Learnable]);
                let over = |b: &Option<Best>| Some(mean? - b.as_ref()?.mean);
                AreluImprovement {
                    column,
                    arelu: mean,
                    over_fixed: over(&best_fixed),
                    over_learnable: over(&best_learnable),
                    best_fixed,
                    best_learnable,
                }
            })
            .collect()
    }

    /// Every (activation, column) where the activation ran both alone and wrapped in ELSA, in
    /// row then column order.
    pub fn elsa_comparisons(&self) -> Vec<ElsaComparison> {
        let mut out = Vec::new();
        for row in self.rows.iter().filter(|r| r.elsa) {
            for (column, cell) in row.cells.iter().enumerate() {
                let elsa = cell.as_ref().and_then(Cell::comparable_mean);
                let plain = self
                    .cell(&row.activation, false, column)
                    .and_then(Cell::comparable_mean);
                let (Some(elsa), Some(plain)) = (elsa, plain) else {
                    continue;
                };
                out.push(ElsaComparison {
                    activation: row.activation.clone(),
                    column,
                    plain,
                    elsa,
                    improved: elsa > plain,
                });
            }
        }
        out
    }

    /// `(improved, compared)`: in how many of the cells where both ran ELSA's mean beats the
    /// activation alone.
    pub fn elsa_improvement_count(&self) -> (usize, usize) {
        let comparisons = self.elsa_comparisons();
        let improved = comparisons.iter().filter(|c| c.improved).count();
        (improved, comparisons.len())
    }

    /// Runs that diverged, over every cell.
    pub fn diverged_runs(&self) -> usize {
        let cells = self.rows.iter().flat_map(|r| r.cells.iter().flatten());
        cells.map(|c| c.diverged).sum()
    }

    /// "test accuracy (%) after epoch 1, mean ± sample std over 5 seeds" for the rows with
    /// this `elsa`.
    fn measure_line(&self, elsa: bool) -> String {
        let rows = || self.rows.iter().filter(|r| r.elsa == elsa);
        let ns: Vec<usize> = rows()
            .flat_map(|r| r.cells.iter().flatten().map(|c| c.n + c.diverged))
            .collect();
        let diverged: usize = rows()
            .flat_map(|r| r.cells.iter().flatten().map(|c| c.diverged))
            .sum();
        let max = ns.iter().copied().max().unwrap_or(0);
        let min = ns.iter().copied().min().unwrap_or(0);
        let seeds = match (max, min) {
            (1, _) => "1 seed (no standard deviation)".to_string(),
            (max, min) if min < max => format!("{max} seeds (as few as {min} in some cells)"),
            (max, _) => format!("{max} seeds"),
        };
        let epoch = match self.epochs.as_slice() {
            [] => "the last epoch".to_string(),
            [e] => format!("epoch {e}"),
            many => format!(
                "epochs {} (mixed)",
                many.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let diverged = if diverged > 0 {
            format!(
                " div k/n: k of the cell's n seeds diverged (non-finite loss or parameters; \
                 {diverged} runs in all); such a cell is never marked best nor compared."
            )
        } else {
            String::new()
        };
        format!(
            "Values: test accuracy (%) after {epoch}, mean ± sample standard deviation over \
             {seeds}; {MISSING}: no run.{diverged}"
        )
    }

    fn header(&self, out: &mut String) {
        out.push_str("| activation | type |");
        for c in &self.columns {
            let _ = write!(out, " {} |", c.header());
        }
        out.push_str("\n|---|---|");
        for _ in &self.columns {
            out.push_str("---:|");
        }
        out.push('\n');
    }
}

/// `+12.34` / `-3.00`, never `-0.00`.
fn signed(d: f64) -> String {
    let mut r = (d * 100.0).round() / 100.0;
    if r == 0.0 {
        r = 0.0;
    }
    format!("{r:+.2}")
}

fn cell_text(cell: Option<&Cell>) -> String {
    cell.map_or_else(|| MISSING.to_string(), Cell::text)
}

/// Table 1: every activation without ELSA, one column per (optimiser, learning rate).
///
/// Markers, per column: **bold** the best fixed activation, _italic_ the best learnable
/// activation other than AReLU, † the best of all activations (ties all marked). Two
/// bottom rows give AReLU's mean minus the best fixed and minus the best other learnable
/// mean (`+12.34`, or `–`). A legend follows the table.
pub fn table1_markdown(summary: &Summary) -> String {
    let mut out = String::new();
    summary.header(&mut out);
    let all = [Group::Fixed, Group::Learnable, Group::Arelu, Group::Unknown];
    let columns = summary.columns.len();
    let best_fixed: Vec<_> = (0..columns)
        .map(|c| summary.best(c, false, &[Group::Fixed]))
        .collect();
    let best_learnable: Vec<_> = (0..columns)
        .map(|c| summary.best(c, false, &[Group::Learnable]))
        .collect();
    let best_all: Vec<_> = (0..columns).map(|c| summary.best(c, false, &all)).collect();
    let is_in = |best: &Option<Best>, name: &str| {
        best.as_ref()
            .is_some_and(|b| b.activations.iter().any(|a| a == name))
    };
    for row in summary.rows.iter().filter(|r| !r.elsa) {
        let _ = write!(out, "| {} | {} |", row.name(), row.group().type_label());
        for (c, cell) in row.cells.iter().enumerate() {
            let mut text = cell_text(cell.as_ref());
            if cell.is_some() {
                if row.group() == Group::Fixed && is_in(&best_fixed[c], &row.activation) {
                    text = format!("**{text}**");
                }
                if row.group() == Group::Learnable && is_in(&best_learnable[c], &row.activation) {
                    text = format!("_{text}_");
                }
                if is_in(&best_all[c], &row.activation) {
                    text.push_str(" †");
                }
            }
            let _ = write!(out, " {text} |");
        }
        out.push('\n');
    }
    let improvements = summary.arelu_improvements();
    for (label, pick) in [
        (
            "AReLU − best fixed",
            (|i: &AreluImprovement| i.over_fixed) as fn(&AreluImprovement) -> Option<f64>,
        ),
        ("AReLU − best learnable", |i: &AreluImprovement| {
            i.over_learnable
        }),
    ] {
        let _ = write!(out, "| {label} | |");
        for i in &improvements {
            let text = pick(i).map_or_else(|| MISSING.to_string(), signed);
            let _ = write!(out, " {text} |");
        }
        out.push('\n');
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "**bold**: best fixed activation in the column; _italic_: best learnable activation \
         other than AReLU (apl, mixture, pau, prelu, slaf); †: best of all activations in the \
         column. {} The bottom rows give AReLU's mean minus the column's best fixed / best \
         other learnable mean, in points.",
        summary.measure_line(false)
    );
    out
}

/// Table 4: every activation wrapped in ELSA (rows `elsa-<name>`), same columns as Table 1.
///
/// A cell is underlined (`<u>...</u>`) where ELSA's mean beats the same activation alone
/// (the Table 1 cell). A bottom row counts, per column, the improved cells among those
/// where both ran; the legend gives the total ("ELSA improves N of M cells").
pub fn table4_markdown(summary: &Summary) -> String {
    let mut out = String::new();
    summary.header(&mut out);
    let comparisons = summary.elsa_comparisons();
    let improved = |activation: &str, column: usize| {
        comparisons
            .iter()
            .any(|c| c.improved && c.column == column && c.activation == activation)
    };
    for row in summary.rows.iter().filter(|r| r.elsa) {
        let _ = write!(out, "| {} | {} |", row.name(), row.group().type_label());
        for (c, cell) in row.cells.iter().enumerate() {
            let mut text = cell_text(cell.as_ref());
            if improved(&row.activation, c) {
                text = format!("<u>{text}</u>");
            }
            let _ = write!(out, " {text} |");
        }
        out.push('\n');
    }
    out.push_str("| ELSA improves | |");
    for c in 0..summary.columns.len() {
        let compared = comparisons.iter().filter(|x| x.column == c).count();
        let better = comparisons
            .iter()
            .filter(|x| x.column == c && x.improved)
            .count();
        let _ = write!(out, " {better}/{compared} |");
    }
    out.push('\n');
    out.push('\n');
    let (better, compared) = summary.elsa_improvement_count();
    let _ = writeln!(
        out,
        "<u>underlined</u>: ELSA's mean beats the same activation alone (Table 1) in that \
         column. ELSA improves {better} of {compared} cells (cells where both ran). {}",
        summary.measure_line(true)
    );
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Every run, one line each: `activation,elsa,optimizer,lr,seed,epoch,test_accuracy,
/// train_seconds`, sorted by paper order, ELSA (without first), optimiser (SGD first),
/// learning rate (descending), seed. Numbers are written exactly (Rust's shortest
/// round-trip form, e.g. `0.01`).
pub fn results_csv(records: &[RunRecord]) -> String {
    let mut sorted: Vec<&RunRecord> = records.iter().collect();
    sorted.sort_by(|a, b| {
        paper_order(&a.activation)
            .cmp(&paper_order(&b.activation))
            .then(a.elsa.cmp(&b.elsa))
            .then(a.optimizer.cmp(&b.optimizer))
            .then(b.lr.total_cmp(&a.lr))
            .then(a.seed.cmp(&b.seed))
    });
    let mut out =
        String::from("activation,elsa,optimizer,lr,seed,epoch,test_accuracy,train_seconds\n");
    for r in sorted {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{}",
            csv_field(&r.activation),
            r.elsa,
            r.optimizer.as_str(),
            r.lr,
            r.seed,
            r.epoch,
            r.test_accuracy,
            r.train_seconds
        );
    }
    out
}

fn best_json(best: &Option<Best>) -> Value {
    match best {
        Some(b) => json!({ "activations": b.activations, "mean": b.mean }),
        None => Value::Null,
    }
}

/// Everything the tables show, as JSON:
///
/// ```text
/// { "epochs": [1],
///   "columns": [{"optimizer": "sgd", "lr": 0.01, "label": "SGD 1e-2"}, ...],
///   "cells": [{"activation": "relu", "elsa": false, "type": "fixed", "optimizer": "sgd",
///              "lr": 0.01, "mean": 97.1, "std": 0.3, "n": 5}, ...],      // present cells only
///   "arelu_improvements": [{"optimizer", "lr", "arelu", "best_fixed": {"activations", "mean"},
///              "best_learnable": {...}, "over_best_fixed", "over_best_learnable"}, ...],
///   "elsa": {"improved": 12, "compared": 72,
///            "cells": [{"activation", "optimizer", "lr", "plain", "elsa", "improved"}, ...]} }
/// ```
///
/// Values that cannot be computed are `null`.
pub fn summary_json(summary: &Summary) -> Value {
    let column = |c: usize| summary.columns[c];
    let columns: Vec<Value> = summary
        .columns
        .iter()
        .map(|c| json!({ "optimizer": c.optimizer, "lr": c.lr, "label": c.header() }))
        .collect();
    let mut cells = Vec::new();
    for row in &summary.rows {
        for (c, cell) in row.cells.iter().enumerate() {
            if let Some(cell) = cell {
                cells.push(json!({
                    "activation": row.activation,
                    "elsa": row.elsa,
                    "type": row.group().type_label(),
                    "optimizer": column(c).optimizer,
                    "lr": column(c).lr,
                    "mean": cell.mean,
                    "std": cell.std,
                    "n": cell.n,
                    "diverged": cell.diverged,
                }));
            }
        }
    }
    let improvements: Vec<Value> = summary
        .arelu_improvements()
        .iter()
        .map(|i| {
            json!({
                "optimizer": column(i.column).optimizer,
                "lr": column(i.column).lr,
                "arelu": i.arelu,
                "best_fixed": best_json(&i.best_fixed),
                "best_learnable": best_json(&i.best_learnable),
                "over_best_fixed": i.over_fixed,
                "over_best_learnable": i.over_learnable,
            })
        })
        .collect();
    let comparisons: Vec<Value> = summary
        .elsa_comparisons()
        .iter()
        .map(|e| {
            json!({
                "activation": e.activation,
                "optimizer": column(e.column).optimizer,
                "lr": column(e.column).lr,
                "plain": e.plain,
                "elsa": e.elsa,
                "improved": e.improved,
            })
        })
        .collect();
    let (improved, compared) = summary.elsa_improvement_count();
    json!({
        "epochs": summary.epochs,
        "diverged_runs": summary.diverged_runs(),
        "columns": columns,
        "cells": cells,
        "arelu_improvements": improvements,
        "elsa": { "improved": improved, "compared": compared, "cells": comparisons },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SGD: Optimizer = Optimizer::Sgd;
    const ADAM: Optimizer = Optimizer::Adam;
    const LRS: [f64; 2] = [1e-2, 1e-4];
    const OPTS: [Optimizer; 2] = [SGD, ADAM];

    fn record(
        activation: &str,
        elsa: bool,
        opt: Optimizer,
        lr: f64,
        seed: u64,
        acc: f64,
    ) -> RunRecord {
        RunRecord {
            activation: activation.to_string(),
            elsa,
            optimizer: opt,
            lr,
            seed,
            epoch: 1,
            test_accuracy: acc,
            train_seconds: 1.5,
            accuracy_per_epoch: vec![acc],
            activation_params: vec![],
            diverged_at: None,
        }
    }

    /// Means per (activation, elsa) over columns SGD 1e-2, SGD 1e-4, Adam 1e-2, Adam 1e-4;
    /// `None` = no run. Each cell has 3 seeds at mean - 0.5, mean, mean + 0.5 (std 0.5),
    /// except relu SGD 1e-2: 97, 98, 99.5.
    const MEANS: [(&str, bool, [Option<f64>; 4]); 7] = [
        (
            "arelu",
            false,
            [Some(98.5), Some(60.0), Some(94.0), Some(92.0)],
        ),
        ("sigmoid", false, [Some(90.0), Some(40.0), Some(95.0), None]),
        ("relu", false, [None, Some(30.0), Some(97.0), Some(90.0)]),
        (
            "prelu",
            false,
            [Some(97.5), Some(50.0), Some(96.0), Some(91.0)],
        ),
        (
            "relu",
            true,
            [Some(98.3), Some(70.0), Some(96.0), Some(90.0)],
        ),
        (
            "sigmoid",
            true,
            [Some(89.0), Some(45.0), Some(95.5), Some(80.0)],
        ),
        ("prelu", true, [Some(97.0), Some(55.0), None, Some(92.0)]),
    ];

    fn records() -> Vec<RunRecord> {
        let mut out = Vec::new();
        for (act, elsa, means) in MEANS {
            for (c, mean) in means.iter().enumerate() {
                let (opt, lr) = (OPTS[c / 2], LRS[c % 2]);
                if let Some(m) = mean {
                    for (seed, d) in [(0, -0.5), (1, 0.0), (2, 0.5)] {
                        out.push(record(act, elsa, opt, lr, seed, m + d));
                    }
                }
            }
        }
        for (seed, acc) in [(0, 97.0), (1, 98.0), (2, 99.5)] {
            out.push(record("relu", false, SGD, 0.01, seed, acc));
        }
        out.reverse();
        out
    }

    fn summary() -> Summary {
        Summary::from_records(&records(), &OPTS, &LRS)
    }

    /// The cells of the markdown table rows (first line = header), `|` split and trimmed.
    fn rows(md: &str) -> Vec<Vec<String>> {
        md.lines()
            .take_while(|l| l.starts_with('|'))
            .filter(|l| !l.starts_with("|---"))
            .map(|l| {
                let inner = l.trim().trim_start_matches('|').trim_end_matches('|');
                inner.split('|').map(|s| s.trim().to_string()).collect()
            })
            .collect()
    }

    fn find<'a>(table: &'a [Vec<String>], name: &str) -> &'a [String] {
        table
            .iter()
            .find(|r| r[0] == name)
            .unwrap_or_else(|| panic!("no row {name}"))
    }

    #[test]
    fn lr_labels() {
        assert_eq!(lr_label(0.01), "1e-2");
        assert_eq!(lr_label(1e-3), "1e-3");
        assert_eq!(lr_label(0.0001), "1e-4");
        assert_eq!(lr_label(1e-5), "1e-5");
        assert_eq!(lr_label(0.0005), "5e-4");
        assert_eq!(lr_label(0.0025), "2.5e-3");
        assert_eq!(lr_label(0.1 * 0.1), "1e-2");
        assert_eq!(lr_label(1.0), "1e0");
        assert_eq!(
            Column {
                optimizer: ADAM,
                lr: 1e-5
            }
            .header(),
            "Adam 1e-5"
        );
    }

    #[test]
    fn cell_mean_and_sample_std() {
        let s = summary();
        // 97, 98, 99.5: mean 98.1667, squared deviations sum 3.16667, / 2, sqrt = 1.258306.
        let c = s.cell("relu", false, 0).unwrap();
        assert_eq!(c.n, 3);
        assert!((c.mean - 98.166_666_666_666_67).abs() < 1e-9, "{}", c.mean);
        assert!((c.std - 1.258_305_739_211_792).abs() < 1e-9, "{}", c.std);
        assert_eq!(c.text(), "98.17 ± 1.26");
        let c = s.cell("prelu", true, 1).unwrap();
        assert!((c.mean - 55.0).abs() < 1e-12 && (c.std - 0.5).abs() < 1e-12);
        assert_eq!(Cell::from_values(&[42.0]).unwrap().std, 0.0);
        assert_eq!(Cell::from_values(&[]), None);
    }

    #[test]
    fn rows_and_columns_in_order() {
        let s = summary();
        let names: Vec<String> = s.rows.iter().map(Row::name).collect();
        assert_eq!(
            names,
            [
                "relu",
                "elsa-relu",
                "sigmoid",
                "elsa-sigmoid",
                "prelu",
                "elsa-prelu",
                "arelu"
            ]
        );
        let headers: Vec<String> = s.columns.iter().map(Column::header).collect();
        assert_eq!(headers, ["SGD 1e-2", "SGD 1e-4", "Adam 1e-2", "Adam 1e-4"]);
    }

    #[test]
    fn duplicate_seed_counts_once_last_wins() {
        let mut recs = records();
        recs.push(record("arelu", false, SGD, 1e-2, 2, 10.0));
        let s = Summary::from_records(&recs, &OPTS, &LRS);
        let c = s.cell("arelu", false, 0).unwrap();
        assert_eq!(c.n, 3);
        assert!((c.mean - (98.0 + 98.5 + 10.0) / 3.0).abs() < 1e-9);
    }

    #[test]
    fn table1_cells_marks_and_bottom_rows() {
        let s = summary();
        let md = table1_markdown(&s);
        let t = rows(&md);
        assert_eq!(t[0][0], "activation");
        assert_eq!(
            &t[0][2..],
            ["SGD 1e-2", "SGD 1e-4", "Adam 1e-2", "Adam 1e-4"]
        );
        // 4 plain activations + 2 bottom rows, no ELSA row.
        assert_eq!(t.len(), 1 + 4 + 2);
        assert!(!md.contains("elsa-"));
        // Every present cell appears with its value; the missing one shows `–`.
        for (act, elsa, means) in MEANS.iter().filter(|m| !m.1) {
            let row = find(&t, act);
            assert_eq!(row.len(), 6);
            for (c, _) in means.iter().enumerate() {
                let text = &row[2 + c];
                match s.cell(act, *elsa, c) {
                    Some(cell) => assert!(text.contains(&cell.text()), "{act} {c}: {text}"),
                    None => assert_eq!(text, MISSING),
                }
            }
        }
        assert_eq!(find(&t, "sigmoid")[5], "–");
        assert_eq!(find(&t, "sigmoid")[1], "fixed");
        assert_eq!(find(&t, "arelu")[1], "learnable");
        // Best fixed: relu in SGD 1e-2 (98.17 > 90), sigmoid in SGD 1e-4 (40 > 30).
        assert_eq!(find(&t, "relu")[2], "**98.17 ± 1.26**");
        assert_eq!(find(&t, "sigmoid")[2], "90.00 ± 0.50");
        assert_eq!(find(&t, "sigmoid")[3], "**40.00 ± 0.50**");
        assert_eq!(find(&t, "relu")[3], "30.00 ± 0.50");
        // Adam 1e-2: relu is best fixed and best overall.
        assert_eq!(find(&t, "relu")[4], "**97.00 ± 0.50** †");
        // Adam 1e-4: sigmoid missing, relu best fixed.
        assert_eq!(find(&t, "relu")[5], "**90.00 ± 0.50**");
        // Best other learnable: prelu, italic, in every column.
        assert_eq!(find(&t, "prelu")[2], "_97.50 ± 0.50_");
        assert_eq!(find(&t, "prelu")[4], "_96.00 ± 0.50_");
        // AReLU: never bold/italic, † where best overall.
        assert_eq!(find(&t, "arelu")[2], "98.50 ± 0.50 †");
        assert_eq!(find(&t, "arelu")[4], "94.00 ± 0.50");
        // AReLU − best fixed: 98.5 - 98.1667, 60 - 40, 94 - 97, 92 - 90.
        assert_eq!(
            &find(&t, "AReLU − best fixed")[2..],
            ["+0.33", "+20.00", "-3.00", "+2.00"]
        );
        // AReLU − best learnable (prelu): 98.5 - 97.5, 60 - 50, 94 - 96, 92 - 91.
        assert_eq!(
            &find(&t, "AReLU − best learnable")[2..],
            ["+1.00", "+10.00", "-2.00", "+1.00"]
        );
        assert!(md.contains("over 3 seeds"), "{md}");
        assert!(md.contains("after epoch 1,"), "{md}");
    }

    #[test]
    fn table1_without_arelu_or_runs_shows_dashes() {
        let recs: Vec<RunRecord> = records()
            .into_iter()
            .filter(|r| r.activation != "arelu")
            .collect();
        let s = Summary::from_records(&recs, &[SGD], &[1e-2, 1e-5]);
        let t = rows(&table1_markdown(&s));
        assert_eq!(&find(&t, "AReLU − best fixed")[2..], ["–", "–"]);
        assert_eq!(&find(&t, "AReLU − best learnable")[2..], ["–", "–"]);
        // No run at 1e-5 at all.
        assert_eq!(find(&t, "relu")[3], "–");
        assert_eq!(find(&t, "prelu")[3], "–");
        assert!(t.iter().all(|r| r[0] != "arelu"));
        // Best learnable without any learnable run.
        let only_fixed: Vec<RunRecord> = recs
            .into_iter()
            .filter(|r| r.activation != "prelu")
            .collect();
        let s = Summary::from_records(&only_fixed, &[SGD], &[1e-2]);
        assert!(s.arelu_improvements()[0].best_learnable.is_none());
    }

    #[test]
    fn table4_marks_exactly_the_improved_cells() {
        let s = summary();
        let md = table4_markdown(&s);
        let t = rows(&md);
        assert_eq!(t.len(), 1 + 3 + 1);
        assert!(t.iter().all(|r| r[0] != "arelu" && r[0] != "relu"));
        for (act, _, means) in MEANS.iter().filter(|m| m.1) {
            let row = find(&t, &format!("elsa-{act}"));
            for (c, _) in means.iter().enumerate() {
                let text = &row[2 + c];
                let expected = match (s.cell(act, true, c), s.cell(act, false, c)) {
                    (Some(e), Some(p)) if e.mean > p.mean => format!("<u>{}</u>", e.text()),
                    (Some(e), _) => e.text(),
                    (None, _) => MISSING.to_string(),
                };
                assert_eq!(text, &expected, "elsa-{act} column {c}");
            }
        }
        // By hand: relu SGD 1e-2 (98.3 > 98.17) and SGD 1e-4; relu Adam 1e-4 ties: unmarked;
        // sigmoid Adam 1e-4 has no plain run: unmarked; prelu Adam 1e-2 missing.
        let relu = find(&t, "elsa-relu");
        assert_eq!(relu[2], "<u>98.30 ± 0.50</u>");
        assert_eq!(relu[5], "90.00 ± 0.50");
        assert_eq!(find(&t, "elsa-sigmoid")[5], "80.00 ± 0.50");
        assert_eq!(find(&t, "elsa-prelu")[4], "–");
        assert_eq!(md.matches("<u>").count(), 6 + 1); // 6 cells + the legend
        assert_eq!(s.elsa_improvement_count(), (6, 10));
        assert_eq!(
            &find(&t, "ELSA improves")[2..],
            ["1/3", "3/3", "1/2", "1/2"]
        );
        assert!(md.contains("ELSA improves 6 of 10 cells"), "{md}");
    }

    #[test]
    fn csv_rows_sorted() {
        let recs = records();
        let csv = results_csv(&recs);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "activation,elsa,optimizer,lr,seed,epoch,test_accuracy,train_seconds"
        );
        assert_eq!(lines.len(), 1 + recs.len());
        assert_eq!(lines[1], "relu,false,sgd,0.01,0,1,97,1.5");
        assert_eq!(lines[2], "relu,false,sgd,0.01,1,1,98,1.5");
        assert_eq!(lines[4], "relu,false,sgd,0.0001,0,1,29.5,1.5");
        assert_eq!(lines[7], "relu,false,adam,0.01,0,1,96.5,1.5");
        let keys: Vec<(String, String)> = lines[1..]
            .iter()
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[0].to_string(), f[1].to_string())
            })
            .collect();
        let mut blocks: Vec<(String, String)> = keys.clone();
        blocks.dedup();
        let expected: Vec<(String, String)> = [
            ("relu", "false"),
            ("relu", "true"),
            ("sigmoid", "false"),
            ("sigmoid", "true"),
            ("prelu", "false"),
            ("prelu", "true"),
            ("arelu", "false"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(blocks, expected);
        assert!(lines
            .last()
            .unwrap()
            .starts_with("arelu,false,adam,0.0001,2,"));
    }

    #[test]
    fn json_has_cells_and_comparisons() {
        let v = summary_json(&summary());
        assert_eq!(v["cells"].as_array().unwrap().len(), 7 * 4 - 2);
        assert_eq!(v["columns"][1]["label"], "SGD 1e-4");
        assert_eq!(v["elsa"]["improved"], 6);
        assert_eq!(v["elsa"]["compared"], 10);
        let imp = &v["arelu_improvements"][1];
        assert_eq!(imp["optimizer"], "sgd");
        assert!((imp["over_best_fixed"].as_f64().unwrap() - 20.0).abs() < 1e-9);
        assert_eq!(imp["best_fixed"]["activations"][0], "sigmoid");
        let c = v["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["activation"] == "relu" && c["elsa"] == false && c["optimizer"] == "sgd")
            .unwrap();
        assert_eq!(c["n"], 3);
        assert_eq!(c["type"], "fixed");
    }

    #[test]
    fn at_epoch_uses_accuracy_per_epoch_and_unknown_names_go_last() {
        let mut a = record("swish", false, SGD, 1e-4, 0, 95.0);
        a.epoch = 3;
        a.accuracy_per_epoch = vec![11.0, 50.0, 95.0];
        let b = record("swish", false, SGD, 1e-4, 1, 13.0);
        let mut short = record("swish", false, SGD, 1e-4, 2, 20.0);
        short.accuracy_per_epoch.clear();
        let odd = record("my,act", false, SGD, 1e-4, 0, 50.0);
        let recs = [odd, a, b, short];
        let s = Summary::from_records_at_epoch(&recs, &[SGD], &[1e-4], 1);
        let c = s.cell("swish", false, 0).unwrap();
        assert_eq!((c.n, c.mean), (2, 12.0));
        assert_eq!(s.epochs, [1]);
        assert_eq!(s.rows.last().unwrap().activation, "my,act");
        assert_eq!(s.rows.last().unwrap().group(), Group::Unknown);
        let s = Summary::from_records(&recs, &[SGD], &[1e-4]);
        assert_eq!(s.epochs, [1, 3]);
        assert!(table1_markdown(&s).contains("epochs 1, 3 (mixed)"));
        assert!(results_csv(&recs)
            .lines()
            .last()
            .unwrap()
            .starts_with("\"my,act\","));
    }

    #[test]
    fn diverged_runs_are_shown_counted_and_never_best() {
        let mut recs = records();
        // sigmoid Adam 1e-4 had no run; relu SGD 1e-4 diverges in one seed of three and
        // prelu SGD 1e-2 in every seed, each with an accuracy that would otherwise win.
        for seed in 0..2 {
            let mut r = record("sigmoid", false, ADAM, 1e-4, seed, 99.9);
            r.diverged_at = Some(1);
            recs.push(r);
        }
        for r in recs.iter_mut().filter(|r| {
            (r.activation == "relu" && !r.elsa && r.optimizer == SGD && r.lr == 1e-4 && r.seed == 0)
                || (r.activation == "prelu" && !r.elsa && r.optimizer == SGD && r.lr == 1e-2)
        }) {
            r.diverged_at = Some(1);
            r.test_accuracy = 99.9;
        }
        let s = Summary::from_records(&recs, &OPTS, &LRS);
        let t = rows(&table1_markdown(&s));
        assert_eq!(find(&t, "sigmoid")[5], "div 2/2");
        assert_eq!(find(&t, "relu")[3], "div 1/3");
        assert_eq!(find(&t, "prelu")[2], "div 3/3");
        // Best fixed in SGD 1e-4 is now sigmoid alone; no learnable other than AReLU in
        // SGD 1e-2, so that bottom cell is missing; Adam 1e-4's best fixed stays relu.
        assert_eq!(find(&t, "sigmoid")[3], "**40.00 ± 0.50**");
        assert_eq!(find(&t, "AReLU − best learnable")[2], MISSING);
        assert_eq!(find(&t, "relu")[5], "**90.00 ± 0.50**");
        assert!(!t
            .iter()
            .any(|r| r.iter().any(|c| c.contains("div") && c.contains('*'))));
        assert!(!t
            .iter()
            .any(|r| r.iter().any(|c| c.contains("div") && c.contains('†'))));
        assert_eq!(s.diverged_runs(), 2 + 1 + 3);
        let v = summary_json(&s);
        assert_eq!(v["diverged_runs"], 6);
        // elsa-relu SGD 1e-4 and elsa-prelu SGD 1e-2 are no longer compared with their
        // diverged plain cells.
        assert_eq!(s.elsa_improvement_count(), (5, 8));
        assert!(table1_markdown(&s).contains("6 runs in all"));
    }

    #[test]
    fn one_seed_cells_have_no_deviation() {
        let recs = [record("relu", false, SGD, 1e-2, 0, 97.0)];
        let md = table1_markdown(&Summary::from_records(&recs, &[SGD], &[1e-2]));
        assert_eq!(find(&rows(&md), "relu")[2], "**97.00** †");
        assert!(!md.contains("± 0.00") && md.contains("1 seed (no standard deviation)"));
    }

    #[test]
    #[ignore = "prints the tables of the synthetic data"]
    fn print_tables() {
        let s = summary();
        println!("{}\n{}", table1_markdown(&s), table4_markdown(&s));
    }
}
