//! Runtime names of the 37 variants and the one place that maps a name to its type.

use core::fmt;
use core::str::FromStr;

use strum::{EnumCount, EnumIter, IntoEnumIterator, IntoStaticStr};

use crate::activations::*;
use crate::elsa::Elsa;
use crate::error::ActivationError;
use crate::nn::composed::ComposedActivation;

/// One of the paper's 19 activations, by name.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, EnumIter, EnumCount, IntoStaticStr,
)]
#[strum(serialize_all = "snake_case")]
pub enum BaseActivation {
    /// [`Relu`]
    Relu,
    /// [`Relu6`]
    Relu6,
    /// [`LeakyRelu`]
    LeakyRelu,
    /// [`Rrelu`]
    Rrelu,
    /// [`Celu`]
    Celu,
    /// [`Elu`]
    Elu,
    /// [`Gelu`]
    Gelu,
    /// [`Maxout`]
    Maxout,
    /// [`Selu`]
    Selu,
    /// [`Sigmoid`]
    Sigmoid,
    /// [`Softplus`]
    Softplus,
    /// [`Swish`]
    Swish,
    /// [`Tanh`]
    Tanh,
    /// [`Apl`]
    Apl,
    /// [`Mixture`]
    Mixture,
    /// [`Pau`]
    Pau,
    /// [`Prelu`]
    Prelu,
    /// [`Slaf`]
    Slaf,
    /// [`Arelu`]
    Arelu,
}

impl BaseActivation {
    /// The name, e.g. `"leaky_relu"`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether the activation has learnable parameters (the last six).
    pub fn is_learnable(self) -> bool {
        matches!(
            self,
            Self::Apl | Self::Mixture | Self::Pau | Self::Prelu | Self::Slaf | Self::Arelu
        )
    }
}

/// One of the 37 variants: a base activation, alone or wrapped in ELSA (`elsa-<name>`).
///
/// `elsa-arelu` is refused: AReLU already is ELSA around ReLU.
///
/// ```
/// use arelu::{ActivationName, BaseActivation};
///
/// let name: ActivationName = "elsa-swish".parse().unwrap();
/// assert_eq!(name.base(), BaseActivation::Swish);
/// assert!(name.is_elsa());
/// assert_eq!(name.to_string(), "elsa-swish");
/// assert_eq!(ActivationName::all().count(), 37);
/// assert!("softmax".parse::<ActivationName>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActivationName {
    base: BaseActivation,
    elsa: bool,
}

/// The prefix of ELSA-wrapped names.
pub const ELSA_PREFIX: &str = "elsa-";

impl ActivationName {
    /// `base`, wrapped in ELSA when `elsa` is true.
    ///
    /// # Errors
    /// [`ActivationError::ElsaOfArelu`] for AReLU wrapped in ELSA.
    pub fn new(base: BaseActivation, elsa: bool) -> Result<Self, ActivationError> {
        if elsa && base == BaseActivation::Arelu {
            return Err(ActivationError::ElsaOfArelu);
        }
        Ok(Self { base, elsa })
    }

    /// The base activation.
    pub fn base(self) -> BaseActivation {
        self.base
    }

    /// Whether it is wrapped in ELSA.
    pub fn is_elsa(self) -> bool {
        self.elsa
    }

    /// All 37 variants: the 19 bases, then the 18 ELSA-wrapped ones.
    pub fn all() -> impl Iterator<Item = ActivationName> {
        let plain = BaseActivation::iter().map(|base| Self { base, elsa: false });
        let wrapped = BaseActivation::iter()
            .filter(|&b| b != BaseActivation::Arelu)
            .map(|base| Self { base, elsa: true });
        plain.chain(wrapped)
    }

    /// Every valid name, comma separated (for error messages and `--help`).
    pub fn valid_names() -> String {
        Self::all()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Calls `visitor.visit::<A>()` with `A` the type of this variant: `Relu`, `Elsa<Swish>`...
    /// This is the one place that maps runtime names to types; everything after it is
    /// statically typed.
    pub fn visit<V: ActivationVisitor>(self, visitor: V) -> V::Output {
        fn go<A: ComposedActivation, V: ActivationVisitor>(elsa: bool, visitor: V) -> V::Output {
            if elsa {
                visitor.visit::<Elsa<A>>()
            } else {
                visitor.visit::<A>()
            }
        }
        let elsa = self.elsa;
        match self.base {
            BaseActivation::Relu => go::<Relu, V>(elsa, visitor),
            BaseActivation::Relu6 => go::<Relu6, V>(elsa, visitor),
            BaseActivation::LeakyRelu => go::<LeakyRelu, V>(elsa, visitor),
            BaseActivation::Rrelu => go::<Rrelu, V>(elsa, visitor),
            BaseActivation::Celu => go::<Celu, V>(elsa, visitor),
            BaseActivation::Elu => go::<Elu, V>(elsa, visitor),
            BaseActivation::Gelu => go::<Gelu, V>(elsa, visitor),
            BaseActivation::Maxout => go::<Maxout, V>(elsa, visitor),
            BaseActivation::Selu => go::<Selu, V>(elsa, visitor),
            BaseActivation::Sigmoid => go::<Sigmoid, V>(elsa, visitor),
            BaseActivation::Softplus => go::<Softplus, V>(elsa, visitor),
            BaseActivation::Swish => go::<Swish, V>(elsa, visitor),
            BaseActivation::Tanh => go::<Tanh, V>(elsa, visitor),
            BaseActivation::Apl => go::<Apl, V>(elsa, visitor),
            BaseActivation::Mixture => go::<Mixture, V>(elsa, visitor),
            BaseActivation::Pau => go::<Pau, V>(elsa, visitor),
            BaseActivation::Prelu => go::<Prelu, V>(elsa, visitor),
            BaseActivation::Slaf => go::<Slaf, V>(elsa, visitor),
            // `Elsa<Arelu>` is unreachable through `new` and `from_str`, and harmless.
            BaseActivation::Arelu => go::<Arelu, V>(elsa, visitor),
        }
    }
}

/// Something to do with an activation type chosen at run time; see
/// [`ActivationName::visit`].
pub trait ActivationVisitor {
    /// The result.
    type Output;
    /// Does it with the activation type `A` (built with `A::default()`). Every variant also
    /// has a composed form, which the name-driven tests use to cross-check the fused kernels.
    fn visit<A: ComposedActivation>(self) -> Self::Output;
}

impl fmt::Display for ActivationName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.elsa {
            f.write_str(ELSA_PREFIX)?;
        }
        f.write_str(self.base.as_str())
    }
}

impl FromStr for BaseActivation {
    type Err = ActivationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BaseActivation::iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| ActivationError::UnknownName {
                name: s.to_string(),
                valid: ActivationName::valid_names(),
            })
    }
}

impl FromStr for ActivationName {
    type Err = ActivationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || ActivationError::UnknownName {
            name: s.to_string(),
            valid: Self::valid_names(),
        };
        match s.strip_prefix(ELSA_PREFIX) {
            Some(rest) => Self::new(rest.parse().map_err(|_| unknown())?, true),
            None => Self::new(s.parse().map_err(|_| unknown())?, false),
        }
    }
}

/// The number of base activations.
pub const NUM_BASES: usize = BaseActivation::COUNT;
