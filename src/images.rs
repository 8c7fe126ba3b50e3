//! Three-channel 28x28 images with their labels ([`ColourImages`]): what the SVHN loader
//! ([`crate::svhn`]) reads and the transfer experiment trains and tests on.

use dfdx::shapes::Const;
use dfdx::tensor::{Cpu, Tensor, TensorFromVec};

use crate::mnist::MnistSplit;
use crate::nn::mnist_conv::ImageInput;

/// Values per image: 3 channels of 28x28.
pub const VALUES: usize = 3 * PLANE;
/// Pixels per channel.
pub const PLANE: usize = 28 * 28;

/// One-hot labels of a batch: `(batch, 10)`.
pub type OneHot = Tensor<(usize, Const<10>), f32, Cpu>;

/// Images of three channels, 28x28 bytes each, laid out `(n, 3, 28, 28)`, with labels
/// `0..=9`. Bytes become `f32` in `[0, 1]` (value / 255) batch by batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColourImages {
    pixels: Vec<u8>,
    labels: Vec<u8>,
}

/// Why [`ColourImages::from_parts`] refused its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ColourImagesError {
    /// The pixel count is not 3·28·28 per label.
    #[error("{pixels} pixel values for {labels} labels; each image needs {VALUES}")]
    Length {
        /// Pixel values given.
        pixels: usize,
        /// Labels given.
        labels: usize,
    },
    /// A label outside `0..=9`.
    #[error("label {value} at index {index} is above 9")]
    Label {
        /// Which image.
        index: usize,
        /// Its label.
        value: u8,
    },
}

impl ColourImages {
    /// Images from their bytes, `(n, 3, 28, 28)` channel-major, and their labels.
    ///
    /// # Errors
    /// When the lengths disagree or a label is above 9.
    ///
    /// ```
    /// use arelu::images::ColourImages;
    /// let images = ColourImages::from_parts(vec![0; 2 * 3 * 28 * 28], vec![3, 9]).unwrap();
    /// assert_eq!(images.len(), 2);
    /// assert!(ColourImages::from_parts(vec![0; 5], vec![1]).is_err());
    /// ```
    pub fn from_parts(pixels: Vec<u8>, labels: Vec<u8>) -> Result<Self, ColourImagesError> {
        if labels.len().checked_mul(VALUES) != Some(pixels.len()) {
            return Err(ColourImagesError::Length {
                pixels: pixels.len(),
                labels: labels.len(),
            });
        }
        if let Some((index, &value)) = labels.iter().enumerate().find(|(_, &l)| l > 9) {
            return Err(ColourImagesError::Label { index, value });
        }
        Ok(Self { pixels, labels })
    }

    /// Images from parts the caller made consistent: `VALUES` bytes per label, labels
    /// `0..=9` (MNIST's).
    pub(crate) fn from_parts_unchecked(pixels: Vec<u8>, labels: Vec<u8>) -> Self {
        debug_assert_eq!(labels.len() * VALUES, pixels.len());
        Self { pixels, labels }
    }

    /// MNIST replicated to three channels (the pretraining data): each channel is the grey
    /// image. `split` must hold 28x28 images, as [`crate::mnist::Mnist`] guarantees.
    ///
    /// ```
    /// use arelu::images::ColourImages;
    /// use arelu::mnist::Mnist;
    /// let mnist = Mnist::load_shipped().unwrap();
    /// let grey = ColourImages::grey(&mnist.test.clone().take(2));
    /// assert_eq!(grey.image(1)[..784], grey.image(1)[784..1568]);
    /// ```
    pub fn grey(split: &MnistSplit) -> Self {
        let mut pixels = Vec::with_capacity(split.len() * VALUES);
        for (image, _) in split.iter() {
            for _ in 0..3 {
                pixels.extend_from_slice(image);
            }
        }
        Self {
            pixels,
            labels: split.labels.clone(),
        }
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The labels.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// Image `i`'s bytes, channel-major (`3 x 28 x 28`). Panics when `i >= len()`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.pixels[i * VALUES..(i + 1) * VALUES]
    }

    /// Keeps the first `n` images.
    pub fn truncate(&mut self, n: usize) {
        let n = n.min(self.len());
        self.labels.truncate(n);
        self.pixels.truncate(n * VALUES);
    }

    /// The images at `indices` (each below `len()`) as a batch, with one-hot labels.
    pub fn batch(&self, device: &Cpu, indices: &[usize]) -> (ImageInput<3, f32, Cpu>, OneHot) {
        let mut pixels = Vec::with_capacity(indices.len() * VALUES);
        let mut one_hot = vec![0.0f32; indices.len() * 10];
        for (row, &i) in indices.iter().enumerate() {
            pixels.extend(self.image(i).iter().map(|&p| f32::from(p) / 255.0));
            one_hot[row * 10 + self.labels[i] as usize] = 1.0;
        }
        let n = indices.len();
        (
            device.tensor_from_vec(pixels, (n, Const, Const, Const)),
            device.tensor_from_vec(one_hot, (n, Const)),
        )
    }
}
