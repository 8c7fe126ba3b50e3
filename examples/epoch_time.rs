//! Times one training epoch of `MnistConv<A>` (batch 128, SGD momentum 0.9, lr 0.01) and
//! reports test accuracy, for one or more activations, side by side in one process.
//!
//! ```text
//! cargo run --release --example epoch_time -- [--mnist-dir DIR] [--activations relu,elsa-relu] [--train-limit N]
//! ```
//!
//! Without `--mnist-dir` it uses the 5,000-image subset shipped with the crate. Threads: all
//! cores (rayon's default; set `RAYON_NUM_THREADS` to change).

use std::process::ExitCode;

use arelu::experiment::batches::Images;
use arelu::experiment::{train_run, LearningRate, Optimizer, RunSpec};
use arelu::mnist::Mnist;
use arelu::ActivationName;
use clap::Parser;

/// glibc's malloc hands the buffers freed after each batch back to the system until its
/// thresholds adapt, and until then every batch pays for page faults anew; mimalloc keeps freed
/// memory for reuse (README, "Speed").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Args {
    /// Directory with the four MNIST IDX files (gzipped or not).
    #[arg(long)]
    mnist_dir: Option<std::path::PathBuf>,
    /// Comma-separated activation names.
    #[arg(long, default_value = "relu,elsa-relu,arelu", value_delimiter = ',')]
    activations: Vec<String>,
    /// Use only the first N training images.
    #[arg(long)]
    train_limit: Option<usize>,
    /// sgd or adam.
    #[arg(long, default_value = "sgd")]
    optimizer: String,
    /// Learning rate.
    #[arg(long, default_value_t = 0.01)]
    lr: f64,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut mnist = match &args.mnist_dir {
        Some(dir) => Mnist::load_dir(dir)?,
        None => Mnist::load_shipped()?,
    };
    if let Some(n) = args.train_limit {
        mnist.train.truncate(n);
    }
    let (train, test) = (Images::new(&mnist.train), Images::new(&mnist.test));
    let optimizer: Optimizer = args.optimizer.parse()?;
    println!("activation,train_images,train_seconds,test_accuracy");
    for name in &args.activations {
        let activation: ActivationName = name.parse()?;
        let spec = RunSpec {
            activation,
            optimizer,
            lr: LearningRate::new(args.lr)?,
            seed: 0,
            epochs: 1,
            initial_alpha_beta: None,
        };
        let result = train_run(spec, &train, &test);
        let epoch = &result.epochs[0];
        println!(
            "{activation},{},{:.3},{:.2}",
            train.len(),
            epoch.train_seconds,
            epoch.test_accuracy
        );
    }
    Ok(())
}
