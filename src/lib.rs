//! AReLU, the attention-based rectified linear unit, ELSA and 18 other activations as
//! [dfdx](https://docs.rs/dfdx/0.13) layers, with fused CPU kernels (one pass forward, one
//! backward) and an MNIST experiment runner for the paper's comparisons.
//!
//! ```
//! use arelu::prelude::*;
//! use dfdx::prelude::*;
//!
//! let dev = Cpu::default();
//! // Activations sit in dfdx tuples as they are; their parameters train with the rest.
//! type Model = (Linear<4, 8>, Arelu, Linear<8, 8>, Elsa<Swish>, Linear<8, 2>);
//! let model = dev.build_module::<Model, f32>();
//! let x: Tensor<Rank2<3, 4>, f32, _> = dev.sample_normal();
//! let y = model.forward(x);
//! assert_eq!(y.shape(), &(Const::<3>, Const::<2>));
//! assert_eq!(model.1.param_names(), ["alpha", "beta"]);
//! ```
//!
//! Where things are:
//!
//! - [`Activation`] and [`FixedActivation`]: an activation as an element-wise function
//!   (value and derivatives); implement one of them for your own activation, then
//!   [`activation_layer!`] makes it a dfdx builder. [`activations`] holds the paper's 19,
//!   [`Elsa`] wraps any of them in ELSA.
//! - [`nn`]: the dfdx layers ([`nn::ActivationLayer`]), whose hyperparameters, initial
//!   values and noise seed are part of the saved model, [`nn::load_checked`], the convolution
//!   and pooling layers and [`nn::MnistConv`], the paper's network. [`nn::Autodiff`] makes a
//!   layer of a function given by its forward pass in dfdx operations alone.
//! - [`ActivationName`]: the 37 variants by name (`"elsa-swish"`), and the one table that
//!   maps a name to its type.
//! - [`curve`]: sampled curves and gradients of an activation, for plots and snapshots.
//! - `experiment` and `mnist` (feature `experiment`, on by default): the MNIST loader and the
//!   runner of the paper's experiments.
//! - [`prelude`]: everything above in one glob import that sits next to `dfdx::prelude::*`.
//!
//! Features: `experiment` (default) adds the experiment runner and the MNIST loader with
//! their dependencies; `serde` (turned on by `experiment`) makes [`ActivationName`]
//! (de)serialise as its string form. `default-features = false` gives the activations and
//! the layers alone.
#![warn(missing_docs)]

pub mod activation;
pub mod activations;
pub mod curve;
pub mod elsa;
pub mod error;
#[cfg(feature = "experiment")]
pub mod experiment;
#[cfg(feature = "experiment")]
pub mod images;
pub mod math;
#[cfg(feature = "experiment")]
pub mod mnist;
pub mod name;
pub mod nn;
pub mod prelude;
#[cfg(feature = "experiment")]
pub mod svhn;

pub use activation::{Activation, Float, EVAL_NOISE};
pub use activations::*;
/// The dfdx version the layers are built for (and that [`activation_layer!`] refers to).
pub use dfdx;
pub use elsa::Elsa;
pub use error::ActivationError;
pub use name::{ActivationName, ActivationVisitor, BaseActivation, ComposedVisitor};
pub use nn::composed::ComposedActivation;
