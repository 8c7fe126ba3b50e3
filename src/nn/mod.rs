//! dfdx layers: every activation as a trainable layer with fused CPU kernels, and the
//! stable-Rust convolution and max-pooling layers that dfdx 0.13 only ships on nightly.
pub mod autodiff;
pub mod composed;
pub mod conv;
pub mod conv_pool;
mod dims;
pub mod fused;
pub mod layer;
pub mod load;
pub mod mnist_conv;
pub mod pool;
mod simd;
pub mod state;
mod tape;
#[cfg(test)]
mod test_support;

pub use autodiff::{Autodiff, AutodiffActivation};
pub use layer::{Act, ActivationLayer, LayerDevice, LayerError, STATE_TENSOR};
pub use load::{load_checked, LoadError};
pub use mnist_conv::{ImageInput, MnistConv, MnistConvNet, MnistInput};
#[doc(hidden)]
pub use simd::force_portable;
pub use state::{StateError, STATE_LEN};
