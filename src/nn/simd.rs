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
