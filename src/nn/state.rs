//! The state of an activation layer: everything that defines its function besides the current
//! parameter values, kept in one non-trainable tensor so that dfdx's save, load, `to_dtype` and
//! `to_device` carry it along with the parameters.
//!
//! The state holds the activation's name (its type tag), its hyperparameters
//! ([`Activation::config`]), the parameter values chosen at construction (what `ResetParams`
//! restores) and the noise seed of stochastic activations. Every `f64` and `u64` is stored as
//! four 16-bit chunks, each an integer in `0..=65535` that `f32` and `f64` hold exactly, so
//! that the state survives any conversion between the float types exactly.
//!
//! Layout, one chunk per element: the magic `[0x6172, 0x656c, 0x7531]`, the name's length and
//! UTF-8 bytes (one byte per element), the number of hyperparameters and their values, the
//! number of initial parameter values and those values, the noise seed. The rest of the
//! [`STATE_LEN`] elements are zero.

use crate::activation::Activation;
use crate::error::ActivationError;

/// The number of elements of a layer's state tensor.
///
/// This bounds what a layer can store: an activation name of up to a few dozen bytes and
/// about 120 hyperparameters and parameters together. dfdx 0.13 visits only tensors of a shape
/// fixed at compile time, so every layer's state has this one length.
pub const STATE_LEN: usize = 512;

const MAGIC: [u16; 3] = [0x6172, 0x656c, 0x7531];

/// What a layer's state holds, decoded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LayerState {
    /// [`Activation::name`] of the configuration.
    pub name: String,
    /// [`Activation::config`].
    pub config: Vec<f64>,
    /// The parameter values chosen at construction.
    pub initial: Vec<f64>,
    /// The noise seed.
    pub seed: u64,
}

/// Why a state could not be stored or read back.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StateError {
    /// The configuration does not fit into [`STATE_LEN`] elements.
    #[error(
        "the configuration of {activation} needs {needed} state elements, more than {STATE_LEN}"
    )]
    TooLarge {
        /// The activation's name.
        activation: String,
        /// How many elements it needs.
        needed: usize,
    },
    /// The tensor does not hold a state written by this crate.
    #[error("not a layer state: {0}")]
    Malformed(&'static str),
    /// The state was written for another activation.
    #[error("the state is for {stored}, the layer is {expected}")]
    OtherActivation {
        /// The activation the state describes.
        stored: String,
        /// The layer's activation.
        expected: String,
    },
    /// The stored configuration is refused by the activation.
    #[error(transparent)]
    Activation(#[from] ActivationError),
}

impl LayerState {
    /// The state of `activation` (its hyperparameters, its parameter values as the initial
    /// values) with noise seed `seed`.
    pub fn of<A: Activation>(activation: &A, seed: u64) -> Self {
        Self {
            name: activation.name(),
            config: activation.config(),
            initial: activation.params(),
            seed,
        }
    }

    /// The activation this state describes, with the initial parameter values; refuses a
    /// state of another activation or parameter count.
    pub fn activation<A: Activation>(&self) -> Result<A, StateError> {
        let mut activation = A::from_config(&self.config)?;
        if activation.name() != self.name || activation.num_params() != self.initial.len() {
            return Err(StateError::OtherActivation {
                stored: format!("{} with {} parameters", self.name, self.initial.len()),
                expected: format!(
                    "{} with {} parameters",
                    activation.name(),
                    activation.num_params()
                ),
            });
        }
        activation.set_params(&self.initial)?;
        Ok(activation)
    }

    /// The chunks, padded with zeros to [`STATE_LEN`].
    pub fn encode(&self) -> Result<Vec<u16>, StateError> {
        let mut out: Vec<u16> = MAGIC.to_vec();
        let push_u64 = |out: &mut Vec<u16>, v: u64| {
            for i in 0..4 {
                out.push((v >> (16 * i)) as u16);
            }
        };
        push_u64(&mut out, self.name.len() as u64);
        out.extend(self.name.bytes().map(u16::from));
        for list in [&self.config, &self.initial] {
            push_u64(&mut out, list.len() as u64);
            for v in list.iter() {
                push_u64(&mut out, v.to_bits());
            }
        }
        push_u64(&mut out, self.seed);
        if out.len() > STATE_LEN {
            return Err(StateError::TooLarge {
                activation: self.name.clone(),
                needed: out.len(),
            });
        }
        out.resize(STATE_LEN, 0);
        Ok(out)
    }

    /// Reads a state back from its elements (as any float type holds them).
    pub fn decode(values: &[f64]) -> Result<Self, StateError> {
        let mut reader = Reader { values, at: 0 };
        for m in MAGIC {
            if reader.chunk()? != m {
                return Err(StateError::Malformed("no state tag"));
            }
        }
        let name_len = reader.len(1)?;
        let mut name = Vec::with_capacity(name_len);
        for _ in 0..name_len {
            let byte =
                u8::try_from(reader.chunk()?).map_err(|_| StateError::Malformed("bad name"))?;
            name.push(byte);
        }
        let name = String::from_utf8(name).map_err(|_| StateError::Malformed("bad name"))?;
        let config = reader.f64_list()?;
        let initial = reader.f64_list()?;
        let seed = reader.u64()?;
        Ok(Self {
            name,
            config,
            initial,
            seed,
        })
    }
}

/// Reads chunks in order, refusing anything that is not an integer in `0..=65535` and every
/// length that could not fit into the remaining elements (so a corrupt state never asks for
/// a large allocation).
struct Reader<'a> {
    values: &'a [f64],
    at: usize,
}

impl Reader<'_> {
    fn chunk(&mut self) -> Result<u16, StateError> {
        let v = *self
            .values
            .get(self.at)
            .ok_or(StateError::Malformed("truncated"))?;
        self.at += 1;
        if v.fract() == 0.0 && (0.0..=f64::from(u16::MAX)).contains(&v) {
            Ok(v as u16)
        } else {
            Err(StateError::Malformed("an element is not a 16-bit chunk"))
        }
    }

    fn u64(&mut self) -> Result<u64, StateError> {
        let mut v = 0u64;
        for i in 0..4 {
            v |= u64::from(self.chunk()?) << (16 * i);
        }
        Ok(v)
    }

    /// A count of items of `per_item` chunks each that must fit into what is left.
    fn len(&mut self, per_item: usize) -> Result<usize, StateError> {
        let n = self.u64()?;
        let left = (self.values.len() - self.at) as u64;
        if n.saturating_mul(per_item as u64) > left {
            return Err(StateError::Malformed("a length exceeds the state"));
        }
        Ok(n as usize)
    }

    fn f64_list(&mut self) -> Result<Vec<f64>, StateError> {
        let n = self.len(4)?;
        (0..n).map(|_| self.u64().map(f64::from_bits)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Elsa, Softplus};

    #[test]
    fn a_state_round_trips_through_f32_exactly() {
        let act = Elsa::new(Softplus::new(5.0, 20.0).unwrap()).with_alpha_beta(0.3, -1.25);
        let state = LayerState::of(&act, u64::MAX - 12345);
        let chunks = state.encode().unwrap();
        assert_eq!(chunks.len(), STATE_LEN);
        let as_f32: Vec<f64> = chunks.iter().map(|&c| f64::from(c as f32)).collect();
        let back = LayerState::decode(&as_f32).unwrap();
        assert_eq!(back, state);
        assert_eq!(back.activation::<Elsa<Softplus>>().unwrap(), act);
    }

    #[test]
    fn corrupt_states_are_refused() {
        let state = LayerState::of(&crate::Arelu::new(0.5, 1.0), 7);
        let good: Vec<f64> = state.encode().unwrap().iter().map(|&c| c as f64).collect();
        assert!(LayerState::decode(&good[..10]).is_err());
        assert!(LayerState::decode(&vec![0.0; STATE_LEN]).is_err());
        let mut huge = good.clone();
        huge[3..7].copy_from_slice(&[65535.0; 4]); // name length 2⁶⁴ − 1
        assert!(LayerState::decode(&huge).is_err());
        let mut fraction = good.clone();
        fraction[9] = 0.5;
        assert!(LayerState::decode(&fraction).is_err());
        let other = LayerState::decode(&good)
            .unwrap()
            .activation::<crate::Elsa<crate::Swish>>();
        assert!(matches!(other, Err(StateError::OtherActivation { .. })));
    }
}
