//! Runtime sizes of the convolution and pooling layers, and how their batches are split
//! into parallel tasks.

/// Sizes of one convolution call (all runtime values).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConvDims {
    pub(crate) batch: usize,
    pub(crate) c_in: usize,
    pub(crate) c_out: usize,
    pub(crate) k: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) ho: usize,
    pub(crate) wo: usize,
}

impl ConvDims {
    /// The sizes of a stride-1, unpadded `k`x`k` convolution of `batch` images of
    /// `c_in`x`h`x`w`; `None` if the image is smaller than the kernel.
    pub(crate) fn new(
        batch: usize,
        c_in: usize,
        c_out: usize,
        k: usize,
        h: usize,
        w: usize,
    ) -> Option<Self> {
        if h < k || w < k {
            return None;
        }
        Some(ConvDims {
            batch,
            c_in,
            c_out,
            k,
            h,
            w,
            ho: h - k + 1,
            wo: w - k + 1,
        })
    }
    /// Elements per input image.
    pub(crate) fn in_img(&self) -> usize {
        self.c_in * self.h * self.w
    }
    /// Elements per output image.
    pub(crate) fn out_img(&self) -> usize {
        self.c_out * self.ho * self.wo
    }
    /// Output pixels per channel.
    pub(crate) fn p(&self) -> usize {
        self.ho * self.wo
    }
    /// Rows of the im2col matrix (= columns of the weight matrix).
    pub(crate) fn ikk(&self) -> usize {
        self.c_in * self.k * self.k
    }
    pub(crate) fn in_len(&self) -> usize {
        self.batch * self.in_img()
    }
    pub(crate) fn out_len(&self) -> usize {
        self.batch * self.out_img()
    }
    pub(crate) fn weight_len(&self) -> usize {
        self.c_out * self.ikk()
    }
    /// Images per parallel task: [`IMAGES_PER_TASK`], whatever the number of threads.
    pub(crate) fn per_task(&self) -> usize {
        IMAGES_PER_TASK
    }
}

/// Images per parallel task of the convolution layers. Each task sums the weight and bias
/// gradients of its images, and the tasks' sums are added in task order: with a fixed task
/// size, that order (and so every bit of the result) does not depend on the number of
/// threads. 16 gives a batch of 128 eight tasks, enough to keep two to eight cores busy
/// (`benches/training_step.rs` measures it).
pub(crate) const IMAGES_PER_TASK: usize = 16;

/// Runtime sizes of one pooling call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolDims {
    /// batch * channels
    pub(crate) planes: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) ho: usize,
    pub(crate) wo: usize,
}

impl PoolDims {
    /// Planes per parallel task: split over rayon's threads, but keep at
    /// least ~16k input elements per task so tiny inputs stay on one thread. Each plane is
    /// pooled on its own (no sum crosses planes), so results do not depend on the split.
    pub(crate) fn per_task(&self) -> usize {
        let plane = (self.h * self.w).max(1);
        let min_planes = (1usize << 14).div_ceil(plane);
        let even = self.planes.div_ceil(rayon::current_num_threads().max(1));
        even.max(min_planes).max(1)
    }
}
