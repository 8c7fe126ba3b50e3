//! Table 2 of the paper: transfer learning from MNIST to SVHN (where a user has SVHN) or to
//! the stand-in target domain `mnist-colour` (MNIST recoloured; **not** SVHN).
//!
//! ```text
//! cargo run --release --example transfer_table -- [options]
//!   --target mnist-colour|svhn:DIR  the target domain (default: mnist-colour); DIR holds
//!                           train_32x32.mat and test_32x32.mat
//!   --target-seed N         the stand-in's colour seed (default: 0)
//!   --activations a,b,...   base activations (default: all 19)
//!   --elsa off|on|both      (default: off)
//!   --pretrain-epochs N     (default: 20; quick run: 3)
//!   --pretrain-lr LR        (default: 1e-2)
//!   --finetune-lr LR        (default: 1e-5)
//!   --finetune-epochs a,b   the fine-tuning columns (default: 5,10,20)
//!   --scratch-epochs N      epochs of the "no pretrain" column (default: 20)
//!   --scratch-lr LR         its learning rate (default: 1e-2)
//!   --seeds N               seeds 0..N (default: 1)
//!   --mnist-dir DIR         the full MNIST (default: the subset shipped with the crate)
//!   --pretrain-limit N      pretrain on MNIST training images 0..N only
//!   --target-train-limit N  use N target training images
//!   --target-test-limit N   use N target test images
//!   --jobs N                runs in parallel (default: the number of cores)
//!   --out DIR               outputs (default: results/transfer-quick, or
//!                           results/table2-<target> with --mnist-dir)
//!   --max-runs N            make at most N runs in this call (rerun to resume)
//! ```
//!
//! One run is one activation variant and seed: pretraining on MNIST (three grey channels),
//! the pretrained model tested on the target, one fine-tuning of it tested after every epoch
//! (its epochs 5, 10 and 20 give the three fine-tuning columns), and training on the target
//! alone from the same initial weights. Each pretrained model is saved in `DIR/models/` and
//! reused when a run is redone. Each finished run is appended at once to
//! `DIR/results.jsonl`; rerunning the same command skips the runs already there. At the end
//! `DIR` holds `table2.md`, `results.csv` and `summary.json`.
//!
//! With `mnist-colour`, MNIST's training split is cut in two: the last sixth (10,000 of
//! 60,000 images; `--target-train-limit` fewer) becomes the target's training images,
//! recoloured, and pretraining uses images before it; the target's test images are MNIST's
//! test images, recoloured.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use arelu::experiment::grid::ElsaMode;
use arelu::experiment::train::BATCH_SIZE;
use arelu::experiment::transfer::{
    generate, transfer_specs, ColourImages, Protocol, SplitTag, TransferData, TransferSettings,
    TRANSFER_FORMAT,
};
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

/// The target domain.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    /// The stand-in: MNIST recoloured.
    MnistColour,
    /// SVHN's cropped digits in this directory.
    Svhn(PathBuf),
}

impl std::str::FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            _ if s == "mnist-colour" => Ok(Target::MnistColour),
            Some(("svhn", dir)) if !dir.is_empty() => Ok(Target::Svhn(PathBuf::from(dir))),
            _ => Err(format!(
                "unknown target `{s}` (valid: mnist-colour, svhn:DIR)"
            )),
        }
    }
}

#[derive(Parser, Debug)]
#[command(about = "Reproduce the AReLU paper's Table 2 (transfer learning)")]
struct Args {
    /// mnist-colour (the stand-in, MNIST recoloured) or svhn:DIR.
    #[arg(long, default_value = "mnist-colour")]
    target: Target,
    /// The stand-in's colour seed.
    #[arg(long, default_value_t = 0)]
    target_seed: u64,
    /// Base activations, comma separated (default: all 19).
    #[arg(long, value_delimiter = ',')]
    activations: Option<Vec<BaseActivation>>,
    /// off, on or both.
    #[arg(long, default_value = "off")]
    elsa: ElsaMode,
    /// Pretraining epochs (default 20; quick run 3).
    #[arg(long)]
    pretrain_epochs: Option<usize>,
    /// Pretraining learning rate (SGD, momentum 0.9).
    #[arg(long, default_value_t = 1e-2)]
    pretrain_lr: f64,
    /// Fine-tuning learning rate (SGD, momentum 0.9).
    #[arg(long, default_value_t = 1e-5)]
    finetune_lr: f64,
    /// Fine-tuning epochs of the table's columns, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "5,10,20")]
    finetune_epochs: Vec<usize>,
    /// Epochs of the "no pretrain" column (training on the target alone).
    #[arg(long, default_value_t = 20)]
    scratch_epochs: usize,
    /// Learning rate of the "no pretrain" column.
    #[arg(long, default_value_t = 1e-2)]
    scratch_lr: f64,
    /// Seeds 0..N.
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    /// Directory holding the full MNIST (gzipped or plain IDX files).
    #[arg(long)]
    mnist_dir: Option<PathBuf>,
    /// Pretrain on MNIST training images 0..N only.
    #[arg(long)]
    pretrain_limit: Option<usize>,
    /// Use N target training images.
    #[arg(long)]
    target_train_limit: Option<usize>,
    /// Use N target test images.
    #[arg(long)]
    target_test_limit: Option<usize>,
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

/// The longest run any option may ask for; far above the paper's 20 epochs, and low enough
/// that no count derived from it overflows.
const MAX_EPOCHS: usize = 10_000;

fn check_lr(name: &str, lr: f64) -> Result<(), String> {
    if lr.is_finite() && lr > 0.0 {
        Ok(())
    } else {
        Err(format!("--{name} must be positive and finite, got {lr}"))
    }
}

fn check_epochs(name: &str, n: usize, least: usize) -> Result<(), String> {
    if (least..=MAX_EPOCHS).contains(&n) {
        Ok(())
    } else {
        Err(format!(
            "--{name} must be in {least}..={MAX_EPOCHS}, got {n}"
        ))
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let quick = args.mnist_dir.is_none();
    let mut finetune = args.finetune_epochs.clone();
    finetune.sort_unstable();
    finetune.dedup();
    let protocol = Protocol {
        pretrain_epochs: args.pretrain_epochs.unwrap_or(if quick { 3 } else { 20 }),
        pretrain_lr: args.pretrain_lr,
        finetune_epochs: finetune.last().copied().unwrap_or(0),
        finetune_lr: args.finetune_lr,
        scratch_epochs: args.scratch_epochs,
        scratch_lr: args.scratch_lr,
    };
    check_lr("pretrain-lr", protocol.pretrain_lr)?;
    check_lr("finetune-lr", protocol.finetune_lr)?;
    check_lr("scratch-lr", protocol.scratch_lr)?;
    check_epochs("pretrain-epochs", protocol.pretrain_epochs, 1)?;
    check_epochs("scratch-epochs", protocol.scratch_epochs, 1)?;
    if finetune.first().is_some_and(|&n| n == 0) || finetune.is_empty() {
        return Err("--finetune-epochs must list epochs of at least 1".into());
    }
    check_epochs("finetune-epochs", protocol.finetune_epochs, 1)?;
    if args.seeds == 0 || args.seeds > 1_000 {
        return Err(format!("--seeds must be in 1..=1000, got {}", args.seeds).into());
    }
    let mut activations = args
        .activations
        .unwrap_or_else(|| BaseActivation::iter().collect());
    activations.dedup_by_key(|a| *a as usize);
    {
        let mut seen = std::collections::HashSet::new();
        activations.retain(|a| seen.insert(*a as usize));
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if jobs == 0 {
        return Err("--jobs must be at least 1".into());
    }
    let specs = transfer_specs(&activations, args.elsa, args.seeds);
    if specs.is_empty() {
        return Err("no runs: `arelu` has no ELSA variant (it already is ELSA around ReLU)".into());
    }

    let (mnist, source) = match &args.mnist_dir {
        Some(dir) => (Mnist::load_dir(dir)?, dir.display().to_string()),
        None => (Mnist::load_shipped()?, "shipped subset".to_string()),
    };
    let n = mnist.train.len();
    let (target_name, mut target_train, mut target_test, pretrain_end) = match &args.target {
        Target::MnistColour => {
            let count = args.target_train_limit.unwrap_or(n / 6).min(n / 2);
            let train = ColourImages::mnist_colour_range(
                &mnist.train,
                n - count..n,
                SplitTag::Train,
                args.target_seed,
            );
            let test = ColourImages::mnist_colour(&mnist.test, SplitTag::Test, args.target_seed);
            (
                format!(
                    "mnist-colour (MNIST recoloured, not SVHN), colour seed {}",
                    args.target_seed
                ),
                train,
                test,
                n - count,
            )
        }
        Target::Svhn(dir) => {
            let svhn = arelu::svhn::Svhn::load_dir(dir)?;
            (
                format!("SVHN ({})", dir.display()),
                svhn.train,
                svhn.test,
                n,
            )
        }
    };
    if let Some(limit) = args.target_train_limit {
        target_train.truncate(limit);
    }
    if let Some(limit) = args.target_test_limit {
        target_test.truncate(limit);
    }
    let pretrain_count = args.pretrain_limit.unwrap_or(pretrain_end);
    if pretrain_count == 0 || pretrain_count > pretrain_end {
        return Err(format!(
            "--pretrain-limit must be in 1..={pretrain_end} (the MNIST training images not \
             used by the target), got {pretrain_count}"
        )
        .into());
    }
    if target_train.is_empty() || target_test.is_empty() {
        return Err("the target's training and test sets must not be empty".into());
    }
    let source_train = ColourImages::grey(&mnist.train.clone().take(pretrain_count));
    let source_test = ColourImages::grey(&mnist.test);

    let settings = TransferSettings {
        format: TRANSFER_FORMAT,
        target: target_name.clone(),
        source,
        pretrain_images: source_train.len(),
        source_test_images: source_test.len(),
        target_train_images: target_train.len(),
        target_test_images: target_test.len(),
        pretrain_epochs: protocol.pretrain_epochs,
        pretrain_lr: protocol.pretrain_lr,
        finetune_epochs: protocol.finetune_epochs,
        finetune_lr: protocol.finetune_lr,
        scratch_epochs: protocol.scratch_epochs,
        scratch_lr: protocol.scratch_lr,
        batch_size: BATCH_SIZE,
    };
    let out = args.out.unwrap_or_else(|| {
        PathBuf::from(match (&args.target, quick) {
            (_, true) => "results/transfer-quick",
            (Target::MnistColour, false) => "results/table2-mnist-colour",
            (Target::Svhn(_), false) => "results/table2-svhn",
        })
    });
    eprintln!(
        "{} runs; pretraining on {} MNIST images, target {}: {} train / {} test images; \
         {jobs} jobs; results in {}",
        specs.len(),
        settings.pretrain_images,
        target_name,
        settings.target_train_images,
        settings.target_test_images,
        out.display(),
    );
    let bar = ProgressBar::new(0);
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos} runs, {elapsed} elapsed {msg}",
    )?);
    let start = Instant::now();
    let data = TransferData {
        source_train: &source_train,
        source_test: &source_test,
        target_train: &target_train,
        target_test: &target_test,
    };
    let generated = generate(
        &specs,
        &protocol,
        data,
        &settings,
        &out,
        (jobs, args.max_runs),
        (&finetune, &target_name),
        |record| {
            bar.set_message(format!(
                "(last: {} seed {}: no pretrain {:.2}%, no finetune {:.2}%, finetuned {:.2}%)",
                record.variant(),
                record.seed,
                record.scratch_accuracy,
                record.no_finetune_accuracy,
                record
                    .finetune_accuracy_per_epoch
                    .last()
                    .copied()
                    .unwrap_or(f64::NAN),
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
    if generated.records.len() < generated.total {
        eprintln!("the table covers the runs done so far; rerun the same command to resume");
    }
    for path in &generated.files {
        eprintln!("wrote {}", path.display());
    }
    let table = std::fs::read_to_string(out.join("table2.md"))?;
    println!("{table}");
    Ok(())
}
