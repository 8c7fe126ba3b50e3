//! [`load_checked`]: loads a safetensors file into a model only when the file was written by a
//! model of the same type and float type.
//!
//! dfdx's own `load_safetensors` copies tensors by name: a file of another activation type with
//! the same tensor names loads silently, and a file of another float type panics. This
//! function reads the file's header first and compares every tensor's name, shape and dtype,
//! and every activation layer's state, with the model's, before anything is copied.
//!
//! ```
//! use arelu::nn::{load_checked, LoadError, MnistConv};
//! use arelu::{Arelu, Elsa, Swish};
//! use dfdx::prelude::*;
//!
//! let dev = Cpu::default();
//! let model = dev.build_module::<MnistConv<Arelu>, f32>();
//! let path = std::env::temp_dir().join(format!("arelu-doc-{}.safetensors", std::process::id()));
//! model.save_safetensors(&path).unwrap();
//!
//! let mut same = dev.build_module::<MnistConv<Arelu>, f32>();
//! load_checked(&mut same, &path).unwrap();
//!
//! let mut other = dev.build_module::<MnistConv<Elsa<Swish>>, f32>();
//! let err = load_checked(&mut other, &path).unwrap_err();
//! assert!(matches!(err, LoadError::Activation { .. }));
//! # std::fs::remove_file(&path).ok();
//! ```

use std::path::{Path, PathBuf};

use dfdx::nn::tensor_collection::{
    RecursiveWalker, TensorCollection, TensorOptions, TensorVisitor, ViewTensorName, ViewTensorRef,
};
use dfdx::shapes::{Dtype, HasShape, Shape};
use dfdx::tensor::safetensors::SafeDtype;
use dfdx::tensor::Tensor;
use dfdx::tensor_ops::Device;
use safetensors::tensor::{Dtype as FileDtype, SafeTensors};
use thiserror::Error;

use super::layer::STATE_TENSOR;
use super::state::{LayerState, StateError};

/// Why [`load_checked`] refused a file. Nothing has been copied into the model when it does.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a valid safetensors file (truncated, a corrupt header).
    #[error("{path} is not a valid safetensors file: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What the safetensors reader reported.
        reason: String,
    },
    /// A tensor of the model is not in the file.
    #[error("tensor `{name}` of the model is missing from the file")]
    Missing {
        /// The tensor's path in the model (`0.1.alpha`).
        name: String,
    },
    /// The file has a tensor that the model does not.
    #[error("the file has tensor `{name}`, which the model does not")]
    Unexpected {
        /// The tensor's name in the file.
        name: String,
    },
    /// A tensor's shape differs.
    #[error("tensor `{name}`: the file has shape {file:?}, the model {model:?}")]
    Shape {
        /// The tensor.
        name: String,
        /// The shape in the file.
        file: Vec<usize>,
        /// The shape in the model.
        model: Vec<usize>,
    },
    /// A tensor's float type differs.
    #[error("tensor `{name}`: the file holds {file}, the model {model}")]
    Dtype {
        /// The tensor.
        name: String,
        /// The file's dtype.
        file: String,
        /// The model's dtype.
        model: String,
    },
    /// An activation layer of the file is another activation than the model's.
    #[error("layer `{name}`: the file holds {file}, the model {model}")]
    Activation {
        /// The state tensor of the layer.
        name: String,
        /// The activation in the file, with its parameter count.
        file: String,
        /// The activation in the model.
        model: String,
    },
    /// A layer state in the file is not valid.
    #[error("layer state `{name}` in the file: {source}")]
    State {
        /// The state tensor.
        name: String,
        /// What is wrong with it.
        source: StateError,
    },
    /// Copying the checked tensors failed.
    #[error("loading failed: {0}")]
    Copy(String),
}

/// What the model expects of one tensor.
struct Expected {
    name: String,
    shape: Vec<usize>,
    dtype: FileDtype,
    /// For a layer state: the model's state.
    state: Option<Result<LayerState, StateError>>,
}

struct Collect(Vec<Expected>);

impl<E: Dtype + SafeDtype, D: Device<E>> TensorVisitor<E, D> for Collect {
    type Viewer = (ViewTensorRef, ViewTensorName);
    type Err = core::convert::Infallible;
    type E2 = E;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        _: TensorOptions<S, E, D>,
        (t, name): (&Tensor<S, E, D>, String),
    ) -> Result<Option<Tensor<S, E, D>>, Self::Err> {
        let state = is_state(&name).then(|| {
            let values: Vec<f64> = t
                .as_vec()
                .iter()
                .map(|v| v.to_f64().unwrap_or(f64::NAN))
                .collect();
            LayerState::decode(&values)
        });
        self.0.push(Expected {
            shape: t.shape().concrete().into(),
            dtype: E::safe_dtype(),
            name,
            state,
        });
        Ok(None)
    }
}

fn is_state(name: &str) -> bool {
    name == STATE_TENSOR || name.ends_with(&format!(".{STATE_TENSOR}"))
}

/// Loads the safetensors file `path` into `model` after checking that it fits: the same
/// tensor names, shapes and dtype, and in every activation layer the same activation type.
///
/// # Errors
/// A [`LoadError`] naming the first difference found, or why the file could not be read.
/// The model is left unchanged then.
pub fn load_checked<M, E, D>(model: &mut M, path: impl AsRef<Path>) -> Result<(), LoadError>
where
    M: TensorCollection<E, D>,
    E: Dtype + SafeDtype,
    D: Device<E>,
{
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| LoadError::Format {
        path: path.to_path_buf(),
        reason: format!("{e:?}"),
    })?;

    let mut collect = Collect(Vec::new());
    M::iter_tensors(&mut RecursiveWalker {
        m: (&*model, String::new()),
        f: &mut collect,
    })
    .unwrap_or_else(|never| match never {});
    let expected = collect.0;

    for want in &expected {
        let found = file.tensor(&want.name).map_err(|_| LoadError::Missing {
            name: want.name.clone(),
        })?;
        if found.dtype() != want.dtype {
            return Err(LoadError::Dtype {
                name: want.name.clone(),
                file: format!("{:?}", found.dtype()),
                model: format!("{:?}", want.dtype),
            });
        }
        if found.shape() != want.shape.as_slice() {
            return Err(LoadError::Shape {
                name: want.name.clone(),
                file: found.shape().to_vec(),
                model: want.shape.clone(),
            });
        }
        if let Some(model_state) = &want.state {
            let state_error = |source| LoadError::State {
                name: want.name.clone(),
                source,
            };
            let stored = LayerState::decode(&file_values(found.data(), found.dtype()))
                .map_err(state_error)?;
            // A model's own state is valid unless a previous unchecked load broke it; then
            // any valid state of the file is an improvement.
            if let Ok(model_state) = model_state {
                let describe =
                    |s: &LayerState| format!("{} ({} parameters)", s.name, s.initial.len());
                if stored.name != model_state.name
                    || stored.initial.len() != model_state.initial.len()
                {
                    return Err(LoadError::Activation {
                        name: want.name.clone(),
                        file: describe(&stored),
                        model: describe(model_state),
                    });
                }
            }
        }
    }
    let mut names: Vec<&String> = file.names();
    names.sort();
    if let Some(extra) = names
        .into_iter()
        .find(|n| !expected.iter().any(|e| &e.name == *n))
    {
        return Err(LoadError::Unexpected {
            name: extra.clone(),
        });
    }

    // Every tensor now has the model's name, shape and dtype, so dfdx's copy cannot fail on
    // a mismatch.
    let mut file = file;
    M::iter_tensors(&mut RecursiveWalker {
        m: (model, String::new()),
        f: &mut file,
    })
    .map_err(|e| LoadError::Copy(format!("{e:?}")))?;
    Ok(())
}

/// The values of a little-endian tensor of `dtype`, as `f64`; empty for a dtype that no
/// layer state uses.
fn file_values(data: &[u8], dtype: FileDtype) -> Vec<f64> {
    match dtype {
        FileDtype::F32 => data
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        FileDtype::F64 => data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect(),
        _ => Vec::new(),
    }
}
