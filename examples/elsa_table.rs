//! The table generator: regenerates the paper's Table 1 (every activation alone) and Table 4
//! (every activation wrapped in ELSA) on MNIST.
//!
//! ```text
//! cargo run --release --example elsa_table -- [options]
//!   --activations a,b,...   base activations, without `elsa-` (default: all 19)
//!   --elsa off|on|both      Table 1, Table 4, or both (default: both)
//!   --optimizers sgd,adam   (default: both)
//!   --lrs 1e-2,1e-3,...     each in (0, 100] (default: 1e-2,1e-3,1e-4,1e-5; quick: 1e-3,1e-4)
//!   --seeds N               seeds 0..N, N in 1..=1000 (default: 5; quick run: 2)
//!   --epochs N              epochs per run, 1..=1000 (default: 1)
//!   --mnist-dir DIR         the full MNIST (default: the subset shipped with the crate)
//!   --train-limit N         use the first N training images, N >= 1
//!   --jobs N                runs in parallel, 1..=1024 (default: the number of cores)
//!   --out DIR               outputs (default: results/quick, or results/full with --mnist-dir)
//!   --max-runs N            make at most N runs now, N >= 1 (rerun to resume)
//!   --shard K/N             make only shard K of N (1 <= K <= N) into DIR/shard-K-of-N/
//!   --merge DIR...          make no runs: merge the shards' results files found in the
//!                           DIRs (each holding results.jsonl or shard-K-of-N/ directories),
//!                           check that every run of the grid is there once, write the tables
//! ```
//!
//! A grid split across machines: run the same command with `--shard 1/N` ... `--shard N/N`
//! (on any machines, in any order, each resumable), gather the `shard-K-of-N` directories and
//! run the same command with `--merge DIR...` instead of `--shard`. The tables are
//! byte-for-byte those of the grid run on one machine.
//!
//! Repeated list entries count once; a grid of more than 1,000,000 runs is refused. Every
//! setting is checked before anything is written. Each finished run is appended at once to
//! `DIR/results.jsonl`; rerunning the same command skips the runs already there. At the end
//! `DIR` holds `table1.md`, `table4.md`, `results.csv` and `summary.json`, and Table 1 and a
//! line on the paper's claims are printed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use arelu::experiment::batches::Images;
use arelu::experiment::generate::{generate, merge, Generated, Progress, Schedule};
use arelu::experiment::grid::{learning_rate, ElsaMode, Grid, MAX_EPOCHS, MAX_SEEDS};
use arelu::experiment::record::{DataChecksums, Settings, FORMAT};
use arelu::experiment::shard::Shard;
use arelu::experiment::train::BATCH_SIZE;
use arelu::experiment::Optimizer;
use arelu::mnist::Mnist;
use arelu::BaseActivation;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use strum::IntoEnumIterator;

/// glibc's malloc hands the buffers freed after each batch back to the system until its
/// thresholds adapt, and until then every batch pays for page faults anew; mimalloc keeps freed
/// memory for reuse (README, "Speed").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(about = "Reproduce the AReLU paper's MNIST Tables 1 and 4")]
struct Args {
    /// Base activations, comma separated, without `elsa-` (default: all 19); --elsa picks
    /// the ELSA-wrapped variants.
    #[arg(long, value_delimiter = ',', value_parser = parse_base)]
    activations: Option<Vec<BaseActivation>>,
    /// off (Table 1), on (Table 4) or both.
    #[arg(long, default_value = "both")]
    elsa: ElsaMode,
    /// Optimisers, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "sgd,adam")]
    optimizers: Vec<Optimizer>,
    /// Learning rates, comma separated, each in (0, 100] (default 1e-2,1e-3,1e-4,1e-5; quick
    /// run 1e-3,1e-4).
    #[arg(long, value_delimiter = ',')]
    lrs: Option<Vec<f64>>,
    /// Seeds per cell, 1..=1000 (default 5; quick run 2).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_SEEDS))]
    seeds: Option<u64>,
    /// Epochs per run, 1..=1000.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=MAX_EPOCHS as u64))]
    epochs: u64,
    /// Directory holding the full MNIST (gzipped or plain IDX files).
    #[arg(long)]
    mnist_dir: Option<PathBuf>,
    /// Use only the first N training images (N >= 1).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    train_limit: Option<u64>,
    /// Runs in parallel (each on one core), 1..=1024.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    jobs: Option<u64>,
    /// Output directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Make at most N runs in this call, N >= 1 (rerun to resume).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    max_runs: Option<u64>,
    /// Make only shard K of N of the grid (1 <= K <= N), into DIR/shard-K-of-N/; merge the
    /// shards with --merge.
    #[arg(long, conflicts_with = "merge")]
    shard: Option<Shard>,
    /// Make no runs: merge the results files in these directories (each holding a
    /// results.jsonl or shard-K-of-N directories) and write the tables into --out.
    #[arg(long, num_args = 1.., value_name = "DIR")]
    merge: Option<Vec<PathBuf>>,
}

/// A base activation name; an `elsa-` name is refused with what to write instead.
fn parse_base(s: &str) -> Result<BaseActivation, String> {
    if let Some(base) = s.strip_prefix("elsa-") {
        return Err(format!(
            "--activations takes base activations: for `{s}` give `{base}` with --elsa on \
             (or both)"
        ));
    }
    s.parse().map_err(|_| {
        let valid: Vec<&str> = BaseActivation::iter().map(BaseActivation::as_str).collect();
        format!("unknown base activation `{s}`; valid: {}", valid.join(", "))
    })
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
        lrs: args
            .lrs
            .unwrap_or_else(|| {
                if quick {
                    vec![1e-3, 1e-4]
                } else {
                    vec![1e-2, 1e-3, 1e-4, 1e-5]
                }
            })
            .into_iter()
            .map(learning_rate)
            .collect::<Result<_, _>>()?,
        seeds: args.seeds.unwrap_or(if quick { 2 } else { 5 }),
        // At most MAX_EPOCHS (checked by clap), so this fits.
        epochs: usize::try_from(args.epochs)?,
    };
    // Before anything is loaded or written.
    let runs = grid.validate()?;
    let out = args.out.unwrap_or_else(|| {
        PathBuf::from(if quick {
            "results/quick"
        } else {
            "results/full"
        })
    });
    if let Some(dirs) = &args.merge {
        let start = Instant::now();
        let merged = merge(&grid, dirs, &out)?;
        eprintln!(
            "merged {} runs from {} in {:.1} s into {}",
            merged.total,
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            start.elapsed().as_secs_f64(),
            merged.results.display()
        );
        return report(&merged);
    }
    let jobs = match args.jobs {
        Some(n) => usize::try_from(n)?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let max_runs = args.max_runs.map(usize::try_from).transpose()?;

    let mut mnist = match &args.mnist_dir {
        Some(dir) => Mnist::load_dir(dir)?,
        None => Mnist::load_shipped()?,
    };
    if let Some(n) = args.train_limit {
        // Above the images there are, nothing is cut.
        mnist
            .train
            .truncate(usize::try_from(n).unwrap_or(usize::MAX));
    }
    let settings = Settings {
        format: FORMAT,
        data: DataChecksums::of(&mnist.train, &mnist.test),
        train_images: mnist.train.len(),
        test_images: mnist.test.len(),
        epochs: grid.epochs,
        batch_size: BATCH_SIZE,
    };
    let (train, test) = (Images::new(&mnist.train), Images::new(&mnist.test));
    let results_dir = match args.shard {
        Some(shard) => out.join(shard.dir_name()),
        None => out.clone(),
    };
    eprintln!(
        "{runs} runs in the grid{}; {} train / {} test images; {jobs} jobs; results in {}",
        args.shard
            .map_or(String::new(), |s| format!(", shard {s} of it")),
        settings.train_images,
        settings.test_images,
        results_dir.join("results.jsonl").display(),
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
        Schedule {
            jobs,
            max_runs,
            shard: args.shard,
        },
        |progress| match progress {
            Progress::Planned {
                todo, recovered, ..
            } => {
                if let Some(side) = recovered {
                    bar.println(format!(
                        "the results file ended in an incomplete line (an interrupted \
                         write); it was moved to {} and its run is made again",
                        side.display()
                    ));
                }
                bar.set_length(todo as u64);
            }
            Progress::Finished(record) => {
                let result = match record.diverged_at {
                    Some(epoch) => format!("diverged in epoch {epoch}"),
                    None => format!("{:.2}%", record.test_accuracy),
                };
                bar.set_message(format!(
                    "(last: {} {} lr {} seed {}: {result})",
                    record.activation,
                    record.optimizer.as_str(),
                    record.lr,
                    record.seed,
                ));
                bar.inc(1);
            }
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
    if let Some(shard) = args.shard {
        eprintln!(
            "shard {shard} is in {}; when every shard is done, run the same command with \
             --merge DIR... (the directories holding the shard-K-of-N directories) instead of \
             --shard to write the tables",
            generated.results.display()
        );
        return Ok(());
    }
    report(&generated)
}

/// Names the files written, prints Table 1 and the line on the paper's claims.
fn report(generated: &Generated) -> Result<(), Box<dyn std::error::Error>> {
    for path in &generated.files {
        eprintln!("wrote {}", path.display());
    }
    if let Some(table1) = generated.files.iter().find(|p| p.ends_with("table1.md")) {
        println!("\nTable 1 ({}):\n", table1.display());
        print!("{}", std::fs::read_to_string(table1)?);
    }
    if let Some(headline) = &generated.headline {
        println!("\n{headline}");
    }
    Ok(())
}
