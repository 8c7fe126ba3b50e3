//! Run-time selection of the CPU's vector instructions for the crate's kernels, and the
//! switch that forces their portable form.
//!
//! A kernel compiled with `#[target_feature(enable = ...)]` may only run on a CPU that has
//! every feature it enables: each path below checks all of them before it is taken.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::activation::Float;

/// Set by [`force_portable`].
static PORTABLE: AtomicBool = AtomicBool::new(false);

/// Makes every kernel of the crate run its portable form (compiled for the baseline target,
/// multiplies and adds rounded separately) when `portable` is true, and the fastest form the
/// CPU supports when it is false (the default).
///
/// For tests that compare the two forms on a CPU that has the vector instructions. The
/// switch applies to the whole process: a test that sets it must not run alongside tests
/// whose results depend on the form (the forms agree up to the rounding of
/// multiply-adds).
///
/// ```
/// use arelu::nn::force_portable;
///
/// force_portable(true);
/// // ... run the layers ...
/// force_portable(false);
/// ```
#[doc(hidden)]
pub fn force_portable(portable: bool) {
    PORTABLE.store(portable, Ordering::Relaxed);
}

/// Whether the kernels may use run-time selected instructions (see [`force_portable`]).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
fn vector_forms_allowed() -> bool {
    !PORTABLE.load(Ordering::Relaxed)
}

/// Runs `kernel` compiled for AVX2 and FMA when the CPU has both (checked at run time, so
/// the crate still runs on any x86-64), and as it is otherwise. The kernel's loops must be
/// inlined into it (`#[inline(always)]`) to benefit. Floating-point results are identical
/// either way: Rust never fuses a multiply and an add on its own.
#[inline(always)]
pub(crate) fn with_simd<R>(kernel: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        fn avx2<R>(kernel: impl FnOnce() -> R) -> R {
            kernel()
        }
        if vector_forms_allowed()
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has every feature `avx2` is compiled for (checked just above).
            return unsafe { avx2(kernel) };
        }
    }
    kernel()
}

/// Like [`with_simd`], for kernels that use multiply-adds ([`mul_add`]): runs `fma(args)`
/// compiled for AVX2 and FMA when the CPU has them, `separate(args)` (the same kernel with a
/// separate multiply and add) otherwise, where an FMA would be a slow software routine.
#[inline(always)]
pub(crate) fn with_fma<A, R>(
    args: A,
    fma: impl FnOnce(A) -> R,
    separate: impl FnOnce(A) -> R,
) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        fn avx2<A, R>(args: A, kernel: impl FnOnce(A) -> R) -> R {
            kernel(args)
        }
        // AVX-512's 32 vector registers (used at 256 bits) hold a blocked kernel's sums and
        // inputs where AVX2's 16 would spill them to the stack
        #[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
        fn avx512<A, R>(args: A, kernel: impl FnOnce(A) -> R) -> R {
            kernel(args)
        }
        if vector_forms_allowed() {
            let avx2_fma =
                std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
            if avx2_fma
                && std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512vl")
            {
                // SAFETY: the CPU has every feature `avx512` is compiled for (checked just
                // above).
                return unsafe { avx512(args, fma) };
            }
            if avx2_fma {
                // SAFETY: the CPU has every feature `avx2` is compiled for (checked just
                // above).
                return unsafe { avx2(args, fma) };
            }
        }
    }
    let _ = fma;
    separate(args)
}

/// `a * b + c`, rounded once (one FMA instruction) if `FMA`, twice otherwise. Also keeps the
/// register count of a blocked kernel down: a separate multiply needs a register for each
/// product until it is added.
#[inline(always)]
pub(crate) fn mul_add<const FMA: bool, E: Float>(a: E, b: E, c: E) -> E {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}
