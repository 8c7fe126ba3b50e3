//! dfdx layers: every activation as a trainable layer with fused CPU kernels, and the
//! stable-Rust convolution and max-pooling layers that dfdx 0.13 only ships on nightly.
pub mod composed;
pub mod conv;
pub mod conv_pool;
mod dims;
pub mod fused;
pub mod layer;
pub mod mnist_conv;
pub mod pool;
mod simd;
mod tape;
#[cfg(test)]
mod test_support;

pub use layer::{Act, ActivationLayer, LayerError};
pub use mnist_conv::{ImageInput, MnistConv, MnistConvNet, MnistInput};
#[doc(hidden)]
pub use simd::force_portable;
