//! The paper's Figures 2 and 3 on MNIST, as SVG plots and CSV tables, from the same training
//! runner as the tables (`MnistConv` with batch 128, SGD with momentum 0.9).
//!
//! ```text
//! cargo run --release --example figures -- [options]
//!   --figure 2|3|all        which figure(s) (default: all)
//!   --mnist-dir DIR         the full MNIST (default: the subset shipped with the crate)
//!   --train-limit N         use the first N training images
//!   --epochs N              epochs per run, 1..=1000 (default: 20; quick run: 10)
//!   --seeds N               seeds 0..N per curve, N in 1..=1000 (default: 5; quick run: 1)
//!   --jobs N                runs in parallel, 1..=1024 (default: the number of cores)
//!   --out DIR               outputs (default: results/figures); its results.jsonl keeps
//!                           every finished run, so a rerun resumes
//!   --activations a,b,...   Figure 3's activations (default: all 19, none wrapped in ELSA)
//!   --fig3-lrs 1e-4,1e-5    Figure 3's SGD learning rates, each in (0, 100], one SVG each
//!   --alphas 0.1,0.5,0.9    Figure 2's initial α values
//!   --betas 0.0,1.0,2.0     Figure 2's initial β values (every α x every β)
//!   --fig2-lr 1e-3          Figure 2's SGD learning rate
//! ```
//!
//! Without `--mnist-dir` the runs use the shipped 5,000/1,000-image subset with the quick
//! defaults (10 epochs, 1 seed), which take minutes rather than hours; the paper's protocol is
//! 20 epochs and 5 seeds on the full MNIST (`--mnist-dir DIR`). Every run of both figures
//! goes through one queue on `--jobs` threads; a line per finished run is printed on stderr.
//!
//! Every finished run is appended at once to `DIR/results.jsonl` (the same store as the
//! tables': locked while in use, an interrupted last line set aside); rerunning the same
//! command makes only the runs missing and redraws the figures. The directory is opened, and
//! refused if another process uses it or its runs were made with other settings, before any
//! training.
//!
//! Files written to the output directory:
//!
//! * `figure3_sgd_<lr>.svg` (e.g. `figure3_sgd_1e-4.svg`): Figure 3, the mean test accuracy
//!   (%) after each epoch of every activation trained with SGD at that learning rate, one line
//!   per activation (learnable ones dashed, AReLU thick black).
//! * `figure3.csv`: `activation,lr,epoch,mean_accuracy,std,n`, the numbers behind those lines
//!   (std: sample standard deviation over the `n` seeds).
//! * `figure2_accuracy.svg`: Figure 2 (a), the mean test accuracy after each epoch of AReLU
//!   for every initial `(α, β)`.
//! * `figure2_trajectories.svg`: Figure 2 (b), `α` (top row) and `β` (bottom row) of each of
//!   the three AReLU layers after each epoch (epoch 0: the initial value), one line per initial
//!   `(α, β)`. These are the raw parameters; AReLU uses `α` clamped to `[0.01, 0.99]`.
//! * `figure2_curves.svg`: Figure 2 (c), the learned AReLU of each layer over `x ∈ [-3, 3]`
//!   after the last epoch for the default initialisation `(0.9, 2.0)` (or the first one of the
//!   grid when it is not in it), with the initial curve dashed; with several seeds the curve
//!   uses the mean learned `(α, β)` and a shaded band spans the seeds' curves.
//! * `figure2.csv`: `init_alpha,init_beta,epoch,mean_accuracy,std,n,alpha1,beta1,alpha2,beta2,
//!   alpha3,beta3`, means over the seeds; epoch 0 holds the initial values and no accuracy.
//!
//! Bad arguments print one line `error: ...` on stderr and exit with status 2 (`--help`
//! prints the usage); a failure to load the data or write a file exits with status 1.

use std::collections::HashMap;
use std::error::Error;
use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use arelu::elsa::{DEFAULT_ALPHA, DEFAULT_BETA};
use arelu::experiment::batches::Images;
use arelu::experiment::figures::{
    accuracy_per_epoch, param_per_epoch, EpochPoint, FigureRecord, FigureStore,
};
use arelu::experiment::grid::{learning_rate, run_grid, MAX_EPOCHS, MAX_SEEDS};
use arelu::experiment::record::{DataChecksums, Settings, FORMAT};
use arelu::experiment::store::StoreRecord;
use arelu::experiment::train::BATCH_SIZE;
use arelu::experiment::{LearningRate, Optimizer, RunResult, RunSpec};
use arelu::mnist::Mnist;
use arelu::{Activation, ActivationName, Arelu, BaseActivation};
use clap::error::ErrorKind;
use clap::{Parser, ValueEnum};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use strum::IntoEnumIterator;

/// Reproduce the AReLU paper's Figures 2 and 3 (MNIST) as SVG plots and CSV tables.
#[derive(Debug, Parser)]
struct Args {
    /// Which figure(s) to make.
    #[arg(long, value_enum, default_value_t = Which::All)]
    figure: Which,
    /// Directory holding the full MNIST (gzipped or plain IDX files).
    #[arg(long)]
    mnist_dir: Option<PathBuf>,
    /// Use only the first N training images.
    #[arg(long)]
    train_limit: Option<usize>,
    /// Epochs per run (default 20; quick run 10).
    #[arg(long)]
    epochs: Option<usize>,
    /// Seeds per curve (default 5; quick run 1).
    #[arg(long)]
    seeds: Option<u64>,
    /// Runs in parallel, each on one core (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Output directory.
    #[arg(long, default_value = "results/figures")]
    out: PathBuf,
    /// Figure 3's base activations, comma separated (default: all 19).
    #[arg(long, value_delimiter = ',')]
    activations: Option<Vec<BaseActivation>>,
    /// Figure 3's SGD learning rates, comma separated (one SVG each).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1e-4,1e-5",
        allow_hyphen_values = true
    )]
    fig3_lrs: Vec<f64>,
    /// Figure 2's initial α values, comma separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.1,0.5,0.9",
        allow_hyphen_values = true
    )]
    alphas: Vec<f64>,
    /// Figure 2's initial β values, comma separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.0,1.0,2.0",
        allow_hyphen_values = true
    )]
    betas: Vec<f64>,
    /// Figure 2's SGD learning rate.
    #[arg(long, default_value_t = 1e-3, allow_hyphen_values = true)]
    fig2_lr: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    #[value(name = "2")]
    Two,
    #[value(name = "3")]
    Three,
    All,
}

/// Everything the runs are made from, checked.
#[derive(Debug)]
struct Plan {
    fig2: bool,
    fig3: bool,
    epochs: usize,
    seeds: u64,
    jobs: usize,
    activations: Vec<BaseActivation>,
    fig3_lrs: Vec<LearningRate>,
    inits: Vec<(f64, f64)>,
    fig2_lr: LearningRate,
}

type BoxError = Box<dyn Error>;

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => return clap_error(e),
    };
    let plan = match plan(&args) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args, &plan) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--help` and `--version` print as usual; any other command-line error becomes one line on
/// stderr with status 2.
fn clap_error(e: clap::Error) -> ExitCode {
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        e.exit();
    }
    let text = e.render().to_string();
    let lines: Vec<&str> = (text.lines().map(str::trim))
        .filter(|l| {
            !(l.is_empty()
                || l.starts_with("For more information")
                || l.starts_with("Usage:")
                || l.starts_with("tip:"))
        })
        .collect();
    eprintln!("{}", lines.join(" "));
    ExitCode::from(2)
}

/// The checked plan of `args`, with the quick defaults when no `--mnist-dir` is given.
fn plan(args: &Args) -> Result<Plan, String> {
    let quick = args.mnist_dir.is_none();
    let epochs = args.epochs.unwrap_or(if quick { 10 } else { 20 });
    let seeds = args.seeds.unwrap_or(if quick { 1 } else { 5 });
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if epochs == 0 || seeds == 0 || jobs == 0 || args.train_limit == Some(0) {
        return Err("--epochs, --seeds, --jobs and --train-limit must be at least 1".into());
    }
    if epochs > MAX_EPOCHS || seeds > MAX_SEEDS || jobs > 1024 {
        return Err(format!(
            "--epochs must be at most {MAX_EPOCHS}, --seeds at most {MAX_SEEDS} and --jobs at \
             most 1024"
        ));
    }
    let activations =
        dedup((args.activations.clone()).unwrap_or_else(|| BaseActivation::iter().collect()));
    let (fig3_lrs, alphas, betas) = (
        dedup(args.fig3_lrs.clone()),
        dedup(args.alphas.clone()),
        dedup(args.betas.clone()),
    );
    if activations.is_empty() || [&fig3_lrs, &alphas, &betas].iter().any(|v| v.is_empty()) {
        return Err("--activations, --fig3-lrs, --alphas and --betas must not be empty".into());
    }
    let lr = |value: f64| learning_rate(value).map_err(|e| e.to_string());
    let fig3_lrs = fig3_lrs
        .into_iter()
        .map(lr)
        .collect::<Result<Vec<_>, _>>()?;
    let fig2_lr = lr(args.fig2_lr)?;
    if let Some(v) = alphas.iter().chain(&betas).find(|v| !v.is_finite()) {
        return Err(format!("--alphas and --betas must be finite, got {v}"));
    }
    let inits = (alphas.iter())
        .flat_map(|&a| betas.iter().map(move |&b| (a, b)))
        .collect();
    Ok(Plan {
        fig2: args.figure != Which::Three,
        fig3: args.figure != Which::Two,
        epochs,
        seeds,
        jobs,
        activations,
        fig3_lrs,
        inits,
        fig2_lr,
    })
}

/// `values` without repeats, in first-seen order.
fn dedup<T: PartialEq>(values: Vec<T>) -> Vec<T> {
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

impl Plan {
    /// Every run, seed-major. Figure 2's runs are AReLU with an explicit initial `(α, β)`;
    /// Figure 3's runs have none, which is how their results are told apart.
    fn specs(&self) -> Vec<RunSpec> {
        let spec = |activation, lr, seed, init| RunSpec {
            activation,
            optimizer: Optimizer::Sgd,
            lr,
            seed,
            epochs: self.epochs,
            initial_alpha_beta: init,
        };
        let arelu = plain(BaseActivation::Arelu);
        let mut specs = Vec::new();
        for seed in 0..self.seeds {
            if self.fig2 {
                for &init in &self.inits {
                    specs.push(spec(arelu, self.fig2_lr, seed, Some(init)));
                }
            }
            if self.fig3 {
                for &lr in &self.fig3_lrs {
                    for &base in &self.activations {
                        specs.push(spec(plain(base), lr, seed, None));
                    }
                }
            }
        }
        specs
    }
}

/// The activation alone, not wrapped in ELSA.
fn plain(base: BaseActivation) -> ActivationName {
    // Only `elsa-arelu` is refused, and this is never ELSA.
    ActivationName::new(base, false).unwrap_or_else(|_| unreachable!())
}

fn run(args: &Args, plan: &Plan) -> Result<(), BoxError> {
    let (mut mnist, data) = match &args.mnist_dir {
        Some(dir) => (Mnist::load_dir(dir)?, dir.display().to_string()),
        None => (Mnist::load_shipped()?, "the shipped subset".to_string()),
    };
    if let Some(n) = args.train_limit {
        mnist.train.truncate(n);
    }
    let settings = Settings {
        format: FORMAT,
        data: DataChecksums::of(&mnist.train, &mnist.test),
        train_images: mnist.train.len(),
        test_images: mnist.test.len(),
        epochs: plan.epochs,
        batch_size: BATCH_SIZE,
    };
    // Before any training: the output directory is usable, no other process writes it, and
    // the runs it holds were made with these settings.
    let mut store = FigureStore::open(&args.out, &settings)?;
    if let Some(side) = store.recovered() {
        eprintln!(
            "the results file ended in an incomplete line (an interrupted write); it was moved \
             to {} and its run is made again",
            side.display()
        );
    }
    let (train, test) = (Images::new(&mnist.train), Images::new(&mnist.test));
    let specs = plan.specs();
    let todo: Vec<RunSpec> = (specs.iter())
        .filter(|s| !store.contains(&FigureRecord::key_of(s)))
        .copied()
        .collect();
    eprintln!(
        "{} runs of {} epochs on {data} ({} train / {} test images), {} already done, {} jobs; \
         results in {}",
        specs.len(),
        plan.epochs,
        train.len(),
        test.len(),
        specs.len() - todo.len(),
        plan.jobs,
        store.path().display()
    );

    let start = Instant::now();
    let mut done = specs.len() - todo.len();
    run_grid(&todo, &train, &test, plan.jobs, |result| {
        done += 1;
        eprintln!(
            "[{done}/{}] {}: {:.2}% after {} epochs ({:.0} s elapsed)",
            specs.len(),
            describe(&result.spec),
            result.epochs.last().map_or(f64::NAN, |e| e.test_accuracy),
            result.epochs.len(),
            start.elapsed().as_secs_f64()
        );
        store.append(&FigureRecord::from_result(&result))
    })?;
    eprintln!(
        "{} runs finished in {:.1} s",
        todo.len(),
        start.elapsed().as_secs_f64()
    );

    // The plan's runs in its order, whatever order they finished in.
    let stored: HashMap<_, _> = (store.records().iter())
        .map(|r| (r.key(), r.to_result()))
        .collect();
    let (mut fig2_runs, mut fig3_runs) = (Vec::new(), Vec::new());
    for spec in &specs {
        let Some(result) = stored.get(&FigureRecord::key_of(spec)) else {
            continue;
        };
        match spec.initial_alpha_beta {
            Some(_) => fig2_runs.push(result.clone()),
            None => fig3_runs.push(result.clone()),
        }
    }
    let mut written = Vec::new();
    if plan.fig3 {
        figure3(plan, &fig3_runs, &args.out, &mut written)?;
    }
    if plan.fig2 {
        figure2(plan, &fig2_runs, &args.out, &mut written)?;
    }
    for path in written {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// `"figure 3: relu, SGD lr 1e-4, seed 0"`.
fn describe(spec: &RunSpec) -> String {
    let what = match spec.initial_alpha_beta {
        Some((a, b)) => format!("figure 2: arelu α₀={a} β₀={b}"),
        None => format!("figure 3: {}", spec.activation),
    };
    format!("{what}, SGD lr {}, seed {}", spec.lr.label(), spec.seed)
}

fn write_file(path: PathBuf, text: &str, written: &mut Vec<PathBuf>) -> Result<(), BoxError> {
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    written.push(path);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Figure 3: accuracy over epochs of every activation at small SGD learning rates.

fn figure3(
    plan: &Plan,
    runs: &[RunResult],
    out: &Path,
    written: &mut Vec<PathBuf>,
) -> Result<(), BoxError> {
    let mut csv = String::from("activation,lr,epoch,mean_accuracy,std,n\n");
    for &lr in &plan.fig3_lrs {
        let mut lines = Vec::new();
        let mut finals = Vec::new();
        let mut learnable_index = 0;
        for (i, &base) in plan.activations.iter().enumerate() {
            let points = accuracy_per_epoch(
                runs.iter()
                    .filter(|r| r.spec.activation.base() == base && r.spec.lr == lr),
            );
            for p in &points {
                let c = p.cell;
                writeln!(
                    csv,
                    "{},{},{},{:.4},{:.4},{}",
                    base.as_str(),
                    lr.label(),
                    p.epoch,
                    c.mean,
                    c.std,
                    c.n
                )?;
            }
            if let Some(last) = points.last() {
                finals.push((base, last.cell.mean));
            }
            let (color, width, dashed) = if base == BaseActivation::Arelu {
                (BLACK, 3, false)
            } else if base.is_learnable() {
                learnable_index += 1;
                (LEARNABLE[(learnable_index - 1) % LEARNABLE.len()], 2, true)
            } else {
                (FIXED[i % FIXED.len()], 2, false)
            };
            lines.push(Line {
                label: base.as_str().to_string(),
                points: xy(&points),
                color,
                width,
                dashed,
            });
        }
        thick_on_top(&mut lines);
        let panel = Panel {
            title: format!(
                "Figure 3: mean test accuracy, SGD lr {} ({} seed{})",
                lr.label(),
                plan.seeds,
                if plan.seeds == 1 { "" } else { "s" }
            ),
            x_desc: EPOCH,
            y_desc: "test accuracy (%)",
            x_range: epoch_range(1, plan.epochs),
            y_range: accuracy_range(&lines),
            lines,
            bands: Vec::new(),
        };
        let legend: Vec<&Line> = (plan.activations.iter())
            .filter_map(|b| panel.lines.iter().find(|l| l.label == b.as_str()))
            .collect();
        let svg = render((1100, 650), |root| {
            let (chart, side) = root.split_horizontally(900);
            draw_panel(&chart, &panel)?;
            draw_legend(&side, "activation", &legend)
        })?;
        let name = format!("figure3_sgd_{}.svg", lr.label());
        write_file(out.join(name), &svg, written)?;
        print_finals(lr, plan.epochs, &finals);
    }
    write_file(out.join("figure3.csv"), &csv, written)
}

/// AReLU's final mean accuracy next to the best other activation's, on stderr.
fn print_finals(lr: LearningRate, epochs: usize, finals: &[(BaseActivation, f64)]) {
    let arelu = finals.iter().find(|(b, _)| *b == BaseActivation::Arelu);
    let best_other = (finals.iter())
        .filter(|(b, _)| *b != BaseActivation::Arelu)
        .max_by(|x, y| x.1.total_cmp(&y.1));
    let text = |f: Option<&(BaseActivation, f64)>| {
        f.map_or("–".to_string(), |(b, acc)| {
            format!("{} {acc:.2}%", b.as_str())
        })
    };
    eprintln!(
        "figure 3, SGD lr {}, epoch {epochs}: {}; best other: {}",
        lr.label(),
        text(arelu),
        text(best_other)
    );
}

// ---------------------------------------------------------------------------------------
// Figure 2: AReLU under different initial (α, β).

fn figure2(
    plan: &Plan,
    runs: &[RunResult],
    out: &Path,
    written: &mut Vec<PathBuf>,
) -> Result<(), BoxError> {
    let of_init =
        |init: (f64, f64)| (runs.iter()).filter(move |r| r.spec.initial_alpha_beta == Some(init));
    let is_default = |&(a, b): &(f64, f64)| a == DEFAULT_ALPHA && b == DEFAULT_BETA;
    let style = |k: usize, init: &(f64, f64)| {
        if is_default(init) {
            (BLACK, 3)
        } else {
            (FIXED[k % FIXED.len()], 2)
        }
    };
    let label = |(a, b): (f64, f64)| format!("α₀={a}, β₀={b}");

    // (a) accuracy, and the CSV.
    let mut csv = String::from(
        "init_alpha,init_beta,epoch,mean_accuracy,std,n,alpha1,beta1,alpha2,beta2,alpha3,beta3\n",
    );
    let mut accuracy_lines = Vec::new();
    // trajectories[layer][param]: one line per init.
    let mut trajectories: Vec<Vec<Vec<Line>>> = vec![vec![Vec::new(), Vec::new()]; 3];
    for (k, &init) in plan.inits.iter().enumerate() {
        let (color, width) = style(k, &init);
        let accuracy = accuracy_per_epoch(of_init(init));
        let params: Vec<Vec<Vec<EpochPoint>>> = (0..3)
            .map(|layer| {
                (0..2)
                    .map(|param| param_per_epoch(of_init(init), layer, param))
                    .collect()
            })
            .collect();
        let n = of_init(init).count();
        write!(csv, "{},{},0,,,{n}", init.0, init.1)?;
        for _ in 0..3 {
            write!(csv, ",{},{}", init.0, init.1)?;
        }
        csv.push('\n');
        for p in &accuracy {
            let c = p.cell;
            write!(
                csv,
                "{},{},{},{:.4},{:.4},{}",
                init.0, init.1, p.epoch, c.mean, c.std, c.n
            )?;
            for layer_params in &params {
                for points in layer_params {
                    match points.iter().find(|q| q.epoch == p.epoch) {
                        Some(q) => write!(csv, ",{:.6}", q.cell.mean)?,
                        None => csv.push(','),
                    }
                }
            }
            csv.push('\n');
        }
        accuracy_lines.push(Line {
            label: label(init),
            points: xy(&accuracy),
            color,
            width,
            dashed: false,
        });
        for (layer, layer_params) in params.iter().enumerate() {
            for (param, points) in layer_params.iter().enumerate() {
                let start = if param == 0 { init.0 } else { init.1 };
                trajectories[layer][param].push(Line {
                    label: label(init),
                    points: [(0.0, start)].into_iter().chain(xy(points)).collect(),
                    color,
                    width,
                    dashed: false,
                });
            }
        }
    }
    thick_on_top(&mut accuracy_lines);
    let legend_order: Vec<String> = plan.inits.iter().map(|&i| label(i)).collect();
    let legend_of = |lines: &[Line]| -> Vec<Line> {
        (legend_order.iter())
            .filter_map(|name| lines.iter().find(|l| &l.label == name).cloned())
            .collect()
    };
    let lr = plan.fig2_lr.label();
    let seeds = plan.seeds;
    let panel = Panel {
        title: format!("Figure 2 (a): AReLU test accuracy, SGD lr {lr}, {seeds} seed(s)"),
        x_desc: EPOCH,
        y_desc: "test accuracy (%)",
        x_range: epoch_range(1, plan.epochs),
        y_range: accuracy_range(&accuracy_lines),
        lines: accuracy_lines,
        bands: Vec::new(),
    };
    let legend = legend_of(&panel.lines);
    let svg = render((1050, 600), |root| {
        let (chart, side) = root.split_horizontally(850);
        draw_panel(&chart, &panel)?;
        draw_legend(&side, "initial (α, β)", &legend.iter().collect::<Vec<_>>())
    })?;
    write_file(out.join("figure2_accuracy.svg"), &svg, written)?;

    // (b) trajectories: rows α, β; columns the three layers.
    let mut panels = Vec::new();
    for param in 0..2 {
        for (layer, layer_lines) in trajectories.iter_mut().enumerate() {
            let mut lines = std::mem::take(&mut layer_lines[param]);
            thick_on_top(&mut lines);
            let name = ["α", "β"][param];
            panels.push(Panel {
                title: format!("{name}, layer {}", layer + 1),
                x_desc: EPOCH,
                y_desc: name,
                x_range: epoch_range(0, plan.epochs),
                y_range: value_range(lines.iter().flat_map(|l| l.points.iter().map(|p| p.1))),
                lines,
                bands: Vec::new(),
            });
        }
    }
    let svg = render((1400, 820), |root| {
        let (grid, side) = root.split_horizontally(1200);
        let (title, grid) = grid.split_vertically(40);
        title.draw(&Text::new(
            format!("Figure 2 (b): AReLU α and β per layer during training (SGD lr {lr})"),
            (20, 10),
            ("sans-serif", 22).into_font(),
        ))?;
        for (area, panel) in grid.split_evenly((2, 3)).iter().zip(&panels) {
            draw_panel(area, panel)?;
        }
        draw_legend(&side, "initial (α, β)", &legend.iter().collect::<Vec<_>>())
    })?;
    write_file(out.join("figure2_trajectories.svg"), &svg, written)?;

    // (c) the learned curves of the three layers.
    let Some(&init) = (plan.inits.iter().find(|i| is_default(i))).or(plan.inits.first()) else {
        return write_file(out.join("figure2.csv"), &csv, written);
    };
    let xs: Vec<f64> = (0..=120).map(|i| -3.0 + 0.05 * i as f64).collect();
    let curve = |alpha: f64, beta: f64| -> Vec<(f64, f64)> {
        let act = Arelu::new(alpha, beta);
        xs.iter().map(|&x| (x, act.eval(x))).collect()
    };
    let mut lines = Vec::new();
    let mut bands: Vec<(Vec<(f64, f64)>, RGBColor)> = Vec::new();
    for (layer, color) in [(0, BLUE_), (1, ORANGE), (2, GREEN_)] {
        // (α, β) of each seed after its last epoch.
        let learned: Vec<(f64, f64)> = of_init(init)
            .filter_map(|r| {
                let p = r.epochs.last()?.activation_params.get(layer)?;
                Some((*p.first()?, *p.get(1)?))
            })
            .collect();
        if learned.is_empty() {
            continue;
        }
        let n = learned.len() as f64;
        let alpha = learned.iter().map(|p| p.0).sum::<f64>() / n;
        let beta = learned.iter().map(|p| p.1).sum::<f64>() / n;
        if learned.len() > 1 {
            let seed_curves: Vec<Vec<(f64, f64)>> =
                learned.iter().map(|&(a, b)| curve(a, b)).collect();
            let extreme = |i: usize, pick: fn(f64, f64) -> f64| {
                seed_curves
                    .iter()
                    .map(|c| c[i].1)
                    .fold(seed_curves[0][i].1, pick)
            };
            let upper = (0..xs.len()).map(|i| (xs[i], extreme(i, f64::max)));
            let lower = (0..xs.len()).rev().map(|i| (xs[i], extreme(i, f64::min)));
            bands.push((upper.chain(lower).collect(), color));
        }
        lines.push(Line {
            label: format!("layer {}: α={alpha:.4}, β={beta:.4}", layer + 1),
            points: curve(alpha, beta),
            color,
            width: 2,
            dashed: false,
        });
    }
    lines.push(Line {
        label: format!("initial: α={}, β={}", init.0, init.1),
        points: curve(init.0, init.1),
        color: GREY,
        width: 2,
        dashed: true,
    });
    let panel = Panel {
        title: format!(
            "Figure 2 (c): learned AReLU after {} epochs (init α₀={}, β₀={})",
            plan.epochs, init.0, init.1
        ),
        x_desc: "x",
        y_desc: "AReLU(x)",
        x_range: -3.0..3.0,
        y_range: value_range(
            (lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)))
                .chain(bands.iter().flat_map(|b| b.0.iter().map(|p| p.1))),
        ),
        lines,
        bands,
    };
    let svg = render((1050, 600), |root| {
        let (chart, side) = root.split_horizontally(800);
        draw_panel(&chart, &panel)?;
        draw_legend(&side, "curve", &panel.lines.iter().collect::<Vec<_>>())
    })?;
    write_file(out.join("figure2_curves.svg"), &svg, written)?;
    write_file(out.join("figure2.csv"), &csv, written)
}

// ---------------------------------------------------------------------------------------
// Plotting.

/// Thirteen distinguishable colours for solid lines (Tableau 10 and three dark ones).
const FIXED: [RGBColor; 13] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
    RGBColor(0x39, 0x3b, 0x79),
    RGBColor(0x63, 0x79, 0x39),
    RGBColor(0x8c, 0x6d, 0x31),
];
/// Five more for the dashed lines of the learnable activations.
const LEARNABLE: [RGBColor; 5] = [
    RGBColor(0x84, 0x3c, 0x39),
    RGBColor(0x7b, 0x41, 0x73),
    RGBColor(0xe6, 0x55, 0x0d),
    RGBColor(0x31, 0xa3, 0x54),
    RGBColor(0x31, 0x82, 0xbd),
];
const BLUE_: RGBColor = FIXED[0];
const ORANGE: RGBColor = FIXED[1];
const GREEN_: RGBColor = FIXED[2];
/// The x axis title of the charts over epochs (whose ticks are whole numbers).
const EPOCH: &str = "epoch";
const GREY: RGBColor = RGBColor(0x99, 0x99, 0x99);

/// One line of a chart, with its legend entry.
#[derive(Debug, Clone)]
struct Line {
    label: String,
    points: Vec<(f64, f64)>,
    color: RGBColor,
    width: u32,
    dashed: bool,
}

impl Line {
    fn style(&self) -> ShapeStyle {
        self.color.stroke_width(self.width)
    }
}

/// One chart: its lines and shaded bands (closed polygons).
struct Panel {
    title: String,
    x_desc: &'static str,
    y_desc: &'static str,
    x_range: Range<f64>,
    y_range: Range<f64>,
    lines: Vec<Line>,
    bands: Vec<(Vec<(f64, f64)>, RGBColor)>,
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// An SVG document of `size` pixels drawn by `draw` on a white background.
fn render(
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> Result<(), BoxError>,
) -> Result<String, BoxError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
    }
    Ok(svg)
}

fn draw_panel(area: &Area<'_>, panel: &Panel) -> Result<(), BoxError> {
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(panel.x_range.clone(), panel.y_range.clone())?;
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(panel.x_desc)
        .y_desc(panel.y_desc)
        .light_line_style(BLACK.mix(0.04));
    // Epochs are whole numbers: label only those, about one per epoch up to 20.
    let whole = |x: &f64| {
        let r = x.round();
        if (x - r).abs() < 1e-6 {
            format!("{r:.0}")
        } else {
            String::new()
        }
    };
    if panel.x_desc == EPOCH {
        let span = (panel.x_range.end - panel.x_range.start).round() as usize;
        mesh.x_labels(span.clamp(2, 20) + 1)
            .x_label_formatter(&whole);
    }
    mesh.draw()?;
    for (polygon, color) in &panel.bands {
        chart.draw_series([Polygon::new(polygon.clone(), color.mix(0.2).filled())])?;
    }
    for line in &panel.lines {
        let points = line.points.iter().copied();
        if line.dashed {
            chart.draw_series(DashedLineSeries::new(points, 8, 5, line.style()))?;
        } else {
            chart.draw_series(LineSeries::new(points, line.style()))?;
        }
        // A line of one or two points is hard to see: mark its points.
        if line.points.len() <= 3 {
            let dots = (line.points.iter()).map(|&p| Circle::new(p, 3, line.color.filled()));
            chart.draw_series(dots)?;
        }
    }
    Ok(())
}

/// A legend beside a chart: `title`, then one sample segment and label per line.
fn draw_legend(area: &Area<'_>, title: &str, lines: &[&Line]) -> Result<(), BoxError> {
    area.draw(&Text::new(
        title.to_string(),
        (8, 44),
        ("sans-serif", 16).into_font(),
    ))?;
    for (i, line) in lines.iter().enumerate() {
        let y = 76 + 24 * i as i32;
        let segment = vec![(8, y), (44, y)];
        if line.dashed {
            area.draw(&DashedPathElement::new(segment, 8, 5, line.style()))?;
        } else {
            area.draw(&PathElement::new(segment, line.style()))?;
        }
        area.draw(&Text::new(
            line.label.clone(),
            (52, y - 8),
            ("sans-serif", 15).into_font(),
        ))?;
    }
    Ok(())
}

/// Puts the thick lines (AReLU, the default initialisation) last, so they are drawn on top.
fn thick_on_top(lines: &mut [Line]) {
    lines.sort_by_key(|l| l.width);
}

/// `(epoch, mean)` points.
fn xy(points: &[EpochPoint]) -> Vec<(f64, f64)> {
    (points.iter())
        .map(|p| (p.epoch as f64, p.cell.mean))
        .collect()
}

/// Epochs `first..=last` on the x axis, with room around a single epoch.
fn epoch_range(first: usize, last: usize) -> Range<f64> {
    if last > first {
        first as f64..last as f64
    } else {
        first as f64 - 1.0..first as f64 + 1.0
    }
}

/// The smallest range holding `values`, padded by 5% (by 0.5 around a single value).
fn value_range(values: impl Iterator<Item = f64>) -> Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return 0.0..1.0; // nothing to plot
    }
    let pad = if hi > lo { 0.05 * (hi - lo) } else { 0.5 };
    lo - pad..hi + pad
}

/// The y range of accuracy lines, within `[0, 100]`.
fn accuracy_range(lines: &[Line]) -> Range<f64> {
    let r = value_range(lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)));
    let (lo, hi) = (r.start.max(0.0), r.end.min(100.0));
    if hi - lo >= 1.0 {
        lo..hi
    } else {
        (lo - 1.0).max(0.0)..(hi + 1.0).min(100.0)
    }
}
