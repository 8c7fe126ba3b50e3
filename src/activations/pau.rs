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
/// At `x = ±∞`, the value is the limit of `P/Q` (`0·∞` would otherwise give NaN). Beyond
/// `|x| = 2²⁰` the value and gradients are worked out in `1/x`, where nothing overflows, so
/// they stay finite wherever the formula's are (`PAU(x) ≈ (a₅/|b₄|)·x` for large `|x|`) and
/// reach the formula's limits at `±∞`.
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
    /// The coefficients of `P̃(z) = x⁻⁵·P(x)` and `Q̃(|z|) = |x|⁻⁴·Q(x)` in `z = 1/x`, which
    /// [`Pau::terms`] uses in the tail; index 0 is the coefficient of `z⁰`.
    tail_p: [F; M + 1],
    tail_q: [F; N + 1],
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

    /// Where the evaluation switches to `z = 1/x` (2²⁰): below it `x⁵` and `Q(x)²` stay well
    /// inside `f32`'s range, so every result there is the plain formula's, bit for bit.
    const TAIL: f64 = 1_048_576.0;

    /// `(z, tail, P̃(z), Q̃(|z|), powers of z, powers of |z|)`, the scaled polynomials.
    /// With `tail_possible` false (the bulk form, `|x| ≤ TAIL`), the tail's selects are gone
    /// at compile time and the arithmetic left is the same, operation for operation.
    ///
    /// For `|x| ≤ TAIL`, `z = x`, `P̃ = P` and `Q̃ = Q`. Beyond, where `x⁵` overflows `f32` at
    /// 5·10⁷ and `0·∞` or `∞/∞` would follow, `z = 1/x`:
    /// `P(x) = x⁵·P̃(z)` with `P̃(z) = Σⱼ a₅₋ⱼ·zʲ`, and `Q(x) = |x|⁴·Q̃(|z|)` with
    /// `Q̃(s) = |b₄| + |b₃|·s + |b₂|·s² + |b₁|·s³ + s⁴`, so that `PAU(x) = x·P̃/Q̃`: every term
    /// stays finite, up to `x = ±∞` (`z = ±0`). Both cases run the same arithmetic on
    /// coefficients chosen by a select, so the per-element loop stays vector code.
    ///
    /// The per-element code (this and the backward pass) loops over exclusive ranges: the
    /// compiler unrolls those, and the loop over the elements then becomes vector code
    /// (inclusive ranges, `1..=N`, stayed loops and kept it scalar).
    #[inline(always)]
    fn terms<F: Float>(p: &PauPrepared<F>, x: F, tail_possible: bool) -> Terms<F> {
        let tail = tail_possible && x.abs() > cast(Self::TAIL);
        let z = if tail { x.recip() } else { x };
        // per-element selects between the two coefficient sets (not an index, which would be
        // a gather)
        let p_coefficients: [F; M + 1] =
            core::array::from_fn(|j| if tail { p.tail_p[j] } else { p.a[j] });
        let q_coefficients: [F; N + 1] = core::array::from_fn(|k| {
            let plain = if k == 0 { F::one() } else { p.b_abs[k - 1] };
            if tail {
                p.tail_q[k]
            } else {
                plain
            }
        });
        let mut z_pow = [F::one(); M + 1];
        for j in 1..M + 1 {
            z_pow[j] = z_pow[j - 1] * z;
        }
        let az = z.abs();
        let mut az_pow = [F::one(); N + 1];
        for k in 1..N + 1 {
            az_pow[k] = az_pow[k - 1] * az;
        }
        let mut numerator = F::zero();
        for (&a, &power) in p_coefficients.iter().zip(&z_pow) {
            numerator = numerator + a * power;
        }
        let mut denominator = q_coefficients[0];
        for (&b, &power) in q_coefficients[1..].iter().zip(&az_pow[1..]) {
            denominator = denominator + b * power;
        }
        Terms {
            z,
            tail,
            numerator,
            denominator,
            p_coefficients,
            q_coefficients,
            z_pow,
            az_pow,
        }
    }

    /// [`Activation::value`], or with `tail_possible` false its bulk form.
    #[inline(always)]
    fn value_form<F: Float>(p: &PauPrepared<F>, x: F, tail_possible: bool) -> F {
        let terms = Self::terms(p, x, tail_possible);
        let ratio = terms.numerator / terms.denominator;
        let finite = if terms.tail { x * ratio } else { ratio };
        if !tail_possible {
            return finite;
        }
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

    /// [`Activation::backward`], or with `tail_possible` false its bulk form.
    #[inline(always)]
    fn backward_form<F: Float>(
        p: &PauPrepared<F>,
        x: F,
        grad_out: F,
        param_grads: &mut [F],
        tail_possible: bool,
    ) -> F {
        let Terms {
            z,
            tail,
            numerator,
            denominator,
            p_coefficients,
            q_coefficients,
            z_pow,
            az_pow,
        } = Self::terms(p, x, tail_possible);
        let inv_q = denominator.recip();
        // P̃ / Q̃²
        let y_over_q = numerator * inv_q * inv_q;
        // ∂y/∂aⱼ = xʲ/Q, which is t⁴⁻ʲ/Q̃ (j ≤ 4) and x/Q̃ (j = 5) in the tail, t = z = 1/x.
        for (j, grad) in param_grads[..M + 1].iter_mut().enumerate() {
            let tail_power = if j == M { x } else { z_pow[M - 1 - j] };
            let power = if tail { tail_power } else { z_pow[j] };
            *grad = *grad + grad_out * power * inv_q;
        }
        let mut d_numerator = F::zero();
        for j in 1..M + 1 {
            d_numerator = d_numerator + cast::<F>(j as f64) * p_coefficients[j] * z_pow[j - 1];
        }
        // ∂y/∂bₖ = −sgn(bₖ)·P·|x|ᵏ/Q², which is −sgn(bₖ)·(P̃/Q̃²)·x·|t|⁴⁻ᵏ in the tail:
        // x·|t|⁴⁻ᵏ is x, sgn(x), t and t·|t| for k = 4, 3, 2, 1 (N = 4).
        let x_sign = sign(x);
        let mut d_denominator = F::zero();
        for k in 1..N + 1 {
            d_denominator = d_denominator + cast::<F>(k as f64) * q_coefficients[k] * az_pow[k - 1];
            let tail_power = match k {
                N => x,
                3 => x_sign,
                2 => z,
                _ => z * az_pow[1],
            };
            let power = if tail { tail_power } else { az_pow[k] };
            param_grads[M + k] = param_grads[M + k] - grad_out * y_over_q * p.b_sign[k - 1] * power;
        }
        d_denominator = d_denominator * sign(z);
        // d(P̃/Q̃)/dz; in the tail y = x·R(t) with R = P̃/Q̃, so dy/dx = R − t·R'(t).
        let d_ratio = d_numerator * inv_q - y_over_q * d_denominator;
        let dx = if tail {
            numerator * inv_q - z * d_ratio
        } else {
            d_ratio
        };
        grad_out * dx
    }
}

/// What [`Pau::terms`] works out for one element.
struct Terms<F> {
    /// `x`, or `1/x` in the tail.
    z: F,
    /// Whether `|x|` is beyond [`Pau::TAIL`].
    tail: bool,
    /// `P̃(z)`.
    numerator: F,
    /// `Q̃(|z|)`.
    denominator: F,
    /// The coefficients of `P̃`, by power of `z`.
    p_coefficients: [F; M + 1],
    /// The coefficients of `Q̃`, by power of `|z|`.
    q_coefficients: [F; N + 1],
    /// `z⁰..z⁵`.
    z_pow: [F; M + 1],
    /// `|z|⁰..|z|⁴`.
    az_pow: [F; N + 1],
}

impl Activation for Pau {
    type Prepared<F: Float> = PauPrepared<F>;
    /// 2²⁰: beyond it the general form changes to `z = 1/x`.
    const BULK_BOUND: Option<f64> = Some(Self::TAIL);

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
        let a: [F; M + 1] = core::array::from_fn(|j| params[j]);
        let b_abs: [F; N] = core::array::from_fn(|k| params[M + 1 + k].abs());
        // Q's constant term 1 and |b₁..b₄|, by power of |x|
        let q: [F; N + 1] = core::array::from_fn(|k| if k == 0 { F::one() } else { b_abs[k - 1] });
        let mut prepared = PauPrepared {
            a,
            b_abs,
            b_sign: core::array::from_fn(|k| sign(params[M + 1 + k])),
            tail_p: core::array::from_fn(|j| a[M - j]),
            tail_q: core::array::from_fn(|k| q[N - k]),
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
        Self::value_form(p, x, true)
    }
    #[inline(always)]
    fn value_bulk<F: Float>(&self, p: &PauPrepared<F>, x: F, _noise: F) -> F {
        Self::value_form(p, x, false)
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
        Self::backward_form(p, x, grad_out, param_grads, true)
    }
    #[inline(always)]
    fn backward_bulk<F: Float>(
        &self,
        p: &PauPrepared<F>,
        x: F,
        _noise: F,
        grad_out: F,
        param_grads: &mut [F],
    ) -> F {
        Self::backward_form(p, x, grad_out, param_grads, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inputs from 0 to the bulk bound on a log scale (up to 2²⁰ itself), both signs, plus the
    /// bound and the number just below it in `F`.
    fn inputs<F: Float>() -> Vec<F> {
        let bound = Pau::BULK_BOUND.unwrap();
        let below = cast::<F>(bound) - cast::<F>(bound) * F::epsilon() / cast(2.0);
        assert!(below < cast(bound));
        let mut x = vec![
            F::zero(),
            -F::zero(),
            cast(bound),
            cast(-bound),
            below,
            -below,
        ];
        for i in 0..=4000 {
            let magnitude = 10f64.powf(-40.0 + (40.0 + bound.log10()) * i as f64 / 4000.0);
            x.push(cast(magnitude.min(bound)));
            x.push(cast(-magnitude.min(bound)));
        }
        x
    }

    fn bulk_equals_general<A: Activation, F: Float>(act: A) {
        let params = act.params_as::<F>();
        let prepared = act.prepare(&params);
        let half = cast::<F>(0.5);
        for x in inputs::<F>() {
            let (general, bulk) = (
                act.value(&prepared, x, half),
                act.value_bulk(&prepared, x, half),
            );
            assert_eq!(
                general.to_f64().map(f64::to_bits),
                bulk.to_f64().map(f64::to_bits),
                "{x:?}"
            );
            let mut general_grads = vec![F::zero(); params.len()];
            let mut bulk_grads = general_grads.clone();
            let g = act.backward(&prepared, x, half, F::one(), &mut general_grads);
            let b = act.backward_bulk(&prepared, x, half, F::one(), &mut bulk_grads);
            let bits =
                |v: &[F]| -> Vec<u64> { v.iter().map(|t| t.to_f64().unwrap().to_bits()).collect() };
            assert_eq!(bits(&[g]), bits(&[b]), "dy/dx at {x:?}");
            assert_eq!(
                bits(&general_grads),
                bits(&bulk_grads),
                "parameter gradients at {x:?}"
            );
        }
    }

    #[test]
    fn the_bulk_form_is_the_general_one_bit_for_bit_within_its_bound() {
        let other = Pau {
            numerator: [0.1, -0.7, 0.3, 1.5, -0.2, 0.05],
            denominator: [-0.5, 0.0, 2.0, -0.01],
        };
        for pau in [Pau::default(), other] {
            bulk_equals_general::<_, f32>(pau);
            bulk_equals_general::<_, f64>(pau);
            let elsa = crate::Elsa::new(pau);
            bulk_equals_general::<_, f32>(elsa);
            bulk_equals_general::<_, f64>(elsa);
        }
    }
}
