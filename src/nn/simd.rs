//! Run-time selection of the CPU's vector instructions for the crate's kernels.

/// Runs `kernel` compiled for AVX2 and FMA when the CPU has them (checked at run time, so
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
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has both features (checked just above).
            return unsafe { avx2(kernel) };
        }
    }
    kernel()
}

/// Like [`with_simd`], for kernels that use fused multiply-adds ([`mul_add`]): runs
/// `fused(args)` compiled for AVX2 and FMA when the CPU has them, `separate(args)` (the same
/// kernel with a separate multiply and add) otherwise, where a fused multiply-add would be a
/// slow software routine.
#[inline(always)]
pub(crate) fn with_fma<A, R>(
    args: A,
    fused: impl FnOnce(A) -> R,
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
        if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512vl") {
            // SAFETY: the CPU has AVX-512F and VL (checked just above), which imply AVX2 and
            // FMA.
            return unsafe { avx512(args, fused) };
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has both features (checked just above).
            return unsafe { avx2(args, fused) };
        }
    }
    let _ = fused;
    separate(args)
}

/// `a * b + c`, rounded once (one instruction) if `FUSED`, twice otherwise. Also keeps the
/// register count of a blocked kernel down: a separate multiply needs a register for each
/// product until it is added.
#[inline(always)]
pub(crate) fn mul_add<const FUSED: bool, E: num_traits::Float>(a: E, b: E, c: E) -> E {
    if FUSED {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}
