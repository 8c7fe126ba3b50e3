//! The table generator: regenerates the paper's Table 1 (every activation alone) and Table 4
//! (every activation wrapped in ELSA) on MNIST.
//!
//! ```text
//! cargo run --release --example elsa_table -- [options]
//!   --activations a,b,...   base activations (default: all 19)
//!   --elsa off|on|both      Table 1, Table 4, or both (default: both)
//!   --optimizers sgd,adam   (default: both)
//!   --lrs 1e-2,1e-3,...     (default: 1e-2,1e-3,1e-4,1e-5; quick run: 1e-3,1e-4)
//!   --seeds N               seeds 0..N (default: 5; quick run: 2)
//!   --epochs N              epochs per run (default: 1)
//!   --mnist-dir DIR         the full MNIST (default: the subset shipped with the crate)
//!   --train-limit N         use the first N training images
//!   --jobs N                runs in parallel (default: the number of cores)
//!   --out DIR               outputs (default: results/quick, or results/full with --mnist-dir)
//! ```
//!
//! Each finished run is appended at once to `DIR/results.jsonl`; rerunning the same command
//! skips the runs already there. At the end `DIR` holds `table1.md`, `table4.md`,
//! `results.csv` and `summary.json`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use arelu::experiment::batches::Images;
use arelu::experiment::generate::generate;
use arelu::experiment::grid::{ElsaMode, Grid};
use arelu::experiment::record::{Settings, FORMAT};
use arelu::experiment::train::BATCH_SIZE;
use arelu::experiment::Optimizer;
use arelu::mnist::Mnist;
use arelu::BaseActivation;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use strum::IntoEnumIterator;

#[derive(Parser, Debug)]
#[command(about = "Reproduce the AReLU paper's MNIST Tables 1 and 4")]
struct Args {
    /// Base activations, comma separated (default: all 19).
    #[arg(long, value_delimiter = ',')]
    activations: Option<Vec<BaseActivation>>,
    /// off (Table 1), on (Table 4) or both.
    #[arg(long, default_value = "both")]
    elsa: ElsaMode,
    /// Optimisers, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "sgd,adam")]
    optimizers: Vec<Optimizer>,
    /// Learning rates, comma separated (default 1e-2,1e-3,1e-4,1e-5; quick run 1e-3,1e-4).
    #[arg(long, value_delimiter = ',')]
    lrs: Option<Vec<f64>>,
    /// Seeds per cell (default 5; quick run 2).
    #[arg(long)]
    seeds: Option<u64>,
    /// Epochs per run.
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Directory holding the full MNIST (gzipped or plain IDX files).
    #[arg(long)]
    mnist_dir: Option<PathBuf>,
    /// Use only the first N training images.
    #[arg(long)]
    train_limit: Option<usize>,
    /// Runs in parallel (each on one core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Output directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Make at most N runs in this call (rerun to resume).
    #[arg(long)]
    max_runs: Option<usize>,
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
    // Without --mnist-dir: a quick grid on the shipped subset that takes minutes, at the
    // learning rates where the paper's effect shows.
    let quick = args.mnist_dir.is_none();
    let grid = Grid {
        activations: args
            .activations
            .unwrap_or_else(|| BaseActivation::iter().collect()),
        elsa: args.elsa,
        optimizers: args.optimizers,
        lrs: args.lrs.unwrap_or_else(|| {
            if quick {
                vec![1e-3, 1e-4]
            } else {
                vec![1e-2, 1e-3, 1e-4, 1e-5]
            }
        }),
        seeds: args.seeds.unwrap_or(if quick { 2 } else { 5 }),
        epochs: args.epochs,
    };
    validate(&grid)?;
    let out = args.out.unwrap_or_else(|| {
        PathBuf::from(if quick {
            "results/quick"
        } else {
            "results/full"
        })
    });
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if jobs == 0 {
        return Err("--jobs must be at least 1".into());
    }

    let (mut mnist, data) = match &args.mnist_dir {
        Some(dir) => (Mnist::load_dir(dir)?, dir.display().to_string()),
        None => (Mnist::load_shipped()?, "shipped subset".to_string()),
    };
    if let Some(n) = args.train_limit {
        if n == 0 {
            return Err("--train-limit must be at least 1".into());
        }
        mnist.train.truncate(n);
    }
    let settings = Settings {
        format: FORMAT,
        data,
        train_images: mnist.train.len(),
        test_images: mnist.test.len(),
        epochs: grid.epochs,
        batch_size: BATCH_SIZE,
    };
    let (train, test) = (Images::new(&mnist.train), Images::new(&mnist.test));
    eprintln!(
        "{} runs in the grid; {} train / {} test images; {jobs} jobs; results in {}",
        grid.specs().len(),
        settings.train_images,
        settings.test_images,
        out.join("results.jsonl").display(),
    );
    let bar = ProgressBar::new(0);
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} runs, {elapsed} elapsed, ETA {eta} {msg}",
    )?);
    let start = Instant::now();
    let generated = generate(
        &grid,
        (&train, &test),
        &settings,
        &out,
        jobs,
        args.max_runs,
        |record| {
            bar.set_message(format!(
                "(last: {}{} {} lr {} seed {}: {:.2}%)",
                if record.elsa { "elsa-" } else { "" },
                record.activation,
                record.optimizer.as_str(),
                record.lr,
                record.seed,
                record.test_accuracy
            ));
            bar.inc(1);
        },
    );
    bar.finish_and_clear();
    let generated = generated?;
    eprintln!(
        "{} runs made in {:.1} s, {} were already done, {} of {} still to do",
        generated.ran,
        start.elapsed().as_secs_f64(),
        generated.skipped,
        generated.total - generated.skipped - generated.ran,
        generated.total
    );
    if generated.skipped + generated.ran < generated.total {
        eprintln!(
            "the grid is not complete: the tables cover the runs done so far; \
             rerun the same command to resume"
        );
    }
    for path in generated.files {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn validate(grid: &Grid) -> Result<(), String> {
    if grid.activations.is_empty() || grid.optimizers.is_empty() || grid.lrs.is_empty() {
        return Err("--activations, --optimizers and --lrs must not be empty".into());
    }
    if grid.seeds == 0 || grid.epochs == 0 {
        return Err("--seeds and --epochs must be at least 1".into());
    }
    if let Some(lr) = grid.lrs.iter().find(|lr| !(lr.is_finite() && **lr > 0.0)) {
        return Err(format!(
            "learning rates must be positive and finite, got {lr}"
        ));
    }
    Ok(())
}
