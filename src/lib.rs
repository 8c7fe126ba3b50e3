#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod activation;
pub mod activations;
pub mod curve;
pub mod elsa;
pub mod error;
pub mod experiment;
pub mod math;
pub mod mnist;
pub mod name;
pub mod nn;
pub mod svhn;

pub use activation::{Activation, EVAL_NOISE};
pub use activations::*;
pub use elsa::Elsa;
pub use error::ActivationError;
pub use name::{ActivationName, ActivationVisitor, BaseActivation};
