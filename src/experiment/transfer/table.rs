//! Table 2 made from [`TransferRecord`]s: `table2.md`, `results.csv` and `summary.json`.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::record::TransferRecord;
use crate::experiment::table::{Cell, Group, MISSING};
use crate::name::{ActivationName, BaseActivation};

/// One column of Table 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// Trained on the target alone.
    NoPretrain,
    /// Pretrained on MNIST, tested on the target as it is.
    NoFinetune,
    /// Pretrained, then fine-tuned on the target for this many epochs.
    Finetune(usize),
    /// The pretrained model on MNIST's own test set (not in the paper's table: it shows
    /// what was transferred).
    Source,
}

impl Column {
    /// The column's header.
    pub fn header(self) -> String {
        match self {
            Column::NoPretrain => "no pretrain".into(),
            Column::NoFinetune => "no finetune".into(),
            Column::Finetune(n) => format!("finetune {n} ep."),
            Column::Source => "source: MNIST test".into(),
        }
    }

    /// The machine-readable key (`"finetune_5"`).
    pub fn key(self) -> String {
        match self {
            Column::NoPretrain => "no_pretrain".into(),
            Column::NoFinetune => "no_finetune".into(),
            Column::Finetune(n) => format!("finetune_{n}"),
            Column::Source => "source".into(),
        }
    }

    /// A record's value in this column, when it has one.
    pub fn value(self, record: &TransferRecord) -> Option<f64> {
        match self {
            Column::NoPretrain => Some(record.scratch_accuracy),
            Column::NoFinetune => Some(record.no_finetune_accuracy),
            Column::Finetune(n) => record.finetuned_after(n),
            Column::Source => Some(record.source_accuracy),
        }
    }
}

/// The columns for fine-tuning lengths `finetune`, in the paper's order, then the source
/// column.
pub fn columns(finetune: &[usize]) -> Vec<Column> {
    let mut columns = vec![Column::NoPretrain, Column::NoFinetune];
    columns.extend(finetune.iter().map(|&n| Column::Finetune(n)));
    columns.push(Column::Source);
    columns
}

/// One row: a variant and its cells (mean ± std over seeds).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The activation variant.
    pub activation: ActivationName,
    /// One cell per column; `None` without runs.
    pub cells: Vec<Option<Cell>>,
}

impl Row {
    /// The variant's name (`"elsa-swish"`).
    pub fn variant(&self) -> String {
        self.activation.to_string()
    }
}

/// Table 2's numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The columns.
    pub columns: Vec<Column>,
    /// Rows in the paper's activation order, the plain variants first.
    pub rows: Vec<Row>,
}

/// The order of rows and of the CSV's lines: the plain variants first, each group in the
/// paper's order.
fn table_order(activation: ActivationName) -> (bool, BaseActivation) {
    (activation.is_elsa(), activation.base())
}

impl Summary {
    /// Groups `records` by variant; the seeds of a variant are averaged.
    pub fn from_records(records: &[TransferRecord], finetune: &[usize]) -> Summary {
        let columns = columns(finetune);
        let mut variants: Vec<ActivationName> = records.iter().map(|r| r.activation).collect();
        variants.sort_by_key(|&a| table_order(a));
        variants.dedup();
        let rows = variants
            .into_iter()
            .map(|activation| {
                let mine: Vec<&TransferRecord> = records
                    .iter()
                    .filter(|r| r.activation == activation)
                    .collect();
                let cells = columns
                    .iter()
                    .map(|c| {
                        let values: Vec<f64> = mine.iter().filter_map(|r| c.value(r)).collect();
                        Cell::from_values(&values)
                    })
                    .collect();
                Row { activation, cells }
            })
            .collect();
        Summary { columns, rows }
    }

    /// The best mean of column `c` and the variants reaching it (NaN means never win).
    pub fn best(&self, c: usize) -> Option<(f64, Vec<ActivationName>)> {
        let best = self
            .rows
            .iter()
            .filter_map(|r| r.cells[c].map(|cell| cell.mean))
            .filter(|m| !m.is_nan())
            .fold(None, |acc: Option<f64>, m| {
                Some(acc.map_or(m, |a| a.max(m)))
            })?;
        let names = self
            .rows
            .iter()
            .filter(|r| r.cells[c].is_some_and(|cell| cell.mean == best))
            .map(|r| r.activation)
            .collect();
        Some((best, names))
    }

    /// The rank (1 = best) of `variant`'s mean in column `c` among the rows with a value:
    /// one more than the number of rows with a strictly higher mean.
    pub fn rank(&self, variant: ActivationName, c: usize) -> Option<usize> {
        let mine = self.rows.iter().find(|r| r.activation == variant)?.cells[c]?.mean;
        Some(
            1 + self
                .rows
                .iter()
                .filter(|r| r.cells[c].is_some_and(|cell| cell.mean > mine))
                .count(),
        )
    }

    /// The largest number of seeds in any cell.
    pub fn seeds(&self) -> usize {
        self.rows
            .iter()
            .flat_map(|r| r.cells.iter().flatten().map(|c| c.n))
            .max()
            .unwrap_or(0)
    }
}

/// `table2.md`: rows the variants, columns no pretrain / no finetune / finetune N epochs /
/// source accuracy; the best mean of each column in **bold** (ties all bold), and a legend
/// saying what the target domain is.
pub fn table2_markdown(summary: &Summary, target: &str) -> String {
    let mut out = String::from("| activation | type |");
    for c in &summary.columns {
        let _ = write!(out, " {} |", c.header());
    }
    out.push_str("\n|---|---|");
    for _ in &summary.columns {
        out.push_str("---:|");
    }
    out.push('\n');
    let best: Vec<_> = (0..summary.columns.len())
        .map(|c| summary.best(c))
        .collect();
    for row in &summary.rows {
        let _ = write!(
            out,
            "| {} | {} |",
            row.activation,
            if row.activation.is_elsa() {
                "ELSA"
            } else {
                Group::of(row.activation.base()).type_label()
            }
        );
        for (c, cell) in row.cells.iter().enumerate() {
            let text = cell.map_or_else(|| MISSING.to_string(), |cell| cell.text());
            let is_best = best[c]
                .as_ref()
                .is_some_and(|(_, names)| names.contains(&row.activation));
            if is_best {
                let _ = write!(out, " **{text}** |");
            } else {
                let _ = write!(out, " {text} |");
            }
        }
        out.push('\n');
    }
    let _ = write!(
        out,
        "\nTarget: {target}. Values: test accuracy (%) on the target's test set (the last \
         column: on MNIST's), mean ± sample standard deviation over {} seed(s); **bold**: \
         best of the column; {MISSING}: no run. The fine-tuning columns are one fine-tuning \
         run evaluated after each of those epochs.\n",
        summary.seeds()
    );
    out
}

/// One line per run: `activation,elsa,seed,source_accuracy,no_pretrain,no_finetune,
/// finetune_1,...,finetune_N,pretrain_seconds,finetune_seconds,scratch_seconds`, where `N`
/// is the longest fine-tuning of the records (missing values empty).
pub fn results_csv(records: &[TransferRecord]) -> String {
    let mut sorted: Vec<&TransferRecord> = records.iter().collect();
    sorted.sort_by_key(|r| (table_order(r.activation), r.seed));
    let epochs = records
        .iter()
        .map(|r| r.finetune_accuracy_per_epoch.len())
        .max()
        .unwrap_or(0);
    let mut out = String::from("activation,elsa,seed,source_accuracy,no_pretrain,no_finetune");
    for e in 1..=epochs {
        let _ = write!(out, ",finetune_{e}");
    }
    out.push_str(",pretrain_seconds,finetune_seconds,scratch_seconds\n");
    for r in sorted {
        let _ = write!(
            out,
            "{},{},{},{},{},{}",
            r.activation.base().as_str(),
            r.activation.is_elsa(),
            r.seed,
            r.source_accuracy,
            r.scratch_accuracy,
            r.no_finetune_accuracy
        );
        for e in 1..=epochs {
            match r.finetuned_after(e) {
                Some(v) => {
                    let _ = write!(out, ",{v}");
                }
                None => out.push(','),
            }
        }
        let pretrain = r.pretrain_seconds.map_or(String::new(), |s| s.to_string());
        let _ = writeln!(
            out,
            ",{pretrain},{},{}",
            r.finetune_seconds, r.scratch_seconds
        );
    }
    out
}

fn number(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        Value::Null
    }
}

/// Every cell, each column's best, and AReLU's rank in each column:
///
/// ```text
/// { "target": "...", "seeds": 1,
///   "columns": [{"key": "no_pretrain", "label": "no pretrain"}, ...],
///   "cells": [{"variant": "relu", "activation": "relu", "elsa": false, "column": "no_pretrain",
///              "mean": 19.6, "std": 0.0, "n": 1}, ...],
///   "best": [{"column": "no_pretrain", "mean": 80.1, "variants": ["arelu"]}, ...],
///   "arelu_rank": [{"column": "no_pretrain", "rank": 1, "of": 19}, ...] }
/// ```
pub fn summary_json(summary: &Summary, target: &str) -> Value {
    let mut cells = Vec::new();
    for row in &summary.rows {
        for (c, cell) in row.cells.iter().enumerate() {
            if let Some(cell) = cell {
                cells.push(json!({
                    "variant": row.variant(), "activation": row.activation.base().as_str(),
                    "elsa": row.activation.is_elsa(),
                    "column": summary.columns[c].key(), "mean": number(cell.mean),
                    "std": number(cell.std), "n": cell.n,
                }));
            }
        }
    }
    let columns: Vec<Value> = summary
        .columns
        .iter()
        .map(|c| json!({ "key": c.key(), "label": c.header() }))
        .collect();
    let best: Vec<Value> = (0..summary.columns.len())
        .map(|c| match summary.best(c) {
            Some((mean, variants)) => json!({
                "column": summary.columns[c].key(), "mean": mean, "variants": variants,
            }),
            None => json!({ "column": summary.columns[c].key(), "mean": null, "variants": [] }),
        })
        .collect();
    let arelu =
        ActivationName::new(BaseActivation::Arelu, false).unwrap_or_else(|_| unreachable!());
    let ranks: Vec<Value> = (0..summary.columns.len())
        .map(|c| {
            let of = summary.rows.iter().filter(|r| r.cells[c].is_some()).count();
            json!({
                "column": summary.columns[c].key(), "rank": summary.rank(arelu, c), "of": of,
            })
        })
        .collect();
    json!({
        "target": target, "seeds": summary.seeds(), "columns": columns, "cells": cells,
        "best": best, "arelu_rank": ranks,
    })
}
