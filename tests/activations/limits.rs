//! Extreme inputs: at x ∈ ±{1, 10³, 10⁷, 10¹⁵, 10³⁰, MAX, ∞}, for all 37 variants in `f32`
//! and `f64`, the value, ∂f/∂x and every parameter gradient equal the formula's value there or,
//! in the tails, its limit: finite where that is finite, the right infinity where it is not,
//! and never NaN.
//!
//! The expected values come from a reference written here, independently of the crate: the
//! plain formula at ±1, and each activation's tail form for |x| ≥ 10³ (stated per activation
//! below). For the `f32` runs the reference is evaluated in `f64` at the same (rounded) inputs
//! and parameters and then rounded to `f32`, so a true value beyond `f32::MAX` is expected as
//! an infinity.

use crate::all_variants;

/// The magnitudes tested, each with both signs.
const MAGNITUDES: [f64; 7] = [1.0, 1e3, 1e7, 1e15, 1e30, f64::MAX, f64::INFINITY];

/// From this magnitude on every exponential in the formulas has saturated in `f64`
/// (`e^-1000` is below the smallest subnormal), so each activation is exactly its tail form.
const TAIL: f64 = 1e3;

/// `σ(t)`, finite for every `t` including ±∞.
fn sigma(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

/// `max(0, x)`.
fn relu(x: f64) -> f64 {
    if x > 0.0 {
        x
    } else {
        0.0
    }
}

/// `C(α)`.
fn clamp_alpha(alpha: f64) -> f64 {
    alpha.clamp(0.01, 0.99)
}

#[derive(Debug, Clone)]
struct Expected {
    value: f64,
    dx: f64,
    dparams: Vec<f64>,
}

fn fixed(value: f64, dx: f64) -> Expected {
    Expected {
        value,
        dx,
        dparams: Vec::new(),
    }
}

/// The base activation `name` with parameters `p` at `x` (±1 or |x| ≥ [`TAIL`]), noise `noise`.
fn base_reference(name: &str, p: &[f64], x: f64, noise: f64) -> Expected {
    let tail = x.abs() >= TAIL;
    let positive = x > 0.0;
    match name {
        "relu" => fixed(relu(x), if positive { 1.0 } else { 0.0 }),
        "relu6" => fixed(
            x.clamp(0.0, 6.0),
            if positive && x < 6.0 { 1.0 } else { 0.0 },
        ),
        "leaky_relu" | "rrelu" => {
            let slope = if name == "rrelu" {
                1.0 / 8.0 + (1.0 / 3.0 - 1.0 / 8.0) * noise
            } else {
                0.01
            };
            if positive {
                fixed(x, 1.0)
            } else {
                fixed(slope * x, slope)
            }
        }
        // a = 1: tail −a, slope e^x → 0
        "celu" | "elu" => match (positive, tail) {
            (true, _) => fixed(x, 1.0),
            (false, true) => fixed(-1.0, 0.0),
            (false, false) => fixed(x.exp_m1(), x.exp()),
        },
        // tail −λ·a, slope → 0
        "selu" => {
            let (lambda, alpha) = (1.050_700_987_355_480_5, 1.673_263_242_354_377_3);
            match (positive, tail) {
                (true, _) => fixed(lambda * x, lambda),
                (false, true) => fixed(-lambda * alpha, 0.0),
                (false, false) => fixed(lambda * alpha * x.exp_m1(), lambda * alpha * x.exp()),
            }
        }
        // x·σ(2u) → x on the right (slope 1), 0 on the left (slope 0)
        "gelu" => match (positive, tail) {
            (true, true) => fixed(x, 1.0),
            (false, true) => fixed(0.0, 0.0),
            _ => {
                let (k, c) = (0.797_994_6, 0.044_715);
                let u = k * (x + c * x * x * x);
                let du = k * (1.0 + 3.0 * c * x * x);
                let s = sigma(2.0 * u);
                fixed(x * s, s + x * 2.0 * s * (1.0 - s) * du)
            }
        },
        "maxout" => fixed(x, 1.0),
        // σ → 1 or 0, slope → 0
        "sigmoid" => match (positive, tail) {
            (true, true) => fixed(1.0, 0.0),
            (false, true) => fixed(0.0, 0.0),
            _ => fixed(sigma(x), sigma(x) * (1.0 - sigma(x))),
        },
        // β = 1, threshold 20: x itself above it; ln(1 + eˣ) → 0 on the left, slope σ → 0
        "softplus" => match (x > 20.0, tail) {
            (true, _) => fixed(x, 1.0),
            (false, true) => fixed(0.0, 0.0),
            _ => fixed(x.exp().ln_1p(), sigma(x)),
        },
        // x·σ(x) → x on the right (slope 1), 0 on the left (slope 0)
        "swish" => match (positive, tail) {
            (true, true) => fixed(x, 1.0),
            (false, true) => fixed(0.0, 0.0),
            _ => fixed(x * sigma(x), sigma(x) + x * sigma(x) * (1.0 - sigma(x))),
        },
        // ±1, slope → 0
        "tanh" => match tail {
            true => fixed(x.signum(), 0.0),
            false => fixed(x.tanh(), 1.0 - x.tanh() * x.tanh()),
        },
        // max(0, x) + a·max(0, b − x): x on the right; a·(b − x) → +∞ on the left, with
        // ∂/∂a = b − x → +∞ and ∂/∂b = a.
        "apl" => {
            let (a, b) = (p[0], p[1]);
            let active = b - x >= 0.0;
            Expected {
                value: relu(x) + if active { a * (b - x) } else { 0.0 },
                dx: if x >= 0.0 { 1.0 } else { 0.0 } - if active { a } else { 0.0 },
                dparams: if active {
                    vec![b - x, a]
                } else {
                    vec![0.0, 0.0]
                },
            }
        }
        // p·x + (1 − p)·max(0, x): ∂/∂p = x − max(0, x), 0 on the right, x on the left
        "mixture" => {
            let q = p[0];
            if positive {
                Expected {
                    value: x,
                    dx: 1.0,
                    dparams: vec![0.0],
                }
            } else {
                Expected {
                    value: if q == 0.0 { 0.0 } else { q * x },
                    dx: q,
                    dparams: vec![x],
                }
            }
        }
        "pau" if tail => pau_tail(p, x),
        "pau" => pau_direct(p, x),
        "prelu" => {
            let a = p[0];
            if positive {
                Expected {
                    value: x,
                    dx: 1.0,
                    dparams: vec![0.0],
                }
            } else {
                Expected {
                    value: a * x,
                    dx: a,
                    dparams: vec![x],
                }
            }
        }
        // K = 2: c0 + c1·x
        "slaf" => Expected {
            value: p[0] + p[1] * x,
            dx: p[1],
            dparams: vec![1.0, x],
        },
        "arelu" => {
            let (alpha, beta) = (p[0], p[1]);
            if x < 0.0 {
                Expected {
                    value: clamp_alpha(alpha) * x,
                    dx: clamp_alpha(alpha),
                    dparams: vec![x, 0.0],
                }
            } else {
                let s = sigma(beta);
                Expected {
                    value: (1.0 + s) * x,
                    dx: 1.0 + s,
                    dparams: vec![0.0, s * (1.0 - s) * x],
                }
            }
        }
        other => panic!("no reference for {other}"),
    }
}

/// PAU by its plain formula: `P/Q`, `(P'Q − PQ')/Q²`, `xʲ/Q`, `−sgn(bₖ)·P·|x|ᵏ/Q²`.
fn pau_direct(p: &[f64], x: f64) -> Expected {
    let (a, b) = (&p[..6], &p[6..]);
    let pp: f64 = (0..6).map(|j| a[j] * x.powi(j as i32)).sum();
    let dp: f64 = (1..6).map(|j| j as f64 * a[j] * x.powi(j as i32 - 1)).sum();
    let q = 1.0
        + (1..5)
            .map(|k| b[k - 1].abs() * x.abs().powi(k as i32))
            .sum::<f64>();
    let dq = x.signum()
        * (1..5)
            .map(|k| k as f64 * b[k - 1].abs() * x.abs().powi(k as i32 - 1))
            .sum::<f64>();
    let mut dparams: Vec<f64> = (0..6).map(|j: i32| x.powi(j) / q).collect();
    dparams.extend((1..5).map(|k| -b[k - 1].signum() * pp * x.abs().powi(k as i32) / (q * q)));
    Expected {
        value: pp / q,
        dx: (dp * q - pp * dq) / (q * q),
        dparams,
    }
}

/// PAU in `t = 1/x` (0 at ±∞): `P(x) = x⁵·P̃(t)`, `P̃(t) = Σⱼ aⱼ·t⁵⁻ʲ`, and
/// `Q(x) = |x|⁴·Q̃(|t|)`, `Q̃(s) = s⁴ + Σₖ |bₖ|·s⁴⁻ᵏ`, so that `PAU(x) = x·R(t)`,
/// `R = P̃/Q̃`. Then `dy/dx = R − t·R'(t)`, `∂y/∂aⱼ = t⁴⁻ʲ/Q̃` for `j ≤ 4` and `x/Q̃` for
/// `j = 5`, `∂y/∂bₖ = −sgn(bₖ)·(P̃/Q̃²)·x·|t|⁴⁻ᵏ`, where `x·|t|⁴⁻ᵏ` is `x` for `k = 4` and
/// `sgn(x)·|t|³⁻ᵏ` below. The limits at ±∞: `±∞·a₅/b₄`, slope `a₅/|b₄|`, and so on.
fn pau_tail(p: &[f64], x: f64) -> Expected {
    let (a, b) = (&p[..6], &p[6..]);
    let t = 1.0 / x;
    let s = t.abs();
    let pt: f64 = (0..6).map(|j| a[j] * t.powi(5 - j as i32)).sum();
    let dpt: f64 = (0..5)
        .map(|j| (5 - j) as f64 * a[j] * t.powi(4 - j as i32))
        .sum();
    let qt = s.powi(4)
        + (1..5)
            .map(|k| b[k - 1].abs() * s.powi(4 - k as i32))
            .sum::<f64>();
    let dqt = t.signum()
        * (4.0 * s.powi(3)
            + (1..4)
                .map(|k| (4 - k) as f64 * b[k - 1].abs() * s.powi(3 - k as i32))
                .sum::<f64>());
    let r = pt / qt;
    let dr = (dpt * qt - pt * dqt) / (qt * qt);
    let mut dparams: Vec<f64> = (0..5).map(|j: i32| t.powi(4 - j) / qt).collect();
    dparams.push(x / qt);
    dparams.extend((1..5).map(|k| {
        let x_scaled = if k == 4 {
            x
        } else {
            x.signum() * s.powi(3 - k as i32)
        };
        -b[k - 1].signum() * pt / (qt * qt) * x_scaled
    }));
    Expected {
        value: x * r,
        dx: r - t * dr,
        dparams,
    }
}

/// The variant `name` (plain or `elsa-…`) with parameters `p`.
fn reference(name: &str, p: &[f64], x: f64, noise: f64) -> Expected {
    let Some(base) = name.strip_prefix("elsa-") else {
        return base_reference(name, p, x, noise);
    };
    let n = p.len() - 2;
    let (alpha, beta) = (p[n], p[n + 1]);
    let mut e = base_reference(base, &p[..n], x, noise);
    let s = sigma(beta);
    let (l, dl, d_alpha, d_beta) = if x < 0.0 {
        (clamp_alpha(alpha) * x, clamp_alpha(alpha), x, 0.0)
    } else {
        (s * x, s, 0.0, s * (1.0 - s) * x)
    };
    e.value = if base == "apl" && x < 0.0 {
        // a·(b − x) + C(α)·x written as a·b + (C(α) − a)·x, whose limit at −∞ is −∞ for the
        // default a < C(α) (the sum of the two terms would be ∞ − ∞).
        let (a, b) = (p[0], p[1]);
        a * b + (clamp_alpha(alpha) - a) * x
    } else {
        e.value + l
    };
    e.dx += dl;
    e.dparams.push(d_alpha);
    e.dparams.push(d_beta);
    e
}

/// `got` equals `want` (already rounded to the type under test): the same infinity, or
/// within `rel` relative error plus the type's smallest normal number (`tiny`).
fn check(what: &str, got: f64, want: f64, rel: f64, tiny: f64, failures: &mut Vec<String>) {
    let ok = if want.is_infinite() {
        got == want
    } else {
        got.is_finite() && (got - want).abs() <= rel * want.abs() + tiny
    };
    if !ok {
        failures.push(format!("{what}: got {got:e}, expected {want:e}"));
    }
}

#[test]
fn extreme_inputs_give_the_formulas_values_and_limits() {
    let variants = all_variants();
    assert_eq!(variants.len(), 37);
    let mut failures = Vec::new();
    for act in &variants {
        let name = act.name();
        let p64 = act.params();
        let p32: Vec<f32> = p64.iter().map(|&v| v as f32).collect();
        let p32_as_64: Vec<f64> = p32.iter().map(|&v| v as f64).collect();
        let noises: &[f64] = if act.stochastic() {
            &[0.5, 0.1]
        } else {
            &[0.5]
        };
        for &noise in noises {
            for magnitude in MAGNITUDES {
                for x in [magnitude, -magnitude] {
                    // f64
                    let want = reference(&name, &p64, x, noise);
                    let (dx, dparams) = act.grads64(&p64, x, noise);
                    let at = |what: &str| format!("{name} f64 {what} at x = {x:e}");
                    let (rel, tiny) = (1e-12, f64::MIN_POSITIVE);
                    check(
                        &at("value"),
                        act.value64(&p64, x, noise),
                        want.value,
                        rel,
                        tiny,
                        &mut failures,
                    );
                    check(&at("dy/dx"), dx, want.dx, rel, tiny, &mut failures);
                    for (j, (&g, &w)) in dparams.iter().zip(&want.dparams).enumerate() {
                        let what = format!("dy/d{}", act.param_names()[j]);
                        check(&at(&what), g, w, rel, tiny, &mut failures);
                    }
                    assert_eq!(dparams.len(), want.dparams.len(), "{name}");

                    // f32: x rounded to f32 (f64::MAX becomes ∞, so f32::MAX stands for it)
                    let x32 = if magnitude == f64::MAX {
                        f32::MAX.copysign(x as f32)
                    } else {
                        x as f32
                    };
                    let want = reference(&name, &p32_as_64, x32 as f64, noise);
                    let (dx, dparams) = act.grads32(&p32, x32, noise as f32);
                    let at = |what: &str| format!("{name} f32 {what} at x = {x32:e}");
                    let round = |v: f64| v as f32 as f64;
                    let (rel, tiny) = (2e-5, f32::MIN_POSITIVE as f64);
                    check(
                        &at("value"),
                        act.value32(&p32, x32, noise as f32) as f64,
                        round(want.value),
                        rel,
                        tiny,
                        &mut failures,
                    );
                    check(
                        &at("dy/dx"),
                        dx as f64,
                        round(want.dx),
                        rel,
                        tiny,
                        &mut failures,
                    );
                    for (j, (&g, &w)) in dparams.iter().zip(&want.dparams).enumerate() {
                        let what = format!("dy/d{}", act.param_names()[j]);
                        check(&at(&what), g as f64, round(w), rel, tiny, &mut failures);
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The reference's tail form of PAU is the same function as its plain formula: they agree
/// where the plain formula is still accurate in `f64`.
#[test]
fn pau_tail_reference_agrees_with_the_plain_formula() {
    let act = all_variants()
        .into_iter()
        .find(|a| a.name() == "pau")
        .unwrap();
    let perturbed: Vec<f64> = act.params().iter().map(|v| v + 0.05).collect();
    for p in [act.params(), perturbed] {
        for x in [1e3, -1e3, 37.5, -37.5, 2.0, -2.0] {
            let (direct, tail) = (pau_direct(&p, x), pau_tail(&p, x));
            let values = [direct.value, direct.dx]
                .into_iter()
                .chain(direct.dparams)
                .zip([tail.value, tail.dx].into_iter().chain(tail.dparams));
            for (i, (d, t)) in values.enumerate() {
                assert!(
                    (d - t).abs() <= 1e-10 * d.abs().max(1e-300),
                    "quantity {i} at {x}: plain {d:e}, tail {t:e}"
                );
            }
        }
    }
}
