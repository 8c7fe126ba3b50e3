//! Tables 1 and 4 of the paper made from [`RunRecord`](super::record::RunRecord)s, and the
//! files written next to them.
//!
//! - [`Summary`] groups runs by (activation, ELSA, optimiser, learning rate) and keeps, per
//!   group, the mean and the sample standard deviation of the test accuracy over the seeds
//!   ([`Cell`]). Columns are optimiser × learning rate in the order given; rows are the
//!   activations present, in the paper's order
//!   ([`BaseActivation`](crate::BaseActivation)'s order).
//! - [`table1_markdown`]: every activation alone, with the best fixed and the best other
//!   learnable activation of each column marked and, at the bottom, AReLU's improvement over
//!   them.
//! - [`table4_markdown`]: every activation wrapped in ELSA, a cell marked where ELSA beats the
//!   same activation alone.
//! - [`results_csv`]: one line per run; [`summary_json`]: every cell and both comparisons.
//!
//! Learning rates are matched exactly ([`LearningRate`](super::LearningRate)'s equality);
//! the headers show [`LearningRate::label`](super::LearningRate::label) (`1e-2`).

mod csv;
#[cfg(test)]
mod fixtures;
mod json;
mod markdown;
mod summary;

pub use csv::results_csv;
pub use json::summary_json;
pub use markdown::{table1_markdown, table4_markdown, MISSING};
pub use summary::{
    optimizer_label, AreluImprovement, Best, Cell, Column, ElsaComparison, Group, Row, Summary,
};
