//! The 19 activations of the paper: 13 fixed, 6 learnable.

mod apl;
mod arelu;
mod exponential;
mod fixed;
mod maxout;
mod mixture;
mod pau;
mod prelu;
mod rectifiers;
mod slaf;
mod smooth;

pub use apl::Apl;
pub use arelu::Arelu;
pub use exponential::{Celu, Elu, Selu};
pub use fixed::FixedActivation;
pub use maxout::Maxout;
pub use mixture::Mixture;
pub use pau::{Pau, PauPrepared};
pub use prelu::Prelu;
pub use rectifiers::{LeakyRelu, Relu, Relu6, Rrelu};
pub use slaf::Slaf;
pub use smooth::{Gelu, Sigmoid, Softplus, Swish, Tanh};
