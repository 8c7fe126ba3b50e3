//! NaN in gives NaN out; infinities give the formula's limit; nothing panics.

use crate::all_variants;

#[test]
fn nan_in_gives_nan_out() {
    for act in all_variants() {
        let params = act.params();
        for noise in [0.5, 0.1] {
            assert!(
                act.value64(&params, f64::NAN, noise).is_nan(),
                "{}",
                act.name()
            );
            assert!(
                act.value32(
                    &params.iter().map(|&v| v as f32).collect::<Vec<_>>(),
                    f32::NAN,
                    noise as f32
                )
                .is_nan(),
                "{}",
                act.name()
            );
            // The backward pass must not panic either.
            let _ = act.grads64(&params, f64::NAN, noise);
        }
    }
}

/// `(name, f(+∞), f(−∞))` with the default parameters, worked out from each formula.
fn limits() -> Vec<(&'static str, f64, f64)> {
    let inf = f64::INFINITY;
    let selu_neg = -1.050_700_987_355_480_5 * 1.673_263_242_354_377_3;
    vec![
        ("relu", inf, 0.0),
        ("relu6", 6.0, 0.0),
        ("leaky_relu", inf, -inf),
        ("rrelu", inf, -inf),
        ("celu", inf, -1.0),
        ("elu", inf, -1.0),
        ("gelu", inf, 0.0),
        ("maxout", inf, -inf),
        ("selu", inf, selu_neg),
        ("sigmoid", 1.0, 0.0),
        ("softplus", inf, 0.0),
        ("swish", inf, 0.0),
        ("tanh", 1.0, -1.0),
        ("apl", inf, inf),
        ("mixture", inf, 0.0),
        ("pau", inf, -inf),
        ("prelu", inf, -inf),
        ("slaf", inf, -inf),
        ("arelu", inf, -inf),
    ]
}

#[test]
fn infinities_give_the_limits_of_the_formulas() {
    let variants = all_variants();
    for (name, plus, minus) in limits() {
        let act = variants.iter().find(|a| a.name() == name).unwrap();
        let p = act.params();
        assert_eq!(act.value64(&p, f64::INFINITY, 0.5), plus, "{name}(+inf)");
        assert_eq!(
            act.value64(&p, f64::NEG_INFINITY, 0.5),
            minus,
            "{name}(-inf)"
        );
        // ELSA adds σ(β)·∞ on the right and C(α)·(−∞) on the left.
        let elsa = format!("elsa-{name}");
        if let Some(wrapped) = variants.iter().find(|a| a.name() == elsa) {
            let p = wrapped.params();
            let right = wrapped.value64(&p, f64::INFINITY, 0.5);
            let left = wrapped.value64(&p, f64::NEG_INFINITY, 0.5);
            assert_eq!(right, f64::INFINITY, "{elsa}(+inf)");
            // Also for APL, whose +∞ at −∞ loses to C(α)·x: a·(b − x) + C(α)·x is
            // a·b + (C(α) − a)·x with C(α) = 0.9 > a = 0.2.
            assert_eq!(left, f64::NEG_INFINITY, "{elsa}(-inf)");
        }
    }
}

#[test]
fn huge_and_tiny_inputs_stay_finite_where_the_function_is() {
    for act in all_variants() {
        let p = act.params();
        for x in [1e-300, -1e-300, 1e3, -1e3] {
            let y = act.value64(&p, x, 0.5);
            assert!(!y.is_nan(), "{}({x}) is NaN", act.name());
        }
    }
}
