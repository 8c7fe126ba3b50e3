//! The paper's MNIST experiments: training runs of `MnistConv<A>` and the tables made from
//! them.

pub mod batches;
pub mod figures;
pub mod generate;
pub mod grid;
mod json_nan;
pub mod lr;
pub mod maml;
pub mod output;
pub mod record;
pub mod shard;
pub mod store;
pub mod table;
pub mod train;
pub mod transfer;

pub use lr::{LearningRate, LearningRateError};
pub use record::RunRecord;
pub use train::{train_run, EpochResult, Optimizer, RunResult, RunSpec};
