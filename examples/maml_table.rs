//! Table 3 of the paper: `MnistConv` with each activation meta-trained by MAML on 5-way
//! 1-shot and 5-way 5-shot MNIST tasks.
//!
//! ```text
//! cargo run --release --example maml_table -- [options]
//!   --activations a,b,...   base activations (default: all 19)
//!   --elsa off|on|both      the activations alone (Table 3), wrapped in ELSA, or both
//!                           (default: off)
//!   --ways N                classes per task: 2 or 5 (default: 5)
//!   --shots 1,5             shot settings, the table's columns (default: 1,5)
//!   --iterations N          meta-steps (default: 100; quick run: 10)
//!   --tasks-per-step N      tasks per meta-step (default: 32; quick run: 8)
//!   --inner-steps N         SGD steps of the inner loop (default: 5)
//!   --inner-lr X            inner learning rate (default: 0.005)
//!   --outer-lr X            Adam's learning rate (default: 0.005)
//!   --order first|second    MAML's order (default: second)
//!   --seeds N               seeds 0..N (default: 5; quick run: 1)
//!   --pool-size N           training tasks drawn once per run (default: 1000)
//!   --test-tasks N          new test tasks per run (default: 1000; quick run: 100)
//!   --mnist-dir DIR         the full MNIST (default: the subset shipped with the crate)
//!   --jobs N                runs in parallel, one thread each (default: the number of cores)
//!   --out DIR               outputs (default: results/table3-quick, or results/table3-full
//!                           with --mnist-dir)
//!   --max-runs N            make at most N runs in this call (rerun to resume)
//! ```
//!
//! Each finished run is appended at once to `DIR/results.jsonl`; rerunning the same command
//! skips the runs already there. At the end `DIR` holds `table3.md`, `results.csv` and
//! `summary.json`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use arelu::experiment::grid::ElsaMode;
use arelu::experiment::maml::{
    generate_maml, MamlConfig, MamlGrid, MamlSettings, Order, SUPPORTED_WAYS,
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

/// The most seeds, tasks, steps or images of a setting: far above the paper's protocol, and
/// low enough that nothing sized from it overflows.
const LIMIT: usize = 1_000_000;

#[derive(Parser, Debug)]
#[command(about = "Reproduce the AReLU paper's Table 3: MAML on MNIST")]
struct Args {
    /// Base activations, comma separated (default: all 19).
    #[arg(long, value_delimiter = ',')]
    activations: Option<Vec<BaseActivation>>,
    /// off (Table 3), on (ELSA-wrapped) or both.
    #[arg(long, default_value = "off")]
    elsa: ElsaMode,
    /// Classes per task (2 or 5).
    #[arg(long, default_value_t = 5)]
    ways: usize,
    /// Shot settings, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,5")]
    shots: Vec<usize>,
    /// Meta-steps (default 100; quick run 10).
    #[arg(long)]
    iterations: Option<usize>,
    /// Tasks per meta-step (default 32; quick run 8).
    #[arg(long)]
    tasks_per_step: Option<usize>,
    /// SGD steps of the inner loop.
    #[arg(long, default_value_t = 5)]
    inner_steps: usize,
    /// The inner loop's learning rate.
    #[arg(long, default_value_t = 0.005)]
    inner_lr: f64,
    /// Adam's learning rate on the meta-parameters.
    #[arg(long, default_value_t = 0.005)]
    outer_lr: f64,
    /// first or second.
    #[arg(long, default_value = "second")]
    order: Order,
    /// Seeds per cell (default 5; quick run 1).
    #[arg(long)]
    seeds: Option<u64>,
    /// Training tasks drawn once per run, to sample the meta-steps' tasks from.
    #[arg(long, default_value_t = 1000)]
    pool_size: usize,
    /// New tasks from the test images per run (default 1000; quick run 100).
    #[arg(long)]
    test_tasks: Option<usize>,
    /// Directory holding the full MNIST (gzipped or plain IDX files).
    #[arg(long)]
    mnist_dir: Option<PathBuf>,
    /// Runs in parallel (each on one thread).
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
    // Without --mnist-dir: a quick configuration on the shipped subset (a few activations'
    // worth of compute on two cores in under two minutes), first order.
    let quick = args.mnist_dir.is_none();
    let mut activations = args.activations.unwrap_or_else(|| {
        if quick {
            ["relu", "pau", "arelu"]
                .iter()
                .filter_map(|s| s.parse().ok())
                .collect()
        } else {
            BaseActivation::iter().collect()
        }
    });
    dedup(&mut activations);
    let mut shots = args.shots;
    dedup(&mut shots);
    let seeds = args.seeds.unwrap_or(if quick { 1 } else { 5 });
    let config = MamlConfig {
        ways: args.ways,
        shots: shots.first().copied().unwrap_or(0),
        iterations: args.iterations.unwrap_or(if quick { 10 } else { 100 }),
        tasks_per_step: args.tasks_per_step.unwrap_or(if quick { 8 } else { 32 }),
        inner_steps: args.inner_steps,
        inner_lr: args.inner_lr,
        outer_lr: args.outer_lr,
        order: args.order,
        pool_size: args.pool_size,
        test_tasks: args.test_tasks.unwrap_or(if quick { 100 } else { 1000 }),
    };
    validate(&config, &activations, &shots, seeds)?;
    let out = args.out.unwrap_or_else(|| {
        PathBuf::from(if quick {
            "results/table3-quick"
        } else {
            "results/table3-full"
        })
    });
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if !(1..=1024).contains(&jobs) {
        return Err("--jobs must be between 1 and 1024".into());
    }

    let (mnist, data) = match &args.mnist_dir {
        Some(dir) => (Mnist::load_dir(dir)?, "full MNIST".to_string()),
        None => (Mnist::load_shipped()?, "shipped subset".to_string()),
    };
    let settings = MamlSettings::new(&config, data, &mnist.train, &mnist.test);
    let grid = MamlGrid {
        activations,
        elsa: args.elsa,
        shots,
        seeds,
    };
    let total = grid.runs().len();
    eprintln!(
        "{total} runs in the grid ({}-way, {} order, {} meta-steps of {} tasks); {} train / {} \
         test images; {jobs} jobs; results in {}",
        config.ways,
        config.order.as_str(),
        config.iterations,
        config.tasks_per_step,
        settings.train_images,
        settings.test_images,
        out.join("results.jsonl").display(),
    );
    let bar = ProgressBar::new(total as u64);
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} runs, {elapsed} elapsed, ETA {eta} {msg}",
    )?);
    let start = Instant::now();
    let generated = generate_maml(
        &grid,
        (&mnist.train, &mnist.test),
        &settings,
        &out,
        jobs,
        args.max_runs,
        |record| {
            bar.set_message(format!(
                "(last: {} {}-shot seed {}: test {:.2}%, {:.0} s)",
                record.activation,
                record.shots,
                record.seed,
                record.test_accuracy,
                record.train_seconds + record.test_seconds,
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
    for path in &generated.files {
        eprintln!("wrote {}", path.display());
    }
    if let Some(table) = generated.files.first() {
        if let Ok(text) = std::fs::read_to_string(table) {
            println!("{text}");
        }
    }
    Ok(())
}

fn dedup<T: PartialEq + Clone>(items: &mut Vec<T>) {
    let mut seen = Vec::with_capacity(items.len());
    items.retain(|item| {
        if seen.contains(item) {
            false
        } else {
            seen.push(item.clone());
            true
        }
    });
}

fn validate(
    config: &MamlConfig,
    activations: &[BaseActivation],
    shots: &[usize],
    seeds: u64,
) -> Result<(), String> {
    if activations.is_empty() || shots.is_empty() {
        return Err("--activations and --shots must not be empty".into());
    }
    if !SUPPORTED_WAYS.contains(&config.ways) {
        return Err(format!("--ways must be one of {SUPPORTED_WAYS:?}"));
    }
    let in_range = |name: &str, v: usize| {
        if (1..=LIMIT).contains(&v) {
            Ok(())
        } else {
            Err(format!("{name} must be between 1 and {LIMIT}, got {v}"))
        }
    };
    for &k in shots {
        in_range("--shots", k)?;
    }
    in_range("--iterations", config.iterations)?;
    in_range("--tasks-per-step", config.tasks_per_step)?;
    in_range("--inner-steps", config.inner_steps)?;
    in_range("--pool-size", config.pool_size)?;
    in_range("--test-tasks", config.test_tasks)?;
    in_range("--seeds", usize::try_from(seeds).unwrap_or(usize::MAX))?;
    for &k in shots {
        let mut c = *config;
        c.shots = k;
        c.validate().map_err(|e| e.to_string())?;
    }
    Ok(())
}
