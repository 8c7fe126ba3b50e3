//! `MnistConv<A>`: the paper's MNIST network, generic over its activation.
//!
//! ```text
//! input 1x28x28 (pixels / 255)
//! Conv2d(1 -> 10, 5x5) -> MaxPool 2x2 -> A     28 -> 24 -> 12
//! Conv2d(10 -> 20, 5x5) -> MaxPool 2x2 -> A    12 -> 8 -> 4
//! Conv2d(20 -> 40, 3x3) -> MaxPool 2x2 -> A     4 -> 2 -> 1
//! flatten (40) -> Linear(40 -> 10) -> logits
//! ```
//!
//! Every convolution and linear layer has a bias and PyTorch's default initialisation
//! `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`. The activation sits after the pooling, and each of the
//! three activation layers has its own parameters. The loss of the paper (log-softmax then
//! negative log-likelihood) is dfdx's `cross_entropy_with_logits_loss` on these logits.
//! Each convolution and the pooling after it are one [`ConvPool2D`] layer, which computes
//! what [`Conv2D`](super::conv::Conv2D) followed by [`MaxPool2D`](super::pool::MaxPool2D)
//! computes with less work (its docs say how). The first is an [`InputConvPool2D`]: it
//! computes no gradient for the images, which nothing reads (as in PyTorch, where the data
//! does not require grad).
//!
//! ```
//! use arelu::nn::mnist_conv::{MnistConv, MnistInput};
//! use arelu::{Elsa, Swish};
//! use dfdx::prelude::*;
//!
//! let dev = Cpu::default();
//! let model = dev.build_module::<MnistConv<Elsa<Swish>>, f32>();
//! let x: MnistInput<f32, Cpu> = dev.zeros_like(&(2, Const, Const, Const));
//! let logits = model.forward(x);
//! assert_eq!(logits.shape(), &(2, Const::<10>));
//! assert_eq!(model.0 .1.param_names(), ["alpha", "beta"]);
//! ```

use dfdx::nn::builders::Linear;
use dfdx::nn::{Module, NonMutableModule, ZeroSizedModule};
use dfdx::shapes::{Const, Dtype, HasShape};
use dfdx::tensor::{Cpu, CpuError, Tape, Tensor};
use dfdx::tensor_ops::ReshapeTo;

use super::conv_pool::{ConvPool2D, InputConvPool2D};
use super::layer::Act;

/// A batch of MNIST images: `(batch, 1, 28, 28)`.
pub type MnistInput<E, D, T = dfdx::tensor::NoneTape> = ImageInput<1, E, D, T>;

/// A batch of 28x28 images with `C` channels: `(batch, C, 28, 28)`.
pub type ImageInput<const C: usize, E, D, T = dfdx::tensor::NoneTape> =
    Tensor<(usize, Const<C>, Const<28>, Const<28>), E, D, T>;

/// The paper's MNIST-Conv network with activation `A` (a dfdx builder type).
pub type MnistConv<A> = MnistConvNet<A, 1, 10>;

/// [`MnistConv`] with `IN` input channels and `CLASSES` outputs: three input channels for
/// the transfer experiment (colour digits), an N-way head for meta-learning. The layers
/// between are the same.
///
/// # Shapes
/// `(batch, IN, 28, 28)` → `(batch, CLASSES)`.
///
/// ```
/// use arelu::nn::mnist_conv::{ImageInput, MnistConvNet};
/// use arelu::Relu;
/// use dfdx::prelude::*;
///
/// let dev = Cpu::default();
/// let model = dev.build_module::<MnistConvNet<Relu, 3, 5>, f32>();
/// let x: ImageInput<3, f32, Cpu> = dev.zeros_like(&(2, Const, Const, Const));
/// assert_eq!(model.forward(x).shape(), &(2, Const::<5>));
/// ```
pub type MnistConvNet<A, const IN: usize, const CLASSES: usize> = (
    (InputConvPool2D<IN, 10, 5, 2>, Act<A>),
    (ConvPool2D<10, 20, 5, 2>, Act<A>),
    (ConvPool2D<20, 40, 3, 2>, Act<A>),
    Flatten1x1,
    Linear<40, CLASSES>,
);

/// Flattens `(batch, C, 1, 1)` feature maps into `(batch, C)`, as the network's last pooling
/// leaves a 1x1 map. Other spatial sizes give `CpuError::WrongNumElements`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flatten1x1;

impl ZeroSizedModule for Flatten1x1 {}
impl NonMutableModule for Flatten1x1 {}

impl<const C: usize, E: Dtype, T: Tape<E, Cpu>>
    Module<Tensor<(usize, Const<C>, usize, usize), E, Cpu, T>> for Flatten1x1
{
    type Output = Tensor<(usize, Const<C>), E, Cpu, T>;
    type Error = CpuError;

    fn try_forward(
        &self,
        x: Tensor<(usize, Const<C>, usize, usize), E, Cpu, T>,
    ) -> Result<Self::Output, CpuError> {
        let (batch, _, h, w) = *x.shape();
        if h != 1 || w != 1 {
            return Err(CpuError::WrongNumElements);
        }
        x.try_reshape_like(&(batch, Const::<C>))
    }
}
