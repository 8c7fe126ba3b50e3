//! [`ActivationLayer`]: any [`Activation`] as a trainable dfdx layer.
//!
//! Every activation type is also a dfdx builder: `dev.build_module::<Elsa<Swish>, f32>()`
//! builds an `ActivationLayer<Elsa<Swish>, f32, Cpu>`, usable in dfdx tuples next to dfdx's own
//! layers. Its learnable parameters are 0-d dfdx tensors, one per named parameter (`alpha`,
//! `beta`, ...), visited through [`TensorCollection`], so that dfdx's optimisers, `ZeroGrads`,
//! `ResetParams`, `NumParams` and safetensors see them.
//!
//! Train versus eval follows dfdx's `Dropout`: [`ModuleMut::forward_mut`] on a tensor that
//! carries a gradient tape is training (RReLU draws random slopes); [`Module::forward`], or
//! any pass without a tape, is evaluation (RReLU uses its mean slope). Every other activation
//! is deterministic and behaves the same in both.
//!
//! ```
//! use arelu::{Arelu, Elsa, Swish};
//! use dfdx::prelude::*;
//!
//! let dev = Cpu::default();
//! type Model = (Linear<4, 8>, Elsa<Swish>, Linear<8, 2>, Arelu);
//! let mut model = dev.build_module::<Model, f32>();
//! assert_eq!(model.1.param_names(), ["alpha", "beta"]);
//! model.3.try_set_params(&[0.5, 1.0]).unwrap(); // AReLU starting from α = 0.5, β = 1
//!
//! let x: Tensor<Rank2<3, 4>, f32, _> = dev.sample_normal();
//! let grads = model.alloc_grads();
//! let loss = model.forward_mut(x.traced(grads)).square().mean();
//! let grads = loss.backward();
//! let d_alpha = grads.get(&model.3.params[0]).array();
//! assert!(d_alpha.is_finite());
//! ```

use dfdx::nn::{BuildModule, BuildOnDevice, Module, ModuleMut, ModuleVisitor, TensorCollection};
use dfdx::prelude::TensorOptions;
use dfdx::shapes::{Dtype, HasShape, Shape};
use dfdx::tensor::{Cpu, CpuError, PutTape, SplitTape, Storage, Tape, Tensor, TensorFromVec};
use dfdx::tensor_ops::{Device, ReshapeTo};
use thiserror::Error;

use super::fused::{self, Noise};
use super::tape::{grad_of, read_and_write, read_contiguous};
use crate::activation::{cast, Activation, Float};
use crate::activations::*;
use crate::elsa::Elsa;
use crate::error::ActivationError;

/// A built activation layer: the activation's definition and hyperparameters, and one 0-d
/// tensor per learnable parameter.
#[derive(Debug, Clone)]
pub struct ActivationLayer<A: Activation, E: Dtype, D: Storage<E>> {
    activation: A,
    /// The learnable parameters, in the order of [`Activation::param_names`].
    pub params: Vec<Tensor<(), E, D>>,
    noise_seed: u64,
    training_passes: u64,
}

/// Why configuring a layer failed.
#[derive(Debug, Error)]
pub enum LayerError<DeviceError: core::fmt::Debug> {
    /// The activation refused the configuration.
    #[error(transparent)]
    Activation(#[from] ActivationError),
    /// The device failed.
    #[error("device error: {0:?}")]
    Device(DeviceError),
}

impl<A: Activation, E: Dtype + Float, D: Device<E>> ActivationLayer<A, E, D> {
    /// Builds a layer for `activation` on `device`, its parameters starting from the
    /// activation's own values (`Arelu::new(0.5, 1.0)` starts at α = 0.5, β = 1).
    ///
    /// # Errors
    /// When the activation is not element-wise (Maxout with a group size above 1) or the
    /// device fails.
    pub fn try_new(activation: A, device: &D) -> Result<Self, LayerError<D::Err>> {
        activation.check_elementwise()?;
        let mut layer = Self::try_build_seeded(device).map_err(LayerError::Device)?;
        layer.try_set_activation(activation)?;
        Ok(layer)
    }

    /// Builds the layer with the type's default activation, and draws its noise seed from
    /// the device's generator (so that two RReLU layers of one model draw different noise).
    /// Every builder goes through here.
    fn try_build_seeded(device: &D) -> Result<Self, D::Err> {
        let mut layer = Self::try_build(device)?;
        layer.noise_seed = device.random_u64();
        Ok(layer)
    }

    /// The activation with its hyperparameters and *current* parameter values (the learned
    /// curve, e.g. for plotting after training).
    pub fn activation(&self) -> A {
        let mut activation = self.activation.clone();
        // The count always matches: the parameter tensors are made from this type.
        let _ = activation.set_params(&self.param_values());
        activation
    }

    /// The names of the learnable parameters.
    pub fn param_names(&self) -> Vec<String> {
        self.activation.param_names()
    }

    /// The current parameter values.
    pub fn param_values(&self) -> Vec<f64> {
        self.params
            .iter()
            .map(|p| p.as_vec()[0].to_f64().unwrap_or(f64::NAN))
            .collect()
    }

    /// Sets the parameter values (in the order of [`ActivationLayer::param_names`]).
    ///
    /// # Errors
    /// [`ActivationError::ParamCount`] when `values` has the wrong length.
    pub fn try_set_params(&mut self, values: &[f64]) -> Result<(), ActivationError> {
        crate::activation::check_param_count(&self.activation.name(), self.params.len(), values)?;
        for (tensor, &value) in self.params.iter_mut().zip(values) {
            tensor.copy_from(&[cast::<E>(value)]);
        }
        Ok(())
    }

    /// Replaces the hyperparameters and sets the parameters to `activation`'s values.
    ///
    /// # Errors
    /// When the activation is not element-wise or has a different parameter count.
    pub fn try_set_activation(&mut self, activation: A) -> Result<(), ActivationError> {
        activation.check_elementwise()?;
        self.try_set_params(&activation.params())?;
        self.activation = activation;
        Ok(())
    }

    /// Seeds the per-element noise of stochastic activations (RReLU in training).
    pub fn set_noise_seed(&mut self, seed: u64) {
        self.noise_seed = seed;
        self.training_passes = 0;
    }
}

impl<A: Activation, E: Dtype, D: Storage<E>> ActivationLayer<A, E, D> {
    fn param_vector(&self) -> Vec<E> {
        self.params.iter().map(|p| p.as_vec()[0]).collect()
    }

    /// The noise of the next training pass: a new seed per pass.
    fn next_training_noise(&mut self) -> Noise {
        self.training_passes += 1;
        Noise::Train {
            seed: fused::uniform(self.noise_seed, self.training_passes).to_bits(),
        }
    }
}

impl<A: Activation, E: Dtype + Float> ActivationLayer<A, E, Cpu> {
    /// The fused forward pass with explicit noise, recording the fused backward pass on
    /// `x`'s tape. [`Module::forward`] and [`ModuleMut::forward_mut`] call it with the noise
    /// of evaluation and training; tests and custom loops can pick it themselves.
    pub fn try_forward_fused<S: Shape, T: Tape<E, Cpu>>(
        &self,
        x: Tensor<S, E, Cpu, T>,
        noise: Noise,
    ) -> Result<Tensor<S, E, Cpu, T>, CpuError> {
        // Gradient buffers follow the storage layout: work on a contiguous tensor (a copy is
        // recorded on the tape when needed, routing the gradient back to the original).
        let x = x.try_contiguous()?;
        let (x, mut tape) = x.split_tape();
        let x_data = read_contiguous(&x);
        let params = self.param_vector();
        let mut out = vec![E::zero(); x_data.len()];
        fused::forward(&self.activation, &params, noise, &x_data, &mut out);
        let y = x.device().try_tensor_from_vec(out, *x.shape())?;
        if T::OWNS_TAPE {
            let x_ghost = x.ghost();
            let y_ghost = y.ghost();
            let param_ghosts: Vec<_> = self.params.iter().map(|p| p.ghost()).collect();
            let activation = self.activation.clone();
            drop(x);
            tape.add_backward_op(move |grads| {
                let (grad_y, grad_x) =
                    read_and_write(grads, grad_of!(&y_ghost), grad_of!(&x_ghost))?;
                if grad_x.len() != x_data.len() || grad_y.len() != x_data.len() {
                    return Err(CpuError::WrongNumElements);
                }
                let sums = fused::backward(&activation, &params, noise, &x_data, grad_y, grad_x);
                for (ghost, sum) in param_ghosts.iter().zip(sums) {
                    let grad = grads.get_or_alloc_mut(ghost)?;
                    grad[0] += cast::<E>(sum);
                }
                Ok(())
            });
        }
        Ok(y.put_tape(tape))
    }
}

/// Evaluation mode, with or without a tape.
impl<A: Activation, S: Shape, E: Dtype + Float, T: Tape<E, Cpu>> Module<Tensor<S, E, Cpu, T>>
    for ActivationLayer<A, E, Cpu>
{
    type Output = Tensor<S, E, Cpu, T>;
    type Error = CpuError;

    fn try_forward(&self, x: Tensor<S, E, Cpu, T>) -> Result<Self::Output, CpuError> {
        self.try_forward_fused(x, Noise::Eval)
    }
}

/// Training mode when `x` carries a tape (as dfdx's `Dropout`), evaluation otherwise.
impl<A: Activation, S: Shape, E: Dtype + Float, T: Tape<E, Cpu>> ModuleMut<Tensor<S, E, Cpu, T>>
    for ActivationLayer<A, E, Cpu>
{
    type Output = Tensor<S, E, Cpu, T>;
    type Error = CpuError;

    fn try_forward_mut(&mut self, x: Tensor<S, E, Cpu, T>) -> Result<Self::Output, CpuError> {
        let noise = if T::OWNS_TAPE && A::STOCHASTIC {
            self.next_training_noise()
        } else {
            Noise::Eval
        };
        self.try_forward_fused(x, noise)
    }
}

impl<A: Activation, E: Dtype + Float, D: Device<E>> TensorCollection<E, D>
    for ActivationLayer<A, E, D>
{
    type To<E2: Dtype, D2: Device<E2>> = ActivationLayer<A, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        // The parameter list is fixed by the type: its default configuration names them.
        let activation = A::default();
        let names = activation.param_names();
        let fields: Vec<_> = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                Self::tensor(
                    name,
                    move |layer: &Self| &layer.params[i],
                    move |layer: &mut Self| &mut layer.params[i],
                    TensorOptions::reset_with(reset_fn::<A, E, D>(i)),
                )
            })
            .collect();
        visitor.visit_fields(fields, move |params| ActivationLayer {
            activation,
            params,
            noise_seed: 0,
            training_passes: 0,
        })
    }
}

/// Resets parameter `I` to the activation type's default value.
fn reset_nth<A: Activation, E: Dtype + Float, D: Device<E>, const I: usize>(
    t: &mut Tensor<(), E, D>,
) -> Result<(), D::Err> {
    let value = A::default().params().get(I).copied().unwrap_or(0.0);
    t.copy_from(&[cast::<E>(value)]);
    Ok(())
}

/// Leaves a parameter as it is (see [`MAX_RESETTABLE_PARAMS`]).
fn reset_keep<E: Dtype, D: Device<E>>(_: &mut Tensor<(), E, D>) -> Result<(), D::Err> {
    Ok(())
}

/// dfdx's reset hooks are plain function pointers, so one is instantiated per parameter
/// index. `ResetParams` restores the first this many parameters of a layer to their defaults
/// and leaves any further ones as they are.
pub const MAX_RESETTABLE_PARAMS: usize = 32;

macro_rules! reset_table {
    ($($i:literal)*) => {
        fn reset_fn<A: Activation, E: Dtype + Float, D: Device<E>>(
            index: usize,
        ) -> fn(&mut Tensor<(), E, D>) -> Result<(), D::Err> {
            match index {
                $($i => reset_nth::<A, E, D, $i>,)*
                _ => reset_keep::<E, D>,
            }
        }
    };
}
reset_table!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31);

/// Makes activation types dfdx builders (`dev.build_module::<Relu, f32>()`).
macro_rules! build_on_device {
    ($($(#[$generics:meta])? $ty:ty $(where [$($param:tt)*])?),* $(,)?) => {$(
        impl<E: Dtype + Float, D: Device<E> $(, $($param)*)?> BuildOnDevice<D, E> for $ty {
            type Built = ActivationLayer<$ty, E, D>;
            fn try_build_on_device(device: &D) -> Result<Self::Built, D::Err> {
                Self::Built::try_build_seeded(device)
            }
        }
    )*};
}

build_on_device!(
    Relu, Relu6, LeakyRelu, Rrelu, Celu, Elu, Gelu, Maxout, Selu, Sigmoid, Softplus, Swish, Tanh,
    Mixture, Pau, Prelu, Arelu,
    Apl<S> where [const S: usize],
    Slaf<K> where [const K: usize],
    Elsa<A> where [A: Activation],
);

/// A builder for `ActivationLayer<A, _, _>` that works for every `A: Activation` at once,
/// where generic code cannot name `A` itself as a builder (dfdx's `BuildOnDevice` is
/// implemented for each activation type separately). `MnistConv<A>` is made of these.
#[derive(Debug, Clone, Copy, Default)]
pub struct Act<A>(core::marker::PhantomData<A>);

impl<A: Activation, E: Dtype + Float, D: Device<E>> BuildOnDevice<D, E> for Act<A> {
    type Built = ActivationLayer<A, E, D>;
    fn try_build_on_device(device: &D) -> Result<Self::Built, D::Err> {
        Self::Built::try_build_seeded(device)
    }
}
