//! Exports an activation's curve `y(x)` and derivative `dy/dx` as CSV or JSON, and optionally
//! plots both as an SVG.
//!
//! ```text
//! cargo run --release --example curves -- --activation NAME [--from -6] [--to 6] [--step 0.1]
//!     [--dtype f64|f32] [--format csv|json] [--svg FILE]
//! ```
//!
//! The curve is sampled at `from, from + step, ...` up to `to` included (see
//! [`arelu::curve::grid`]) with the activation's default (initial) parameters, in evaluation
//! mode (RReLU uses its mean slope), computed in `--dtype` (`f64` by default).
//!
//! * `--format csv` (the default) prints the header `x,y,dy_dx` and one row per point, numbers in
//!   Rust's shortest round-trip formatting of the dtype (`NaN`, `inf`, `-inf` when not finite).
//!   `x` is the exact sample point `from + i·step`, so in `f64` it may read `-0.39999999999999947`.
//! * `--format json` prints one object with an array of points:
//!
//!   ```text
//!   {"activation": "arelu", "dtype": "f64",
//!    "points": [{"x": -6.0, "y": -5.4, "dy_dx": 0.9}, ...],
//!    "params": [{"name": "alpha", "value": 0.9, "grad": -183.0}, ...]}
//!   ```
//!
//!   `grad` is `∂(Σ y)/∂θ`, the gradient of the sum of `y` over the sampled points. JSON has no
//!   NaN or infinity, so every non-finite number is written as `null`.
//! * `--svg FILE` also draws `y` and `dy/dx` against `x` into FILE (non-finite points are left
//!   out of the plot). The SVG is written before anything is printed.
//!
//! Invalid arguments (an unknown activation, dtype or format, a number that does not parse, a
//! bad grid) print one line `error: ...` on stderr and exit with status 2; unknown or missing
//! flags get clap's usual message, also with status 2. A failure to write the SVG or stdout
//! exits with status 1 (a closed pipe, as with `| head`, ends the program quietly).

use std::fmt::Display;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use arelu::activation::Float;
use arelu::curve::{self, Curve, GridError};
use arelu::{Activation, ActivationError, ActivationName, ActivationVisitor};
use clap::{error::ErrorKind, Parser, ValueEnum};
use plotters::drawing::DrawingAreaErrorKind;
use plotters::prelude::*;
use serde::Serialize;

/// Exports an activation's curve and derivative as CSV or JSON, optionally plotted as SVG.
#[derive(Debug, Parser)]
struct Args {
    /// The activation, one of the 37 names (`relu`, `arelu`, `elsa-swish`, ...).
    #[arg(long)]
    activation: String,
    /// The first sample point.
    #[arg(long, default_value_t = -6.0, allow_hyphen_values = true)]
    from: f64,
    /// The last sample point (included).
    #[arg(long, default_value_t = 6.0, allow_hyphen_values = true)]
    to: f64,
    /// The distance between sample points (positive).
    #[arg(long, default_value_t = 0.1, allow_hyphen_values = true)]
    step: f64,
    /// The float type the curve is computed in.
    #[arg(long, value_enum, default_value_t = Dtype::F64)]
    dtype: Dtype,
    /// The output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
    /// Also plot y and dy/dx into this SVG file.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Dtype {
    F64,
    F32,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Csv,
    Json,
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Name(#[from] ActivationError),
    #[error(transparent)]
    Grid(#[from] GridError),
    #[error("cannot write the SVG {}: {}", .0.display(), .1)]
    Svg(PathBuf, String),
    #[error("cannot write to stdout: {0}")]
    Stdout(#[from] io::Error),
}

impl CliError {
    fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Name(_) | CliError::Grid(_) => ExitCode::from(2),
            CliError::Svg(..) | CliError::Stdout(_) => ExitCode::FAILURE,
        }
    }
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => return clap_error(e),
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Stdout(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

/// A bad value (`--dtype f16`, `--step abc`) gets one line on stderr and status 2; help,
/// version, unknown or missing flags get clap's usual output.
fn clap_error(e: clap::Error) -> ExitCode {
    if !matches!(
        e.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        e.exit();
    }
    let text = e.render().to_string();
    let lines: Vec<&str> = (text.lines().map(str::trim))
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
        .collect();
    eprintln!("{}", lines.join(" "));
    ExitCode::from(2)
}

fn run(args: &Args) -> Result<(), CliError> {
    let name: ActivationName = args.activation.parse()?;
    let xs = curve::grid(args.from, args.to, args.step)?;
    let output = name.visit(Export { args, xs: &xs })?;
    io::stdout().lock().write_all(output.as_bytes())?;
    Ok(())
}

/// Samples the activation chosen at run time in the chosen dtype, draws the SVG if asked, and
/// returns the text for stdout.
struct Export<'a> {
    args: &'a Args,
    xs: &'a [f64],
}

impl ActivationVisitor for Export<'_> {
    type Output = Result<String, CliError>;
    fn visit<A: Activation>(self) -> Self::Output {
        match self.args.dtype {
            Dtype::F64 => export::<A, f64>(self.args, self.xs, "f64"),
            Dtype::F32 => export::<A, f32>(self.args, self.xs, "f32"),
        }
    }
}

fn export<A, F>(args: &Args, xs: &[f64], dtype: &str) -> Result<String, CliError>
where
    A: Activation,
    F: Float + Display + Serialize,
{
    let act = A::default();
    let curve = curve::sample::<A, F>(&act, xs);
    if let Some(path) = &args.svg {
        let svg =
            plot(&act.name(), &curve).map_err(|e| CliError::Svg(path.clone(), e.to_string()))?;
        std::fs::write(path, svg).map_err(|e| CliError::Svg(path.clone(), e.to_string()))?;
    }
    Ok(match args.format {
        Format::Csv => curve::to_csv(&curve),
        Format::Json => to_json(&act.name(), dtype, &curve),
    })
}

#[derive(Serialize)]
struct JsonCurve<'a, F> {
    activation: &'a str,
    dtype: &'a str,
    points: Vec<JsonPoint<F>>,
    params: Vec<JsonParam<'a, F>>,
}

#[derive(Serialize)]
struct JsonPoint<F> {
    x: Option<F>,
    y: Option<F>,
    dy_dx: Option<F>,
}

#[derive(Serialize)]
struct JsonParam<'a, F> {
    name: &'a str,
    value: Option<F>,
    grad: Option<F>,
}

/// `Some(v)` when finite, `None` (JSON `null`) otherwise.
fn finite<F: Float>(v: F) -> Option<F> {
    v.is_finite().then_some(v)
}

fn to_json<F: Float + Serialize>(activation: &str, dtype: &str, curve: &Curve<F>) -> String {
    let doc = JsonCurve {
        activation,
        dtype,
        points: (curve.points.iter())
            .map(|p| JsonPoint {
                x: finite(p.x),
                y: finite(p.y),
                dy_dx: finite(p.dy_dx),
            })
            .collect(),
        params: (curve.params.iter())
            .map(|(name, value, grad)| JsonParam {
                name,
                value: finite(*value),
                grad: finite(*grad),
            })
            .collect(),
    };
    // Serialising plain structs of strings and optional floats cannot fail.
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

/// `y(x)` and `dy/dx` drawn as an SVG document titled `title`.
fn plot<F: Float>(
    title: &str,
    curve: &Curve<F>,
) -> Result<String, DrawingAreaErrorKind<io::Error>> {
    let series = |get: fn(&curve::CurvePoint<F>) -> F| -> Vec<(f64, f64)> {
        (curve.points.iter())
            .filter_map(|p| Some((p.x.to_f64()?, get(p).to_f64()?)))
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect()
    };
    let (ys, slopes) = (series(|p| p.y), series(|p| p.dy_dx));
    // The smallest range holding every value, padded by 5% (by 1 around a single value).
    let range = |vals: Vec<f64>| {
        let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let pad = if hi > lo { 0.05 * (hi - lo) } else { 1.0 };
        if (lo - pad).is_finite() && (hi + pad).is_finite() {
            lo - pad..hi + pad
        } else if lo.is_finite() && hi > lo {
            lo..hi // huge values that padding would overflow
        } else {
            -1.0..1.0 // nothing finite to plot
        }
    };
    let x_range = range(ys.iter().chain(&slopes).map(|p| p.0).collect());
    let y_range = range(ys.iter().chain(&slopes).map(|p| p.1).collect());

    let mut svg = String::new();
    let root = SVGBackend::with_string(&mut svg, (800, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 28))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(x_range, y_range)?;
    chart
        .configure_mesh()
        .x_desc("x")
        .y_desc("y, dy/dx")
        .draw()?;
    chart
        .draw_series(LineSeries::new(ys, BLUE.stroke_width(2)))?
        .label("y")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(slopes, RED.stroke_width(2)))?
        .label("dy/dx")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    drop(chart);
    drop(root);
    Ok(svg)
}
