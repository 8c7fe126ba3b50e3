//! The bulk forms ([`Activation::BULK_BOUND`], [`Activation::BACKWARD_BULK_BOUND`]): for all
//! 37 variants, in `f32` and `f64`, `value_bulk` and `backward_bulk` return bit for bit what
//! `value` and `backward` return at every finite input within their bounds, for both the
//! evaluation noise and a training draw.

use arelu::{Activation, ActivationName, ActivationVisitor, Float};

/// Finite inputs from 10⁻⁴⁰ up to `F::max_value()`, both signs, with a few mantissas per
/// decade, plus ±0; those within `bound` (all of them for `None`, which the caller skips).
fn inputs<F: Float>(bound: f64) -> Vec<F> {
    let mut out = vec![F::zero(), -F::zero()];
    let max = F::max_value().to_f64().unwrap();
    for exponent in -40..=308 {
        for mantissa in [1.0, 1.37, 2.5, 7.9] {
            let v = mantissa * 10f64.powi(exponent);
            if v <= bound && v <= max {
                for x in [v, -v] {
                    out.push(F::from(x).unwrap());
                }
            }
        }
    }
    // the bound itself and the number just below it
    if bound <= max {
        let b = F::from(bound).unwrap();
        let below = F::from(bound * (1.0 - 1e-7)).unwrap();
        out.extend([b, -b, below, -below]);
    }
    out
}

fn bits<F: Float>(values: &[F]) -> Vec<u64> {
    values
        .iter()
        .map(|v| v.to_f64().unwrap().to_bits())
        .collect()
}

fn check<A: Activation, F: Float>(act: &A) -> usize {
    let params: Vec<F> = act.params().iter().map(|&p| F::from(p).unwrap()).collect();
    let prepared = act.prepare(&params);
    let mut checked = 0;
    for noise in [0.5, 0.123].map(|u| F::from(u).unwrap()) {
        if let Some(bound) = A::BULK_BOUND {
            for x in inputs::<F>(bound) {
                let general = act.value(&prepared, x, noise);
                let bulk = act.value_bulk(&prepared, x, noise);
                assert_eq!(
                    bits(&[general]),
                    bits(&[bulk]),
                    "{}: value at {x:?}",
                    act.name()
                );
                checked += 1;
            }
        }
        if let Some(bound) = A::BACKWARD_BULK_BOUND {
            for x in inputs::<F>(bound) {
                let mut general_grads = vec![F::zero(); params.len()];
                let mut bulk_grads = general_grads.clone();
                let dy = F::from(0.75).unwrap();
                let g = act.backward(&prepared, x, noise, dy, &mut general_grads);
                let b = act.backward_bulk(&prepared, x, noise, dy, &mut bulk_grads);
                assert_eq!(bits(&[g]), bits(&[b]), "{}: dy/dx at {x:?}", act.name());
                assert_eq!(
                    bits(&general_grads),
                    bits(&bulk_grads),
                    "{}: parameter gradients at {x:?}",
                    act.name()
                );
                checked += 1;
            }
        }
    }
    checked
}

struct Check;

impl ActivationVisitor for Check {
    type Output = (String, usize);
    fn visit<A: Activation>(self) -> Self::Output {
        let act = A::default();
        (act.name(), check::<A, f32>(&act) + check::<A, f64>(&act))
    }
}

#[test]
fn every_bulk_form_is_the_general_one_bit_for_bit_within_its_bound() {
    let checked: Vec<(String, usize)> = ActivationName::all().map(|n| n.visit(Check)).collect();
    assert_eq!(checked.len(), 37);
    // the variants that have a bulk form were checked, and at many points
    let count = |name: &str| checked.iter().find(|(n, _)| n == name).unwrap().1;
    for name in [
        "pau",
        "gelu",
        "elsa-pau",
        "elsa-gelu",
        "elsa-swish",
        "elsa-relu",
    ] {
        assert!(count(name) > 500, "{name}: {}", count(name));
    }
    // bases without one: none checked
    assert_eq!(count("relu"), 0);
    assert_eq!(count("swish"), 0);
}
