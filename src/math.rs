//! Branch-free `f32` forms of `exp`, `exp_m1`, `ln_1p` and `tanh` for the fused kernels' hot
//! loops.
//!
//! The C library's `expf`/`expm1f`/`log1pf`/`tanhf` are opaque calls, so a loop that calls
//! them stays scalar. These forms use only arithmetic, comparisons and bit casts, so the
//! compiler turns a loop over them into SIMD code (8 lanes with AVX2). Accuracy, checked by the
//! tests below over dense grids against the `f64` functions: `exp` within 1 ulp on its whole
//! normal range, `exp_m1` within 2 ulp, `ln_1p` within 3 ulp, `tanh` within 7 ulp (4·10⁻⁷
//! relative); all keep NaN, ±∞ and signed zeros as the C library does.

/// `eˣ` for `f32`: Cody–Waite range reduction `x = n·ln 2 + r`, `|r| ≤ ln 2 / 2`, Cephes'
/// degree-6 polynomial for `eʳ`, and the scaling by `2ⁿ` done in two halves so that the
/// results that overflow to `∞` or fall into the subnormals round as the exact value does.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    // Beyond these bounds eˣ is ∞ or rounds to 0 anyway; `clamp` keeps NaN.
    let x = x.clamp(-105.0, 89.0);
    // Round x·log₂e to the nearest integer with the 1.5·2²³ trick (exact for |t| < 2²²).
    // The integer then sits in the low bits of the shifted value's representation, which
    // gives it as an `i32` without a float-to-int conversion.
    const ROUNDER: f32 = 12_582_912.0;
    let shifted = x * std::f32::consts::LOG2_E + ROUNDER;
    let n = shifted - ROUNDER;
    let n_int = shifted.to_bits() as i32 - ROUNDER.to_bits() as i32;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_66;
    p = p * r + 0.5;
    let e_r = p * (r * r) + r + 1.0;
    // n ∈ [-152, 129]: each half is a normal power of two.
    let half = n_int >> 1;
    e_r * pow2(half) * pow2(n_int - half)
}

/// `2ⁿ` for `n ∈ [-126, 127]`, built from its exponent bits.
#[inline(always)]
fn pow2(n: i32) -> f32 {
    f32::from_bits(((n + 127) as u32) << 23)
}

/// `tanh(x)` for `f32`: the odd rational minimax form `x·P(x²)/Q(x²)` (degrees 13/6) on
/// `|x| ≤ 7.905`, where `tanh` reaches 1 to `f32` precision, and `x` itself below `4·10⁻⁴`.
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    // `clamp` keeps NaN; ±∞ become ±7.905, whose tanh rounds to ±1 within 4 ulp.
    let c = x.clamp(-7.905_311, 7.905_311);
    let c2 = c * c;
    let mut p = -2.760_768_4e-16_f32;
    p = p * c2 + 2.000_188e-13;
    p = p * c2 - 8.604_672e-11;
    p = p * c2 + 5.122_297_3e-8;
    p = p * c2 + 1.485_722_35e-5;
    p = p * c2 + 6.372_619_5e-4;
    p = p * c2 + 4.893_524_6e-3;
    let mut q = 1.198_258_4e-6_f32;
    q = q * c2 + 1.185_347_1e-4;
    q = q * c2 + 2.268_434_7e-3;
    q = q * c2 + 4.893_525e-3;
    let t = c * p / q;
    if x.abs() < 4e-4 {
        x
    } else {
        t
    }
}

/// `eˣ − 1` for `f32`: near zero, where `eˣ − 1` would cancel, its Taylor series to the
/// `x⁸` term (truncation below 10⁻⁸ relative on `|x| ≤ 1/2`); elsewhere [`exp_f32`]` − 1`,
/// whose rounding error the subtraction enlarges by at most `eˣ/(eˣ − 1) < 2.6` there.
#[inline(always)]
pub fn exp_m1_f32(x: f32) -> f32 {
    let mut p = 1.0 / 40_320.0_f32;
    p = p * x + 1.0 / 5_040.0;
    p = p * x + 1.0 / 720.0;
    p = p * x + 1.0 / 120.0;
    p = p * x + 1.0 / 24.0;
    p = p * x + 1.0 / 6.0;
    p = p * x + 0.5;
    let series = x * (1.0 + x * p);
    let far = exp_f32(x) - 1.0;
    // both computed, one kept: a select, not a branch (NaN takes `far`, which keeps it)
    if x.abs() <= 0.5 {
        series
    } else {
        far
    }
}

/// `ln x` for positive normal `f32` (and `+∞`), branch-free: `x = 2ᵏ·m` with
/// `m ∈ [√½, √2)`, and `ln m = 2·atanh(s)`, `s = (m − 1)/(m + 1)`, `|s| ≤ 0.1716`, by its
/// series to `s⁹`.
#[inline(always)]
fn ln_f32(x: f32) -> f32 {
    let bits = x.to_bits();
    let mut k = ((bits >> 23) & 0xff) as i32 - 127;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let high = m > std::f32::consts::SQRT_2;
    m = if high { m * 0.5 } else { m };
    k += i32::from(high);
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut p = 1.0 / 9.0_f32;
    p = p * s2 + 1.0 / 7.0;
    p = p * s2 + 1.0 / 5.0;
    p = p * s2 + 1.0 / 3.0;
    let ln_m = 2.0 * s + 2.0 * s * (s2 * p);
    // ln 2 in two parts, so that k·ln 2 is exact in the first
    let k = k as f32;
    k * 0.693_145_75 + (ln_m + k * 1.428_606_8e-6)
}

/// `ln(1 + t)` for `f32`, branch-free: `ln(u)·t/(u − 1)` with `u = 1 + t` rounded, which
/// cancels the rounding of `u` (Goldberg's form), and `t` itself where `u` rounds to 1.
/// `t = −1` gives `−∞`, `t < −1` NaN, `+∞` itself.
#[inline(always)]
pub fn ln_1p_f32(t: f32) -> f32 {
    let u = 1.0 + t;
    let general = ln_f32(u) * (t / (u - 1.0));
    let value = if u == 1.0 { t } else { general };
    let value = if t == f32::INFINITY { t } else { value };
    let value = if t == -1.0 { f32::NEG_INFINITY } else { value };
    if t < -1.0 {
        f32::NAN
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place of `reference` (rounded to f32).
    fn ulps(got: f32, reference: f64) -> f64 {
        let r32 = reference as f32;
        let ulp = if r32 == 0.0 {
            f32::from_bits(1) as f64
        } else {
            let next = f32::from_bits(r32.abs().to_bits() + 1);
            (next - r32.abs()) as f64
        };
        (got as f64 - reference).abs() / ulp
    }

    fn grid(from: f32, to: f32, steps: usize) -> impl Iterator<Item = f32> {
        (0..=steps).map(move |i| from + (to - from) * (i as f32 / steps as f32))
    }

    #[test]
    fn exp_is_within_one_ulp_over_its_normal_range() {
        let mut worst: f64 = 0.0;
        let near_zero = grid(-1.0, 1.0, 200_000);
        for x in grid(-87.0, 88.7, 2_000_000).chain(near_zero) {
            let e = ulps(exp_f32(x), (x as f64).exp());
            worst = worst.max(e);
        }
        assert!(worst <= 1.0, "worst error {worst} ulp");
    }

    #[test]
    fn exp_special_values() {
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(-0.0), 1.0);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
        assert_eq!(exp_f32(88.73), f32::INFINITY);
        assert_eq!(exp_f32(-200.0), 0.0);
        // subnormal results
        let tiny = exp_f32(-100.0);
        assert!(tiny > 0.0 && tiny < f32::MIN_POSITIVE);
        assert!(
            ulps(tiny, (-100.0f64).exp()) <= 1.0,
            "{tiny:e} {:e}",
            (-100.0f64).exp()
        );
        assert!(ulps(exp_f32(88.7), (88.7f32 as f64).exp()) <= 1.0);
    }

    #[test]
    fn tanh_is_within_seven_ulp() {
        let mut worst: f64 = 0.0;
        let dense = grid(-10.0, 10.0, 2_000_000);
        let small = (0..2000).map(|i| 1e-8f32 * 1.01f32.powi(i));
        for x in dense.chain(small.clone()).chain(small.map(|v| -v)) {
            let e = ulps(tanh_f32(x), (x as f64).tanh());
            worst = worst.max(e);
        }
        assert!(worst <= 7.0, "worst error {worst} ulp");
    }

    #[test]
    fn tanh_special_values() {
        assert_eq!(tanh_f32(0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(tanh_f32(-0.0).to_bits(), (-0.0f32).to_bits());
        assert!((tanh_f32(f32::INFINITY) - 1.0).abs() <= 4.0 * f32::EPSILON);
        assert!((tanh_f32(f32::NEG_INFINITY) + 1.0).abs() <= 4.0 * f32::EPSILON);
        assert!(tanh_f32(f32::NAN).is_nan());
        assert_eq!(tanh_f32(1e-30), 1e-30);
        assert!(tanh_f32(30.0) <= 1.0 && tanh_f32(-30.0) >= -1.0);
    }

    #[test]
    fn exp_m1_is_within_two_ulp() {
        let mut worst: f64 = 0.0;
        let dense = grid(-20.0, 20.0, 2_000_000);
        let near_zero = grid(-1.0, 1.0, 500_000);
        let small = (0..3000).map(|i| 1e-12f32 * 1.01f32.powi(i));
        for x in dense
            .chain(near_zero)
            .chain(small.clone())
            .chain(small.map(|v| -v))
        {
            let e = ulps(exp_m1_f32(x), (x as f64).exp_m1());
            worst = worst.max(e);
        }
        assert!(worst <= 2.0, "worst error {worst} ulp");
    }

    #[test]
    fn exp_m1_special_values() {
        assert_eq!(exp_m1_f32(0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(exp_m1_f32(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(exp_m1_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_m1_f32(f32::NEG_INFINITY), -1.0);
        assert!(exp_m1_f32(f32::NAN).is_nan());
        assert_eq!(exp_m1_f32(-100.0), -1.0);
        assert_eq!(exp_m1_f32(1e-30), 1e-30);
    }

    #[test]
    fn ln_1p_is_within_three_ulp() {
        let mut worst: f64 = 0.0;
        let near_minus_one = grid(-0.999_999, -0.5, 500_000);
        let around_zero = grid(-0.5, 2.0, 1_000_000);
        let wide = (0..20_000).map(|i| 1e-30f32 * 1.005f32.powi(i));
        for t in near_minus_one
            .chain(around_zero)
            .chain(wide.clone())
            .chain(wide.filter(|&v| v < 1.0).map(|v| -v))
        {
            if !t.is_finite() {
                continue;
            }
            let e = ulps(ln_1p_f32(t), (t as f64).ln_1p());
            worst = worst.max(e);
        }
        assert!(worst <= 3.0, "worst error {worst} ulp");
    }

    #[test]
    fn ln_1p_special_values() {
        assert_eq!(ln_1p_f32(0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(ln_1p_f32(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(ln_1p_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(ln_1p_f32(-1.0), f32::NEG_INFINITY);
        assert!(ln_1p_f32(-2.0).is_nan());
        assert!(ln_1p_f32(f32::NEG_INFINITY).is_nan());
        assert!(ln_1p_f32(f32::NAN).is_nan());
        assert_eq!(ln_1p_f32(1e-30), 1e-30);
        assert!(ulps(ln_1p_f32(f32::MAX), (f32::MAX as f64).ln_1p()) <= 3.0);
    }
}
