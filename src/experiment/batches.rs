//! MNIST images as dfdx batches: pixels / 255 (no mean/std normalisation, as the paper's code),
//! labels one-hot, the training order reshuffled every epoch from a seed.

use dfdx::shapes::Const;
use dfdx::tensor::{Cpu, TensorFromVec};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

pub use crate::images::OneHot;
use crate::mnist::MnistSplit;
use crate::nn::MnistInput;

/// Pixels of one split, laid out `(n, 1, 28, 28)`, with its labels. Pixels stay bytes (a
/// quarter of the memory of floats) and become `f32` in `[0, 1]` batch by batch.
#[derive(Debug, Clone)]
pub struct Images {
    pixels: Vec<u8>,
    labels: Vec<u8>,
}

/// Pixels per MNIST image.
pub const PIXELS: usize = 28 * 28;

impl Images {
    /// Converts a split (28x28 images, as `Mnist` guarantees).
    pub fn new(split: &MnistSplit) -> Self {
        Self {
            pixels: split.images.clone(),
            labels: split.labels.clone(),
        }
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The labels.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The images at `indices` as a batch tensor, with their one-hot labels.
    pub fn batch(&self, device: &Cpu, indices: &[usize]) -> (MnistInput<f32, Cpu>, OneHot) {
        let mut pixels = Vec::with_capacity(indices.len() * PIXELS);
        let mut one_hot = vec![0.0f32; indices.len() * 10];
        for (row, &i) in indices.iter().enumerate() {
            let image = &self.pixels[i * PIXELS..(i + 1) * PIXELS];
            pixels.extend(image.iter().map(|&p| p as f32 / 255.0));
            one_hot[row * 10 + self.labels[i] as usize] = 1.0;
        }
        let n = indices.len();
        (
            device.tensor_from_vec(pixels, (n, Const, Const, Const)),
            device.tensor_from_vec(one_hot, (n, Const)),
        )
    }
}

/// The training order of each epoch: a permutation of `0..n` reshuffled every epoch from one
/// seeded generator, cut into batches of `batch_size` (the last, partial batch kept).
#[derive(Debug)]
pub struct Shuffler {
    rng: StdRng,
    order: Vec<usize>,
}

impl Shuffler {
    /// A shuffler over `n` images, seeded with `seed`.
    pub fn new(n: usize, seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed ^ 0x5348_5546_464C_4521),
            order: (0..n).collect(),
        }
    }

    /// The next epoch's batches.
    pub fn epoch(&mut self, batch_size: usize) -> impl Iterator<Item = &[usize]> {
        self.order.shuffle(&mut self.rng);
        self.order.chunks(batch_size.max(1))
    }
}
