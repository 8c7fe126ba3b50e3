//! Runtime names of the 37 variants and the one place that maps a name to its type.

use core::fmt;
use core::str::FromStr;

use strum::{EnumCount, EnumIter, IntoEnumIterator, IntoStaticStr};

use crate::activation::Activation;
use crate::activations::*;
use crate::elsa::Elsa;
use crate::error::ActivationError;
use crate::nn::composed::ComposedActivation;

/// The one table of built-in activations. Each entry gives the variant of [`BaseActivation`],
/// the type the name stands for, the type pattern that becomes a dfdx builder, and whether
/// the activation has learnable parameters. From it come the name enum, both visitors'
/// dispatch and the builder implementations: adding a built-in activation is one line here
/// (plus its [`ComposedActivation`] form, which the tests compare the kernels with).
macro_rules! registry {
    ($(
        $variant:ident => $ty:ty, builder $builder:ty $([$($generics:tt)*])?, learnable: $learnable:literal;
    )*) => {
        /// One of the paper's 19 activations, by name.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, EnumIter, EnumCount,
            IntoStaticStr,
        )]
        #[strum(serialize_all = "snake_case")]
        pub enum BaseActivation {
            $(
                #[doc = concat!("[`", stringify!($variant), "`]")]
                $variant,
            )*
        }

        impl BaseActivation {
            /// Whether the activation has learnable parameters (the last six).
            pub fn is_learnable(self) -> bool {
                match self {
                    $(Self::$variant => $learnable,)*
                }
            }
        }

        impl ActivationName {
            /// Calls `visitor.visit::<A>()` with `A` the type of this variant: `Relu`,
            /// `Elsa<Swish>`... This is the one place that maps runtime names to types;
            /// everything after it is statically typed.
            pub fn visit<V: ActivationVisitor>(self, visitor: V) -> V::Output {
                fn go<A: Activation, V: ActivationVisitor>(elsa: bool, visitor: V) -> V::Output {
                    if elsa {
                        visitor.visit::<Elsa<A>>()
                    } else {
                        visitor.visit::<A>()
                    }
                }
                // `Elsa<Arelu>` is unreachable through `new` and `from_str`, and harmless.
                match self.base {
                    $(BaseActivation::$variant => go::<$ty, V>(self.elsa, visitor),)*
                }
            }

            /// As [`ActivationName::visit`], for code that needs the composed form of the
            /// activation too (the tests that cross-check the fused kernels).
            pub fn visit_composed<V: ComposedVisitor>(self, visitor: V) -> V::Output {
                fn go<A: ComposedActivation, V: ComposedVisitor>(
                    elsa: bool,
                    visitor: V,
                ) -> V::Output {
                    if elsa {
                        visitor.visit::<Elsa<A>>()
                    } else {
                        visitor.visit::<A>()
                    }
                }
                match self.base {
                    $(BaseActivation::$variant => go::<$ty, V>(self.elsa, visitor),)*
                }
            }
        }

        $(crate::activation_layer!($builder $(where [$($generics)*])?);)*
    };
}

registry! {
    Relu => Relu, builder Relu, learnable: false;
    Relu6 => Relu6, builder Relu6, learnable: false;
    LeakyRelu => LeakyRelu, builder LeakyRelu, learnable: false;
    Rrelu => Rrelu, builder Rrelu, learnable: false;
    Celu => Celu, builder Celu, learnable: false;
    Elu => Elu, builder Elu, learnable: false;
    Gelu => Gelu, builder Gelu, learnable: false;
    Maxout => Maxout, builder Maxout, learnable: false;
    Selu => Selu, builder Selu, learnable: false;
    Sigmoid => Sigmoid, builder Sigmoid, learnable: false;
    Softplus => Softplus, builder Softplus, learnable: false;
    Swish => Swish, builder Swish, learnable: false;
    Tanh => Tanh, builder Tanh, learnable: false;
    Apl => Apl, builder Apl<S> [const S: usize], learnable: true;
    Mixture => Mixture, builder Mixture, learnable: true;
    Pau => Pau, builder Pau, learnable: true;
    Prelu => Prelu, builder Prelu, learnable: true;
    Slaf => Slaf, builder Slaf<K> [const K: usize], learnable: true;
    Arelu => Arelu, builder Arelu, learnable: true;
}

impl BaseActivation {
    /// The name, e.g. `"leaky_relu"`.
    pub fn as_str(self) -> &'static str {
        self.into()
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
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "String", into = "String")
)]
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
}

/// Something to do with an activation type chosen at run time; see
/// [`ActivationName::visit`].
pub trait ActivationVisitor {
    /// The result.
    type Output;
    /// Does it with the activation type `A`.
    fn visit<A: Activation>(self) -> Self::Output;
}

/// As [`ActivationVisitor`], with the composed form of the activation at hand; see
/// [`ActivationName::visit_composed`].
pub trait ComposedVisitor {
    /// The result.
    type Output;
    /// Does it with the activation type `A`.
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

/// The canonical spelling of a name: lower case, `_` for `-` (the ELSA prefix then reads
/// `elsa_`).
fn normalise(s: &str) -> String {
    s.trim().to_ascii_lowercase().replace('-', "_")
}

impl FromStr for BaseActivation {
    type Err = ActivationError;
    /// Parses a base name, case-insensitively and with `-` and `_` interchangeable
    /// (`"Leaky-ReLU"` is `leaky_relu`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = normalise(s);
        BaseActivation::iter()
            .find(|b| b.as_str() == wanted)
            .ok_or_else(|| ActivationError::UnknownName {
                name: s.to_string(),
                valid: ActivationName::valid_names(),
            })
    }
}

impl FromStr for ActivationName {
    type Err = ActivationError;
    /// Parses a name, case-insensitively and with `-` and `_` interchangeable
    /// (`"ELSA_Leaky-ReLU"` is `elsa-leaky_relu`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || ActivationError::UnknownName {
            name: s.to_string(),
            valid: Self::valid_names(),
        };
        let wanted = normalise(s);
        match wanted.strip_prefix("elsa_") {
            Some(rest) => Self::new(rest.parse().map_err(|_| unknown())?, true),
            None => Self::new(wanted.parse().map_err(|_| unknown())?, false),
        }
    }
}

impl TryFrom<String> for ActivationName {
    type Error = ActivationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ActivationName> for String {
    fn from(name: ActivationName) -> String {
        name.to_string()
    }
}

/// The number of base activations.
pub const NUM_BASES: usize = BaseActivation::COUNT;
