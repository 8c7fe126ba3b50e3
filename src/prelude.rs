//! One glob import for the activations and their layers, made to sit next to
//! `dfdx::prelude::*` without ambiguity.
//!
//! dfdx's prelude has its own `Sigmoid` and `Tanh` layers; this prelude leaves this crate's
//! two out, so both globs import cleanly. Name them by path, [`crate::Sigmoid`] and
//! [`crate::Tanh`], where you want the ones of this crate (with ELSA: `Elsa<arelu::Tanh>`).
//!
//! ```
//! #![deny(warnings)]
//! use arelu::prelude::*;
//! use dfdx::prelude::*;
//!
//! let dev = Cpu::default();
//! let model = dev.build_module::<(Linear<2, 3>, Elsa<arelu::Tanh>, Tanh), f32>();
//! let y = model.forward(dev.tensor([1.0, -1.0]));
//! assert_eq!(y.shape(), &(Const::<3>,));
//! let _: Option<(Relu, LeakyRelu, Arelu, Pau, Apl, Slaf, ActivationName)> = None;
//! ```

pub use crate::activation::{Activation, Float};
pub use crate::activation_layer;
pub use crate::activations::{
    Apl, Arelu, Celu, Elu, FixedActivation, Gelu, LeakyRelu, Maxout, Mixture, Pau, Prelu, Relu,
    Relu6, Rrelu, Selu, Slaf, Softplus, Swish,
};
pub use crate::elsa::Elsa;
pub use crate::error::ActivationError;
pub use crate::name::{ActivationName, ActivationVisitor, BaseActivation, ComposedVisitor};
pub use crate::nn::composed::ComposedActivation;
pub use crate::nn::{
    load_checked, Act, ActivationLayer, Autodiff, AutodiffActivation, LoadError, MnistConv,
};
