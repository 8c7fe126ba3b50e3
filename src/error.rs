//! Typed errors of the activation definitions and their names.

use thiserror::Error;

/// What can go wrong when naming, configuring or parameterising an activation.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ActivationError {
    /// A name that is not one of the 37 variants.
    #[error("unknown activation `{name}`; valid names: {valid}")]
    UnknownName {
        /// The name that was given.
        name: String,
        /// Every valid name, comma separated.
        valid: String,
    },
    /// `elsa-arelu`: AReLU already is ELSA around ReLU.
    #[error(
        "`elsa-arelu` is refused: AReLU already is ELSA around ReLU (use `arelu` or `elsa-relu`)"
    )]
    ElsaOfArelu,
    /// `set_params` got the wrong number of values.
    #[error("{activation} has {expected} learnable parameters, got {got} values")]
    ParamCount {
        /// The activation's name.
        activation: String,
        /// How many it has.
        expected: usize,
        /// How many were given.
        got: usize,
    },
    /// A hyperparameter outside its valid range.
    #[error("invalid {activation} hyperparameter: {reason}")]
    InvalidHyperparameter {
        /// The activation's name.
        activation: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// An input whose shape does not fit a shape-aware activation (grouped Maxout).
    #[error("shape error in {activation}: {reason}")]
    Shape {
        /// The activation's name.
        activation: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// `from_config` got the wrong number of hyperparameters.
    #[error("{activation} has {expected} hyperparameters, got {got} values")]
    ConfigLength {
        /// The activation's name.
        activation: String,
        /// How many it has.
        expected: usize,
        /// How many were given.
        got: usize,
    },
}
