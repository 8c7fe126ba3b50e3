//! The library pieces behind `examples/curves.rs`: the grid, `curve::sample` and
//! `curve::to_csv`.

use arelu::activation::sigmoid;
use arelu::curve::{self, CSV_HEADER};
use arelu::{Activation, ActivationName, ActivationVisitor, Arelu, Relu};

fn default_grid() -> Vec<f64> {
    curve::grid(-6.0, 6.0, 0.1).unwrap()
}

fn rows(csv: &str) -> Vec<Vec<f64>> {
    csv.lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect()
}

fn row_at(rows: &[Vec<f64>], x: f64) -> &[f64] {
    rows.iter()
        .find(|r| (r[0] - x).abs() < 1e-9)
        .unwrap_or_else(|| panic!("no row at x = {x}"))
}

#[test]
fn csv_has_the_header_and_121_rows_for_the_default_grid() {
    let csv = curve::to_csv(&curve::sample::<_, f64>(&Arelu::default(), &default_grid()));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], CSV_HEADER);
    assert_eq!(lines[0], "x,y,dy_dx");
    assert_eq!(lines.len(), 1 + 121);
    assert!(csv.ends_with('\n'));
    assert!(lines[1..].iter().all(|l| l.split(',').count() == 3));
    assert_eq!(lines[1], "-6,-5.4,0.9");
    assert!(lines[121].starts_with("6,"));
}

#[test]
fn relu_rows() {
    let csv = curve::to_csv(&curve::sample::<_, f64>(&Relu, &default_grid()));
    let rows = rows(&csv);
    assert_eq!(row_at(&rows, -6.0), [-6.0, 0.0, 0.0]);
    assert_eq!(row_at(&rows, 0.0)[1..], [0.0, 0.0]); // ReLU'(0) = 0, as in PyTorch
    assert_eq!(row_at(&rows, 6.0), [6.0, 6.0, 1.0]);
    let r = row_at(&rows, 2.5);
    assert!((r[1] - 2.5).abs() < 1e-12 && r[2] == 1.0);
}

#[test]
fn arelu_rows() {
    // α = 0.9, β = 2: y = 0.9·x below 0, (1 + σ(2))·x from 0 on; dy/dx(0) = σ(2).
    let csv = curve::to_csv(&curve::sample::<_, f64>(&Arelu::default(), &default_grid()));
    let rows = rows(&csv);
    let s = sigmoid(2.0_f64);
    assert_eq!(row_at(&rows, -6.0), [-6.0, -5.4, 0.9]);
    let r = row_at(&rows, -2.0);
    assert!((r[1] + 1.8).abs() < 1e-12 && (r[2] - 0.9).abs() < 1e-15);
    let r = row_at(&rows, 0.0);
    assert!(r[1] == 0.0 && (r[2] - s).abs() < 1e-15);
    let r = row_at(&rows, 3.0);
    assert!((r[1] - 3.0 * (1.0 + s)).abs() < 1e-12 && (r[2] - (1.0 + s)).abs() < 1e-15);
}

#[test]
fn csv_round_trips_the_sampled_values() {
    let curve = curve::sample::<_, f64>(&Arelu::default(), &default_grid());
    let rows = rows(&curve::to_csv(&curve));
    for (p, r) in curve.points.iter().zip(&rows) {
        assert_eq!([p.x, p.y, p.dy_dx], r[..]);
    }
    let curve32 = curve::sample::<_, f32>(&Arelu::default(), &default_grid());
    let csv32 = curve::to_csv(&curve32);
    for (p, line) in curve32.points.iter().zip(csv32.lines().skip(1)) {
        let r: Vec<f32> = line.split(',').map(|v| v.parse().unwrap()).collect();
        assert_eq!([p.x, p.y, p.dy_dx], r[..]);
    }
    // f32 prints its own shortest form, not the widened f64.
    assert!(csv32.lines().any(|l| l.starts_with("-5.9,")));
}

/// The largest |f32 - f64| over `y` and `dy/dx` and the parameter values and gradients,
/// relative to `1 + |f64 value|`.
struct F32VsF64<'a>(&'a [f64]);

impl ActivationVisitor for F32VsF64<'_> {
    type Output = f64;
    fn visit<A: Activation>(self) -> f64 {
        let act = A::default();
        let c64 = curve::sample::<A, f64>(&act, self.0);
        let c32 = curve::sample::<A, f32>(&act, self.0);
        let rel = |a: f32, b: f64| {
            if !b.is_finite() {
                return if (a as f64 == b) || (a.is_nan() && b.is_nan()) {
                    0.0
                } else {
                    f64::INFINITY
                };
            }
            (a as f64 - b).abs() / (1.0 + b.abs())
        };
        let mut worst = 0.0_f64;
        assert_eq!(c32.points.len(), c64.points.len());
        for (p, q) in c32.points.iter().zip(&c64.points) {
            worst = worst.max(rel(p.y, q.y)).max(rel(p.dy_dx, q.dy_dx));
        }
        for (p, q) in c32.params.iter().zip(&c64.params) {
            assert_eq!(p.0, q.0);
            // The gradient sums one term per point, so it gets a proportionally looser bound.
            worst = worst
                .max(rel(p.1, q.1))
                .max(rel(p.2, q.2) / self.0.len() as f64);
        }
        worst
    }
}

#[test]
fn f32_agrees_with_f64_for_every_activation() {
    // Points that are exact in f32, so that both sample the same inputs (no kink is crossed
    // by rounding x).
    let xs = curve::grid(-6.0, 6.0, 0.125).unwrap();
    for name in ActivationName::all() {
        let worst = name.visit(F32VsF64(&xs));
        assert!(worst < 1e-5, "{name}: f32 and f64 differ by {worst:e}");
    }
    // And on the default grid, for the two activations this file looks at.
    let xs = default_grid();
    for name in ["relu", "arelu"] {
        let worst = name.parse::<ActivationName>().unwrap().visit(F32VsF64(&xs));
        assert!(worst < 1e-5, "{name}: f32 and f64 differ by {worst:e}");
    }
}

#[test]
fn arelu_param_gradients_are_the_sum_of_the_per_point_derivatives() {
    let act = Arelu::default();
    let xs = default_grid();
    let curve = curve::sample::<_, f64>(&act, &xs);
    let mut expected = vec![0.0_f64; act.num_params()];
    for &x in &xs {
        let (_, dparams) = act.derivatives(x);
        for (e, d) in expected.iter_mut().zip(dparams) {
            *e += d;
        }
    }
    let names: Vec<&str> = curve.params.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(names, ["alpha", "beta"]);
    assert_eq!(curve.params[0].1, 0.9);
    assert_eq!(curve.params[1].1, 2.0);
    for ((_, _, grad), e) in curve.params.iter().zip(&expected) {
        assert!((grad - e).abs() < 1e-9 * (1.0 + e.abs()), "{grad} vs {e}");
    }
    // Closed forms: ∂(Σy)/∂α = Σ_{x<0} x, ∂(Σy)/∂β = σ'(2)·Σ_{x≥0} x.
    let neg: f64 = xs.iter().filter(|&&x| x < 0.0).sum();
    let pos: f64 = xs.iter().filter(|&&x| x >= 0.0).sum();
    let s = sigmoid(2.0_f64);
    assert!((curve.params[0].2 - neg).abs() < 1e-9);
    assert!((curve.params[1].2 - s * (1.0 - s) * pos).abs() < 1e-9);
    // The same per-point derivatives of x give dy/dx.
    for p in &curve.points {
        assert_eq!(p.dy_dx, act.derivatives(p.x).0);
    }
}
