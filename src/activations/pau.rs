//! PAU, the Padé activation unit of degree (5, 4) in its "safe" form.

use crate::activation::Float;

use crate::activation::{cast, check_param_count, Activation};
use crate::error::ActivationError;

/// Numerator degree.
const M: usize = 5;
/// Denominator degree.
const N: usize = 4;

/// `PAU(x) = P(x) / Q(x)`, `P(x) = Σ_{j=0..5} aⱼ·xʲ`, `Q(x) = 1 + Σ_{k=1..4} |bₖ|·|x|ᵏ`,
/// initialised to the reference implementation's fit of leaky ReLU. Ten parameters, in order:
/// `a0..a5`, `b1..b4`. Runs on the CPU (the reference runs PAU on CUDA only).
///
/// At `x = 0` and `bₖ = 0` the derivative of `|·|` is taken as 0, as PyTorch's `abs` does.
/// At `x = ±∞`, the value is the limit of `P/Q` (`0·∞` would otherwise give NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pau {
    /// Numerator coefficients `a0..a5`.
    pub numerator: [f64; M + 1],
    /// Denominator coefficients `b1..b4`.
    pub denominator: [f64; N],
}

impl Default for Pau {
    fn default() -> Self {
        Self {
            numerator: [
                3.355_836_03e-02,
                5.050_003_75e-01,
                1.653_439_34e+00,
                2.010_010_52e+00,
                9.319_019_99e-01,
                1.524_241_24e-01,
            ],
            denominator: [
                3.308_474_88e-06,
                3.980_215_68e+00,
                5.124_712_06e-07,
                3.018_301_09e-01,
            ],
        }
    }
}

/// The per-pass constants of [`Pau`].
#[derive(Debug, Clone, Copy)]
pub struct PauPrepared<F> {
    a: [F; M + 1],
    b_abs: [F; N],
    b_sign: [F; N],
    /// The limits at `+∞` and `−∞`, worked out once per pass so that the per-element value
    /// is a select, not a branch into [`Pau::limit`].
    limits: [F; 2],
}

/// `sign(t)` with `sign(0) = 0`, as PyTorch's `abs` gradient.
#[inline(always)]
fn sign<F: Float>(t: F) -> F {
    if t > F::zero() {
        F::one()
    } else if t < F::zero() {
        -F::one()
    } else {
        F::zero()
    }
}

impl Pau {
    /// The limit of `P(x)/Q(x)` for an infinite `x`.
    fn limit<F: Float>(p: &PauPrepared<F>, x: F) -> F {
        let lead_p = (0..=M).rev().find(|&j| p.a[j] != F::zero());
        let lead_q = (1..=N)
            .rev()
            .find(|&k| p.b_abs[k - 1] != F::zero())
            .unwrap_or(0);
        let q_coefficient = if lead_q == 0 {
            F::one()
        } else {
            p.b_abs[lead_q - 1]
        };
        match lead_p {
            None => F::zero(),
            Some(j) if j < lead_q => F::zero(),
            Some(j) if j == lead_q => p.a[j] / q_coefficient,
            Some(j) => {
                let odd_negative = x < F::zero() && j % 2 == 1;
                let positive = (p.a[j] > F::zero()) != odd_negative;
                if positive {
                    F::infinity()
                } else {
                    F::neg_infinity()
                }
            }
        }
    }

    /// `(P, Q, powers of x, powers of |x|)`.
    ///
    /// The per-element code (this and the backward pass) loops over exclusive ranges: the
    /// compiler unrolls those, and the loop over the elements then becomes vector code
    /// (inclusive ranges, `1..=N`, stayed loops and kept it scalar).
    #[inline(always)]
    fn terms<F: Float>(p: &PauPrepared<F>, x: F) -> (F, F, [F; M + 1], [F; N + 1]) {
        let mut x_pow = [F::one(); M + 1];
        for j in 1..M + 1 {
            x_pow[j] = x_pow[j - 1] * x;
        }
        let ax = x.abs();
        let mut ax_pow = [F::one(); N + 1];
        for k in 1..N + 1 {
            ax_pow[k] = ax_pow[k - 1] * ax;
        }
        let mut numerator = F::zero();
        for (&a, &power) in p.a.iter().zip(&x_pow) {
            numerator = numerator + a * power;
        }
        let mut denominator = F::one();
        for (&b, &power) in p.b_abs.iter().zip(&ax_pow[1..]) {
            denominator = denominator + b * power;
        }
        (numerator, denominator, x_pow, ax_pow)
    }
}

impl Activation for Pau {
    type Prepared<F: Float> = PauPrepared<F>;

    fn name(&self) -> String {
        "pau".into()
    }
    fn param_names(&self) -> Vec<String> {
        (0..=M)
            .map(|j| format!("a{j}"))
            .chain((1..=N).map(|k| format!("b{k}")))
            .collect()
    }
    fn params(&self) -> Vec<f64> {
        self.numerator
            .iter()
            .chain(&self.denominator)
            .copied()
            .collect()
    }
    fn set_params(&mut self, values: &[f64]) -> Result<(), ActivationError> {
        check_param_count("pau", M + 1 + N, values)?;
        self.numerator.copy_from_slice(&values[..=M]);
        self.denominator.copy_from_slice(&values[M + 1..]);
        Ok(())
    }
    fn num_params(&self) -> usize {
        M + 1 + N
    }
    #[inline(always)]
    fn prepare<F: Float>(&self, params: &[F]) -> PauPrepared<F> {
        let mut prepared = PauPrepared {
            a: core::array::from_fn(|j| params[j]),
            b_abs: core::array::from_fn(|k| params[M + 1 + k].abs()),
            b_sign: core::array::from_fn(|k| sign(params[M + 1 + k])),
            limits: [F::zero(); 2],
        };
        prepared.limits = [
            Self::limit(&prepared, F::infinity()),
            Self::limit(&prepared, F::neg_infinity()),
        ];
        prepared
    }
    #[inline(always)]
    fn value<F: Float>(&self, p: &PauPrepared<F>, x: F, _noise: F) -> F {
        let (numerator, denominator, _, _) = Self::terms(p, x);
        let finite = numerator / denominator;
        // selects, so that the loop over the elements stays vector code
        let infinite = if x > F::zero() {
            p.limits[0]
        } else {
            p.limits[1]
        };
        if x.is_infinite() {
            infinite
        } else {
            finite
        }
    }
    #[inline(always)]
    fn backward<F: Float>(
        &self,
        p: &PauPrepared<F>,
        x: F,
        _noise: F,
        grad_out: F,
        param_grads: &mut [F],
    ) -> F {
        let (numerator, denominator, x_pow, ax_pow) = Self::terms(p, x);
        let inv_q = denominator.recip();
        let y_over_q = numerator * inv_q * inv_q; // P / Q²
        let mut d_numerator = F::zero();
        for (grad, &power) in param_grads.iter_mut().zip(&x_pow) {
            *grad = *grad + grad_out * power * inv_q;
        }
        for j in 1..M + 1 {
            d_numerator = d_numerator + cast::<F>(j as f64) * p.a[j] * x_pow[j - 1];
        }
        let mut d_denominator = F::zero();
        for k in 1..N + 1 {
            d_denominator = d_denominator + cast::<F>(k as f64) * p.b_abs[k - 1] * ax_pow[k - 1];
            param_grads[M + k] =
                param_grads[M + k] - grad_out * y_over_q * p.b_sign[k - 1] * ax_pow[k];
        }
        d_denominator = d_denominator * sign(x);
        grad_out * (d_numerator * inv_q - y_over_q * d_denominator)
    }
}
