//! [`Summary`]: runs grouped by (activation, ELSA, optimiser, learning rate), one [`Cell`] of
//! mean and sample standard deviation over seeds per group, and the comparisons the tables
//! mark (best of a group, AReLU's improvement, ELSA against the activation alone).

use std::collections::BTreeMap;

use crate::experiment::lr::LearningRate;
use crate::experiment::record::RunRecord;
use crate::experiment::train::Optimizer;
use crate::name::{ActivationName, BaseActivation};

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
    pub lr: LearningRate,
}

impl Column {
    /// `"SGD 1e-2"` (the rate's [`LearningRate::label`]).
    pub fn header(&self) -> String {
        format!("{} {}", optimizer_label(self.optimizer), self.lr.label())
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
}

impl Group {
    /// The group of a base activation.
    pub fn of(base: BaseActivation) -> Group {
        match base {
            BaseActivation::Arelu => Group::Arelu,
            b if b.is_learnable() => Group::Learnable,
            _ => Group::Fixed,
        }
    }

    /// The "type" column: `"fixed"` or `"learnable"` (AReLU included).
    pub fn type_label(self) -> &'static str {
        match self {
            Group::Fixed => "fixed",
            Group::Learnable | Group::Arelu => "learnable",
        }
    }
}

/// One row: an activation, alone or wrapped in ELSA, with one optional cell per column.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The activation variant.
    pub activation: ActivationName,
    /// One entry per [`Summary::columns`]; `None` where there is no run.
    pub cells: Vec<Option<Cell>>,
}

impl Row {
    /// The name shown in the tables: `"swish"` or `"elsa-swish"`.
    pub fn name(&self) -> String {
        self.activation.to_string()
    }

    /// The comparison group of the base activation.
    pub fn group(&self) -> Group {
        Group::of(self.activation.base())
    }
}

/// The best mean of a column within some rows, and every activation reaching it (ties).
#[derive(Debug, Clone, PartialEq)]
pub struct Best {
    /// The activations of the rows with the best mean.
    pub activations: Vec<ActivationName>,
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
    /// The base activation.
    pub activation: BaseActivation,
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
    /// (the plain row of an activation before its ELSA row).
    pub rows: Vec<Row>,
    /// The distinct epochs the cells' accuracies were taken after (sorted).
    pub epochs: Vec<usize>,
}

impl Summary {
    /// Groups `records` by (activation, ELSA, optimiser, learning rate) over seeds, using each
    /// record's `test_accuracy`. Columns are `optimizers` × `lrs` (optimiser-major, e.g.
    /// SGD 1e-2, SGD 1e-3, ..., Adam 1e-2, ...). Records outside these columns are ignored.
    /// Two records of the same group and seed count once: the later one wins.
    /// A run that diverged counts as diverged in its cell instead of giving an accuracy.
    pub fn from_records(
        records: &[RunRecord],
        optimizers: &[Optimizer],
        lrs: &[LearningRate],
    ) -> Summary {
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
        lrs: &[LearningRate],
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
        lrs: &[LearningRate],
        value: impl Fn(&RunRecord) -> Option<(Option<f64>, usize)>,
    ) -> Summary {
        let mut columns: Vec<Column> = Vec::new();
        for &optimizer in optimizers {
            for &lr in lrs {
                let column = Column { optimizer, lr };
                if !columns.contains(&column) {
                    columns.push(column);
                }
            }
        }
        // activation (in the paper's order, plain before ELSA) -> column -> seed -> accuracy;
        // `None`: the seed diverged.
        type ByColumn = BTreeMap<usize, BTreeMap<u64, Option<f64>>>;
        let mut groups: BTreeMap<ActivationName, ByColumn> = BTreeMap::new();
        let mut epochs: Vec<usize> = Vec::new();
        for record in records {
            let entry = groups.entry(record.activation).or_default();
            let Some(column) = columns
                .iter()
                .position(|c| c.optimizer == record.optimizer && c.lr == record.lr)
            else {
                continue;
            };
            let Some((accuracy, epoch)) = value(record) else {
                continue;
            };
            entry
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
            .map(|(activation, by_column)| {
                let cells = (0..columns.len())
                    .map(|c| {
                        by_column.get(&c).and_then(|seeds| {
                            let values: Vec<f64> = seeds.values().flatten().copied().collect();
                            Cell::from_runs(&values, seeds.len() - values.len())
                        })
                    })
                    .collect();
                Row { activation, cells }
            })
            .collect();
        Summary {
            columns,
            rows,
            epochs,
        }
    }

    /// The row of `activation`.
    pub fn row(&self, activation: ActivationName) -> Option<&Row> {
        self.rows.iter().find(|r| r.activation == activation)
    }

    /// The cell of `activation` in column `column`.
    pub fn cell(&self, activation: ActivationName, column: usize) -> Option<&Cell> {
        self.row(activation)?.cells.get(column)?.as_ref()
    }

    /// The best mean in column `column` among the rows with this `elsa` whose group is in
    /// `groups`, with every activation reaching it; `None` if none of them ran there.
    pub fn best(&self, column: usize, elsa: bool, groups: &[Group]) -> Option<Best> {
        let candidates: Vec<(ActivationName, f64)> = self
            .rows
            .iter()
            .filter(|r| r.activation.is_elsa() == elsa && groups.contains(&r.group()))
            .filter_map(|r| {
                let cell = r.cells.get(column)?.as_ref()?;
                Some((r.activation, cell.comparable_mean()?))
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
                .map(|&(a, _)| a)
                .collect(),
            mean,
        })
    }

    /// Per column, AReLU against the best fixed and the best other learnable activation (the
    /// bottom rows of Table 1).
    pub fn arelu_improvements(&self) -> Vec<AreluImprovement> {
        let arelu = plain(BaseActivation::Arelu);
        (0..self.columns.len())
            .map(|column| {
                let mean = self.cell(arelu, column).and_then(Cell::comparable_mean);
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
        for row in self.rows.iter().filter(|r| r.activation.is_elsa()) {
            let base = row.activation.base();
            for (column, cell) in row.cells.iter().enumerate() {
                let elsa = cell.as_ref().and_then(Cell::comparable_mean);
                let plain = self
                    .cell(plain(base), column)
                    .and_then(Cell::comparable_mean);
                let (Some(elsa), Some(plain)) = (elsa, plain) else {
                    continue;
                };
                out.push(ElsaComparison {
                    activation: base,
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
}

/// `base` alone, not wrapped in ELSA.
pub(super) fn plain(base: BaseActivation) -> ActivationName {
    // Only `elsa-arelu` is refused, and this is never ELSA.
    ActivationName::new(base, false).unwrap_or_else(|_| unreachable!())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::table::fixtures::*;
    use crate::experiment::table::table1_markdown;

    #[test]
    fn column_headers() {
        let column = |optimizer, lr| Column {
            optimizer,
            lr: lrs(&[lr])[0],
        };
        assert_eq!(column(ADAM, 1e-5).header(), "Adam 1e-5");
        assert_eq!(column(SGD, 0.0025).header(), "SGD 2.5e-3");
    }

    #[test]
    fn cell_mean_and_sample_std() {
        let s = summary();
        // 97, 98, 99.5: mean 98.1667, squared deviations sum 3.16667, / 2, sqrt = 1.258306.
        let c = s.cell(name("relu", false), 0).unwrap();
        assert_eq!(c.n, 3);
        assert!((c.mean - 98.166_666_666_666_67).abs() < 1e-9, "{}", c.mean);
        assert!((c.std - 1.258_305_739_211_792).abs() < 1e-9, "{}", c.std);
        assert_eq!(c.text(), "98.17 ± 1.26");
        let c = s.cell(name("prelu", true), 1).unwrap();
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
        let s = Summary::from_records(&recs, &OPTS, &lrs(&LRS));
        let c = s.cell(name("arelu", false), 0).unwrap();
        assert_eq!(c.n, 3);
        assert!((c.mean - (98.0 + 98.5 + 10.0) / 3.0).abs() < 1e-9);
    }

    #[test]
    fn learning_rates_match_exactly() {
        let near = record("relu", false, SGD, 0.1 * 0.1, 0, 50.0);
        let exact = record("relu", false, SGD, 0.01, 0, 90.0);
        let recs = [near, exact];
        // Repeated entries make one column, which the nearby rate does not fall in.
        let s = Summary::from_records(&recs, &[SGD, SGD], &lrs(&[0.01, 1e-2]));
        assert_eq!(s.columns.len(), 1);
        assert_eq!(s.cell(name("relu", false), 0).unwrap().mean, 90.0);
        // Two rates that print alike are two columns.
        let s = Summary::from_records(&recs, &[SGD], &lrs(&[0.01, 0.1 * 0.1]));
        let headers: Vec<String> = s.columns.iter().map(Column::header).collect();
        assert_eq!(headers, ["SGD 1e-2", "SGD 1e-2"]);
        assert_eq!(s.cell(name("relu", false), 0).unwrap().mean, 90.0);
        assert_eq!(s.cell(name("relu", false), 1).unwrap().mean, 50.0);
    }

    #[test]
    fn at_epoch_uses_accuracy_per_epoch() {
        let mut a = record("swish", false, SGD, 1e-4, 0, 95.0);
        a.epoch = 3;
        a.accuracy_per_epoch = vec![11.0, 50.0, 95.0];
        let b = record("swish", false, SGD, 1e-4, 1, 13.0);
        let mut short = record("swish", false, SGD, 1e-4, 2, 20.0);
        short.accuracy_per_epoch.clear();
        let recs = [a, b, short];
        let s = Summary::from_records_at_epoch(&recs, &[SGD], &lrs(&[1e-4]), 1);
        let c = s.cell(name("swish", false), 0).unwrap();
        assert_eq!((c.n, c.mean), (2, 12.0));
        assert_eq!(s.epochs, [1]);
        let s = Summary::from_records(&recs, &[SGD], &lrs(&[1e-4]));
        assert_eq!(s.epochs, [1, 3]);
        assert!(table1_markdown(&s).contains("epochs 1, 3 (mixed)"));
    }
}
