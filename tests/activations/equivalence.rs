//! AReLU equals ELSA around ReLU, in value and in every gradient.

use arelu::{Activation, Arelu, Elsa, Relu};

/// Equal up to rounding: AReLU computes `(1 + σ(β))·x`, ELSA around ReLU `x + σ(β)·x`.
fn same(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 4.0 * f64::EPSILON * a.abs().max(b.abs())
}

#[test]
fn arelu_equals_elsa_relu_for_every_x_alpha_beta() {
    let xs: Vec<f64> = (-40..=40).map(|i| i as f64 * 0.125).collect();
    // α inside, on and outside [0.01, 0.99]; β of either sign.
    let alphas = [-1.0, 0.0, 0.005, 0.01, 0.3, 0.9, 0.99, 0.995, 1.5];
    let betas = [-3.0, -0.5, 0.0, 2.0, 7.0];
    let mut checked = 0;
    for &alpha in &alphas {
        for &beta in &betas {
            let arelu = Arelu::new(alpha, beta);
            let elsa = Elsa::new(Relu).with_alpha_beta(alpha, beta);
            for &x in &xs {
                let (ya, ye) = (arelu.eval(x), elsa.eval(x));
                assert!(
                    same(ya, ye),
                    "value at x={x} α={alpha} β={beta}: {ya} vs {ye}"
                );
                let (dx_a, dp_a) = arelu.derivatives(x);
                let (dx_e, dp_e) = elsa.derivatives(x);
                assert!(
                    same(dx_a, dx_e),
                    "d/dx at x={x} α={alpha} β={beta}: {dx_a} vs {dx_e}"
                );
                assert_eq!(dp_a.len(), 2);
                for (a, e) in dp_a.iter().zip(&dp_e) {
                    assert!(
                        same(*a, *e),
                        "d/dparams at x={x} α={alpha} β={beta}: {a} vs {e}"
                    );
                }
                if !(0.01..=0.99).contains(&alpha) {
                    assert_eq!(dp_a[0], 0.0, "the clamp cuts α's gradient at α={alpha}");
                } else if x < 0.0 {
                    assert_eq!(dp_a[0], x);
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 81 * alphas.len() * betas.len());
}
