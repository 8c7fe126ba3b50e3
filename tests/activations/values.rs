//! Values at reference points, worked out by hand from the spec's formulas and defaults.

use arelu::*;

fn close(got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-12 * want.abs().max(1.0),
        "got {got}, want {want}"
    );
}

#[test]
fn fixed_activations_match_reference_values() {
    close(Relu.eval(-2.0), 0.0);
    close(Relu.eval(3.0), 3.0);
    close(Relu6.eval(7.0), 6.0);
    close(Relu6.eval(2.5), 2.5);
    close(Relu6.eval(-1.0), 0.0);
    close(LeakyRelu::default().eval(-2.0), -0.02);
    close(LeakyRelu::new(0.2).unwrap().eval(-2.0), -0.4);
    close(LeakyRelu::default().eval(4.0), 4.0);
    // Evaluation-mode slope (1/8 + 1/3) / 2 = 11/48.
    close(Rrelu::default().eval(-3.0), -3.0 * 11.0 / 48.0);
    close(Rrelu::default().eval(2.0), 2.0);
    close(Celu::default().eval(-1.0), -0.632_120_558_828_557_7);
    close(
        Celu::new(2.0).unwrap().eval(-2.0),
        2.0 * -0.632_120_558_828_557_7,
    );
    close(Celu::default().eval(1.5), 1.5);
    close(Elu::default().eval(-2.0), -0.864_664_716_763_387_3);
    close(
        Elu::new(0.5).unwrap().eval(-2.0),
        0.5 * -0.864_664_716_763_387_3,
    );
    close(Gelu.eval(1.0), 0.841_222_702_650_805);
    close(Gelu.eval(-1.0), -0.158_777_297_349_195);
    close(Maxout::default().eval(-1.25), -1.25);
    close(Selu.eval(-1.0), -1.111_330_737_812_562_5);
    close(Selu.eval(2.0), 2.0 * 1.050_700_987_355_480_5);
    close(Sigmoid.eval(0.0), 0.5);
    close(Sigmoid.eval(1.0), 0.731_058_578_630_004_9);
    close(Softplus::default().eval(0.0), std::f64::consts::LN_2);
    close(Softplus::default().eval(-1.0), 0.313_261_687_518_222_86);
    close(Softplus::default().eval(25.0), 25.0); // above the threshold: x itself
    close(
        Softplus::new(2.0, 20.0).unwrap().eval(0.0),
        std::f64::consts::LN_2 / 2.0,
    );
    close(Swish.eval(1.0), 0.731_058_578_630_004_9);
    close(Tanh.eval(0.5), 0.462_117_157_260_009_74);
}

#[test]
fn learnable_activations_match_reference_values() {
    // APL: max(0, x) + 0.2·max(0, −x + 0.5).
    close(Apl::<1>::default().eval(-1.0), 0.3);
    close(Apl::<1>::default().eval(2.0), 2.0);
    close(Apl::<1>::default().eval(0.25), 0.25 + 0.2 * 0.25);
    close(
        Apl::<2> {
            a: [0.2, 1.0],
            b: [0.5, -1.0],
        }
        .eval(-2.0),
        0.2 * 2.5 + 1.0 * 1.0,
    );
    // Mixture with p = 0 is ReLU; with p = 0.5 it halves negatives.
    close(Mixture::default().eval(-2.0), 0.0);
    close(Mixture { p: 0.5 }.eval(-2.0), -1.0);
    close(Mixture { p: 0.5 }.eval(2.0), 2.0);
    // PAU: P(0)/Q(0) = a0; the others worked out from the coefficient table.
    close(Pau::default().eval(0.0), 3.355_836_03e-02);
    close(Pau::default().eval(1.0), 1.000_811_258_634_497_7);
    close(Pau::default().eval(-1.0), -0.009_188_728_483_088_81);
    close(Pau::default().eval(2.0), 2.001_153_749_049_268);
    close(Prelu::default().eval(-2.0), -0.5);
    close(Prelu::default().eval(2.0), 2.0);
    close(Slaf::<2>::default().eval(3.0), 4.0);
    close(
        Slaf::<3> {
            c: [1.0, -2.0, 0.5],
        }
        .eval(2.0),
        1.0 - 4.0 + 2.0,
    );
    // AReLU: C(0.9)·x and (1 + σ(2))·x.
    close(Arelu::default().eval(-2.0), -1.8);
    close(Arelu::default().eval(2.0), 3.761_594_155_955_764_4);
    // α is clamped into [0.01, 0.99].
    close(Arelu::new(1.5, 2.0).eval(-1.0), -0.99);
    close(Arelu::new(-3.0, 2.0).eval(-1.0), -0.01);
}

#[test]
fn elsa_adds_the_attention_term_to_its_base() {
    close(Elsa::<Swish>::default().eval(1.5), 2.547_557_331_257_289);
    // Negative side: A(x) + C(α)·x.
    close(Elsa::<Relu>::default().eval(-2.0), -1.8);
    close(Elsa::new(LeakyRelu::default()).eval(-2.0), -0.02 - 1.8);
    close(
        Elsa::new(Tanh).with_alpha_beta(0.5, 0.0).eval(1.0),
        0.761_594_155_955_764_9 + 0.5,
    );
}

#[test]
fn default_parameters_follow_the_spec() {
    assert_eq!(Arelu::default().params(), [0.9, 2.0]);
    assert_eq!(Elsa::<Pau>::default().params()[10..], [0.9, 2.0]);
    assert_eq!(Prelu::default().params(), [0.25]);
    assert_eq!(Mixture::default().params(), [0.0]);
    assert_eq!(Apl::<1>::default().params(), [0.2, 0.5]);
    assert_eq!(Apl::<3>::default().num_params(), 6);
    assert_eq!(Slaf::<2>::default().params(), [1.0, 1.0]);
    assert_eq!(Pau::default().num_params(), 10);
    assert_eq!(LeakyRelu::default().slope(), 0.01);
    assert_eq!(Rrelu::default().bounds(), (0.125, 1.0 / 3.0));
    assert_eq!(Softplus::default().settings(), (1.0, 20.0));
    assert_eq!(Maxout::default().group(), 1);
}

#[test]
fn set_params_checks_the_count_and_round_trips() {
    let mut a = Elsa::<Prelu>::default();
    assert_eq!(a.param_names(), ["a", "alpha", "beta"]);
    a.set_params(&[0.1, 0.5, -1.0]).unwrap();
    assert_eq!(a.params(), [0.1, 0.5, -1.0]);
    let err = a.set_params(&[1.0]).unwrap_err();
    assert_eq!(
        err,
        ActivationError::ParamCount {
            activation: "elsa-prelu".into(),
            expected: 3,
            got: 1
        }
    );
    assert!(Relu.clone().set_params(&[1.0]).is_err());
    assert!(Relu.clone().set_params(&[]).is_ok());
}

#[test]
fn invalid_hyperparameters_are_typed_errors() {
    assert!(matches!(
        Rrelu::new(0.5, 0.1),
        Err(ActivationError::InvalidHyperparameter {
            activation: "rrelu",
            ..
        })
    ));
    assert!(Rrelu::new(f64::NAN, 0.1).is_err());
    assert!(Celu::new(0.0).is_err());
    assert!(Softplus::new(0.0, 20.0).is_err());
    assert!(Softplus::new(1.0, f64::NAN).is_err());
    assert!(LeakyRelu::new(f64::INFINITY).is_err());
    assert!(Elu::new(f64::NAN).is_err());
    assert!(Maxout::new(0).is_err());
    assert!(Maxout::new(2).unwrap().check_elementwise().is_err());
    assert!(Maxout::default().check_elementwise().is_ok());
    assert!(Elsa::new(Maxout::new(3).unwrap())
        .check_elementwise()
        .is_err());
}

#[test]
fn grouped_maxout_takes_the_max_of_each_channel_group() {
    let maxout = Maxout::new(2).unwrap();
    // outer 2, channels 4, inner 1
    let x = [1.0, 5.0, -2.0, -3.0, 0.0, 0.0, 9.0, f64::NAN];
    let y = maxout.forward_grouped(&x, 4, 1).unwrap();
    assert_eq!(y[..3], [5.0, -2.0, 0.0]);
    assert!(y[3].is_nan());
    let g = maxout
        .backward_grouped(&x, 4, 1, &[1.0, 2.0, 3.0, 4.0])
        .unwrap();
    // Ties go to the first maximum; NaN takes the gradient.
    assert_eq!(g, [0.0, 1.0, 2.0, 0.0, 3.0, 0.0, 0.0, 4.0]);
    assert!(maxout.forward_grouped(&x, 3, 1).is_err());
    assert!(maxout.forward_grouped(&x[..7], 4, 1).is_err());
    assert!(maxout.backward_grouped(&x, 4, 1, &[1.0]).is_err());
    // Group size 1 is the identity.
    assert_eq!(
        Maxout::default().forward_grouped(&x[..4], 4, 1).unwrap(),
        x[..4]
    );
}
