//! Sampling an activation's curve: for plots, exports, and stable snapshot tables.
//!
//! [`snapshot_table`] turns any [`Activation`] into a fixed-width, rounded text table that is
//! stable across machines, so that users can snapshot-test their own activations with `insta`
//! exactly as this crate does for its own:
//!
//! ```
//! use arelu::{curve, Arelu};
//!
//! let grid = curve::grid(-1.0, 1.0, 0.5).unwrap();
//! let table = curve::snapshot_table(&Arelu::default(), &grid);
//! assert!(table.starts_with("arelu"));
//! // In a test: insta::assert_snapshot!(table);
//! ```

use crate::activation::Float;
use core::fmt::Display;
use thiserror::Error;

use crate::activation::{cast, Activation, EVAL_NOISE};

/// The most points a grid may hold.
pub const MAX_POINTS: usize = 10_000_000;

/// Why a sampling grid is invalid.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum GridError {
    /// A bound or the step is NaN or infinite.
    #[error("--from, --to and --step must be finite numbers")]
    NotFinite,
    /// The step is not positive.
    #[error("the step must be positive, got {0}")]
    Step(f64),
    /// `from > to`.
    #[error("--from ({from}) is above --to ({to})")]
    Reversed {
        /// Start.
        from: f64,
        /// End.
        to: f64,
    },
    /// Too many points.
    #[error("the grid would hold more than {MAX_POINTS} points")]
    TooLarge,
}

/// `from, from + step, ...` up to `to` included (within a relative tolerance of 1e-9 of a
/// step, so that `-6..6` by `0.1` ends at 6). Points are `from + i·step`, computed without
/// accumulating rounding error.
///
/// # Errors
/// See [`GridError`].
pub fn grid(from: f64, to: f64, step: f64) -> Result<Vec<f64>, GridError> {
    if !(from.is_finite() && to.is_finite() && step.is_finite()) {
        return Err(GridError::NotFinite);
    }
    if step <= 0.0 {
        return Err(GridError::Step(step));
    }
    if from > to {
        return Err(GridError::Reversed { from, to });
    }
    let intervals = ((to - from) / step + 1e-9).floor();
    if intervals >= MAX_POINTS as f64 {
        return Err(GridError::TooLarge);
    }
    Ok((0..=intervals as usize)
        .map(|i| from + i as f64 * step)
        .collect())
}

/// One sampled point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePoint<F> {
    /// The input.
    pub x: F,
    /// `f(x)`.
    pub y: F,
    /// `∂f/∂x`.
    pub dy_dx: F,
}

/// A sampled curve with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve<F> {
    /// The points.
    pub points: Vec<CurvePoint<F>>,
    /// `(name, value, ∂(Σ y)/∂θ)` for each learnable parameter.
    pub params: Vec<(String, F, F)>,
}

/// Samples `activation` at `xs` in evaluation mode with its own parameter values, in the
/// float type `F`.
pub fn sample<A: Activation, F: Float>(activation: &A, xs: &[f64]) -> Curve<F> {
    let values = activation.params_as::<F>();
    let prepared = activation.prepare(&values);
    let noise = cast::<F>(EVAL_NOISE);
    let mut sum_grads = vec![F::zero(); values.len()];
    let points = xs
        .iter()
        .map(|&x| {
            let x = cast::<F>(x);
            let y = activation.value(&prepared, x, noise);
            let dy_dx = activation.backward(&prepared, x, noise, F::one(), &mut sum_grads);
            CurvePoint { x, y, dy_dx }
        })
        .collect();
    let params = activation
        .param_names()
        .into_iter()
        .zip(values)
        .zip(sum_grads)
        .map(|((name, value), grad)| (name, value, grad))
        .collect();
    Curve { points, params }
}

/// Formats `v` rounded to 6 decimals, with `-0` shown as `0` so that tables do not depend on
/// the sign of a rounded zero.
pub fn round6(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    let s = format!("{v:.6}");
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        s.trim_start_matches('-').to_string()
    } else {
        s
    }
}

/// A stable, human-readable table of `activation` at `xs` (computed in `f64`): the name, one
/// line per parameter with its value and the gradient of `Σ y` with respect to it, then `x`,
/// `y`, `dy/dx` per line, all rounded to 6 decimals.
pub fn snapshot_table<A: Activation>(activation: &A, xs: &[f64]) -> String {
    let curve = sample::<A, f64>(activation, xs);
    let mut out = activation.name();
    out.push('\n');
    for (name, value, grad) in &curve.params {
        out.push_str(&format!(
            "param {name:<6} = {:>12}   d(sum y)/d{name} = {:>12}\n",
            round6(*value),
            round6(*grad)
        ));
    }
    out.push_str(&format!("{:>10} {:>14} {:>14}\n", "x", "y", "dy/dx"));
    for p in &curve.points {
        out.push_str(&format!(
            "{:>10} {:>14} {:>14}\n",
            round6(p.x),
            round6(p.y),
            round6(p.dy_dx)
        ));
    }
    out
}

/// The header line of [`to_csv`], without its newline.
pub const CSV_HEADER: &str = "x,y,dy_dx";

/// `curve` as CSV: the header [`CSV_HEADER`], then one `x,y,dy_dx` row per point, every number
/// in Rust's shortest round-trip `{}` formatting of `F` (so an `f32` curve prints `0.1`, not
/// `0.10000000149011612`). Non-finite values print as `NaN`, `inf` and `-inf`. Every line,
/// the last included, ends with `\n`. The parameters are not part of the CSV.
///
/// ```
/// use arelu::{curve, Relu};
///
/// let xs = curve::grid(-1.0, 1.0, 1.0).unwrap();
/// let csv = curve::to_csv(&curve::sample::<_, f64>(&Relu, &xs));
/// assert_eq!(csv, "x,y,dy_dx\n-1,0,0\n0,0,0\n1,1,1\n");
/// ```
pub fn to_csv<F: Float + Display>(curve: &Curve<F>) -> String {
    let mut out = String::with_capacity(CSV_HEADER.len() + 1 + 24 * curve.points.len());
    out.push_str(CSV_HEADER);
    out.push('\n');
    for p in &curve.points {
        out.push_str(&format!("{},{},{}\n", p.x, p.y, p.dy_dx));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_csv_uses_shortest_round_trip_formatting_of_each_float_type() {
        let point = |x, y, dy_dx| CurvePoint { x, y, dy_dx };
        let curve = Curve {
            points: vec![
                point(0.1_f32, f32::NAN, f32::INFINITY),
                point(-2.5, 1e-7, -0.0),
            ],
            params: vec![],
        };
        assert_eq!(
            to_csv(&curve),
            "x,y,dy_dx\n0.1,NaN,inf\n-2.5,0.0000001,-0\n"
        );
        let empty: Curve<f64> = Curve {
            points: vec![],
            params: vec![],
        };
        assert_eq!(to_csv(&empty), "x,y,dy_dx\n");
    }
}
