//! Central finite differences (f64) against the analytic gradients, for all 37 variants: the
//! derivative in x and the derivative in every learnable parameter.

use crate::all_variants;

/// Points away from every kink (0, 6, the APL hinge at 0.5, Softplus' threshold).
const XS: [f64; 10] = [-3.1, -1.7, -0.6, -0.23, 0.11, 0.37, 0.81, 1.9, 2.7, 4.3];
const H: f64 = 1e-6;

fn assert_close(what: &str, analytic: f64, numeric: f64) {
    let tolerance = 1e-6 * analytic.abs().max(numeric.abs()).max(1.0);
    assert!(
        (analytic - numeric).abs() <= tolerance,
        "{what}: analytic {analytic}, finite difference {numeric}"
    );
}

/// Parameter values away from the defaults, so that no gradient is checked only at a
/// special point (PAU's tiny b1 and b3 become clearly non-zero, Mixture's p non-zero).
fn perturbed(params: &[f64]) -> Vec<f64> {
    params
        .iter()
        .enumerate()
        .map(|(i, &p)| p + 0.05 + 0.01 * i as f64)
        .collect()
}

#[test]
fn every_gradient_matches_central_differences() {
    let variants = all_variants();
    assert_eq!(variants.len(), 37);
    for act in &variants {
        for params in [act.params(), perturbed(&act.params())] {
            for noise in [0.5, 0.2] {
                for &x in &XS {
                    let name = act.name();
                    let (dx, dparams) = act.grads64(&params, x, noise);
                    let numeric_dx = (act.value64(&params, x + H, noise)
                        - act.value64(&params, x - H, noise))
                        / (2.0 * H);
                    assert_close(&format!("{name} d/dx at {x}"), dx, numeric_dx);
                    assert_eq!(dparams.len(), params.len(), "{name}");
                    for j in 0..params.len() {
                        // PAU's default b1 and b3 lie within H of the kink of |b| at 0: the
                        // step stays on their side of it.
                        let h = if params[j] == 0.0 {
                            H
                        } else {
                            H.min(params[j].abs() / 10.0)
                        };
                        let mut up = params.clone();
                        let mut down = params.clone();
                        up[j] += h;
                        down[j] -= h;
                        let numeric =
                            (act.value64(&up, x, noise) - act.value64(&down, x, noise)) / (2.0 * h);
                        let param = &act.param_names()[j];
                        assert_close(&format!("{name} d/d{param} at {x}"), dparams[j], numeric);
                    }
                }
            }
        }
    }
}

#[test]
fn backward_scales_by_the_upstream_gradient_and_accumulates() {
    for act in all_variants() {
        let params = act.params();
        let (dx, dparams) = act.grads64(&params, -0.6, 0.5);
        // grads64 uses grad_out = 1; check linearity through value differences instead of
        // calling backward twice: a second call on the same buffer must add, not overwrite.
        let twice: Vec<f64> = dparams.iter().map(|g| 2.0 * g).collect();
        let mut acc = dparams.clone();
        let (_, again) = act.grads64(&params, -0.6, 0.5);
        for (a, g) in acc.iter_mut().zip(&again) {
            *a += g;
        }
        assert_eq!(acc, twice, "{}", act.name());
        assert!(dx.is_finite(), "{}", act.name());
    }
}

#[test]
fn kinks_follow_pytorch_autograd() {
    use arelu::*;
    assert_eq!(Relu.derivatives(0.0_f64).0, 0.0);
    assert_eq!(Relu6.derivatives(0.0_f64).0, 0.0);
    assert_eq!(Relu6.derivatives(6.0_f64).0, 0.0);
    assert_eq!(LeakyRelu::default().derivatives(0.0_f64).0, 0.01);
    assert_eq!(Prelu::default().derivatives(0.0_f64).0, 0.25);
    assert_eq!(Elu::new(0.5).unwrap().derivatives(0.0_f64).0, 0.5);
    assert_eq!(Celu::default().derivatives(0.0_f64).0, 1.0);
    // APL uses clamp_min, whose gradient passes at the boundary.
    let (dx, dp) = Apl::<1>::default().derivatives(0.5_f64);
    assert_eq!(dx, 1.0 - 0.2);
    assert_eq!(dp, [0.0, 0.2]);
    assert_eq!(Apl::<1>::default().derivatives(0.0_f64).0, 1.0 - 0.2);
    // AReLU at 0: ReLU'(0) = 0 plus the ELSA term's σ(β).
    let sigma2 = 1.0 / (1.0 + (-2.0f64).exp());
    assert_eq!(Arelu::default().derivatives(0.0_f64).0, sigma2);
    // PAU: sign(0) = 0 in the denominator.
    let (dx, _) = Pau::default().derivatives(0.0_f64);
    assert!((dx - 5.050_003_75e-01).abs() < 1e-12);
}

#[test]
fn rrelu_draws_its_slope_from_the_noise() {
    use arelu::*;
    let r = Rrelu::default();
    assert_eq!(r.value(&(), -1.0, 0.0), -0.125);
    assert!((r.value(&(), -1.0_f64, 1.0) + 1.0 / 3.0).abs() < 1e-15);
    assert!((r.value(&(), -1.0_f64, 0.5) - r.eval(-1.0_f64)).abs() < 1e-15);
    assert_eq!(r.value(&(), 2.0, 0.9), 2.0);
    const { assert!(<Rrelu as Activation>::STOCHASTIC) };
    const { assert!(<Elsa<Rrelu> as Activation>::STOCHASTIC) };
    const { assert!(!<Elsa<Relu> as Activation>::STOCHASTIC) };
}
