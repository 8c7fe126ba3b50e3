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
//! let d_alpha = grads.get(model.3.param_tensor(0).unwrap()).array();
//! assert!(d_alpha.is_finite());
//! ```

use std::cell::RefCell;

use dfdx::nn::{BuildModule, BuildOnDevice, Module, ModuleMut, ModuleVisitor, TensorCollection};
use dfdx::prelude::TensorOptions;
use dfdx::shapes::{Dtype, HasShape, Rank1, Shape};
use dfdx::tensor::{Cpu, CpuError, PutTape, SplitTape, Storage, Tape, Tensor, TensorFromVec};
use dfdx::tensor_ops::{Device, ReshapeTo};
use thiserror::Error;

use super::composed::{ComposeTape, ComposedActivation};
use super::fused::{self, Noise};
use super::state::{LayerState, StateError, STATE_LEN};
use super::tape::{grad_of, read_and_write, read_contiguous};
use crate::activation::{cast, Activation, Float};
use crate::elsa::Elsa;
use crate::error::ActivationError;

/// A built activation layer: one 0-d tensor per learnable parameter and one non-trainable
/// state tensor that holds the rest of the layer's definition (see [`crate::nn::state`]).
///
/// Everything that defines the layer's function lives in tensors, so that dfdx's
/// `save_safetensors`/`load_safetensors`, `to_dtype` and `to_device` keep it: the
/// hyperparameters, the initial parameter values that `ResetParams` restores, and the noise
/// seed. The number of parameter tensors is fixed by the activation type.
#[derive(Debug, Clone)]
pub struct ActivationLayer<A: Activation, E: Dtype, D: Storage<E>> {
    /// The configuration the layer was built or last configured with; the state tensor is
    /// what the passes use (a `load_safetensors` replaces only the tensors).
    activation: A,
    params: Vec<Tensor<(), E, D>>,
    state: Tensor<Rank1<STATE_LEN>, E, D>,
    training_passes: u64,
}

/// Why configuring a layer failed.
#[derive(Debug, Error)]
pub enum LayerError<DeviceError: core::fmt::Debug> {
    /// The activation refused the configuration.
    #[error(transparent)]
    Activation(#[from] ActivationError),
    /// The configuration does not fit into the layer's state.
    #[error(transparent)]
    State(#[from] StateError),
    /// The device failed.
    #[error("device error: {0:?}")]
    Device(DeviceError),
}

impl<A: Activation, E: Dtype + Float, D: Device<E>> ActivationLayer<A, E, D> {
    /// Builds a layer for `activation` on `device`, its parameters starting from the
    /// activation's own values (`Arelu::new(0.5, 1.0)` starts at α = 0.5, β = 1), which are
    /// also what `ResetParams` restores.
    ///
    /// # Errors
    /// When the activation is not element-wise (Maxout with a group size above 1), its
    /// configuration does not fit into the state, or the device fails.
    pub fn try_new(activation: A, device: &D) -> Result<Self, LayerError<D::Err>> {
        activation.check_elementwise()?;
        let mut layer = Self::try_build_seeded(device).map_err(LayerError::Device)?;
        layer.try_set_activation(activation)?;
        Ok(layer)
    }

    /// Builds the layer with the type's default activation, its noise seed drawn from the
    /// device's generator: what the builders ([`activation_layer!`](crate::activation_layer),
    /// [`Act`]) do.
    ///
    /// # Errors
    /// When the device fails.
    pub fn try_build_on(device: &D) -> Result<Self, D::Err> {
        Self::try_build_seeded(device)
    }

    /// Builds the layer with the type's default activation, and draws its noise seed from
    /// the device's generator (so that two RReLU layers of one model draw different noise).
    /// Every builder goes through here.
    fn try_build_seeded(device: &D) -> Result<Self, D::Err> {
        let mut layer = Self::try_build(device)?;
        layer.set_noise_seed(device.random_u64());
        Ok(layer)
    }

    /// The activation with its hyperparameters and *current* parameter values (the learned
    /// curve, e.g. for plotting after training).
    ///
    /// Should the state tensor hold another activation's state (after a `load_safetensors`
    /// of another model's file; [`crate::nn::load_checked`] refuses those), this is the
    /// configuration the layer was built with, and the passes return an error.
    pub fn activation(&self) -> A {
        let mut activation = self
            .stored_activation()
            .unwrap_or_else(|_| self.activation.clone());
        // The count always matches: the parameter tensors are made from this type.
        let _ = activation.set_params(&self.param_values());
        activation
    }

    /// The activation as the state tensor defines it, with the initial parameter values.
    ///
    /// # Errors
    /// When the state tensor does not hold a state of this activation type.
    pub fn stored_activation(&self) -> Result<A, StateError> {
        self.state()?.activation()
    }

    /// The parameter values chosen at construction, which `ResetParams` restores.
    ///
    /// # Errors
    /// When the state tensor does not hold a valid state.
    pub fn initial_params(&self) -> Result<Vec<f64>, StateError> {
        Ok(self.state()?.initial)
    }

    /// The seed of the per-element noise of stochastic activations.
    ///
    /// # Errors
    /// When the state tensor does not hold a valid state.
    pub fn noise_seed(&self) -> Result<u64, StateError> {
        Ok(self.state()?.seed)
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

    /// Sets the parameter values (in the order of [`ActivationLayer::param_names`]). The
    /// initial values that `ResetParams` restores stay as they are.
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

    /// Replaces the hyperparameters, sets the parameters to `activation`'s values and makes
    /// those the initial values that `ResetParams` restores. The noise seed is kept.
    ///
    /// # Errors
    /// When the activation is not element-wise, has a different parameter count, or its
    /// configuration does not fit into the state.
    pub fn try_set_activation(&mut self, activation: A) -> Result<(), LayerError<D::Err>> {
        activation.check_elementwise()?;
        crate::activation::check_param_count(
            &activation.name(),
            self.params.len(),
            &activation.params(),
        )?;
        let seed = self.noise_seed().unwrap_or(0);
        self.store(&LayerState::of(&activation, seed))?;
        self.try_set_params(&activation.params())?;
        self.activation = activation;
        Ok(())
    }

    /// Seeds the per-element noise of stochastic activations (RReLU in training).
    pub fn set_noise_seed(&mut self, seed: u64) {
        let mut state = self
            .state()
            .unwrap_or_else(|_| LayerState::of(&self.activation, seed));
        state.seed = seed;
        // A state that was stored (or the built configuration's) fits again with another seed.
        let _ = self.store(&state);
        self.training_passes = 0;
    }

    fn store(&mut self, state: &LayerState) -> Result<(), StateError> {
        let chunks: Vec<E> = state
            .encode()?
            .into_iter()
            .map(|c| cast(c.into()))
            .collect();
        self.state.copy_from(&chunks);
        Ok(())
    }
}

impl<A: Activation, E: Dtype, D: Storage<E>> ActivationLayer<A, E, D> {
    /// The parameter tensor `index` (in the order of [`Activation::param_names`]), e.g. to
    /// read its gradient.
    pub fn param_tensor(&self, index: usize) -> Option<&Tensor<(), E, D>> {
        self.params.get(index)
    }

    /// The parameter tensors, in the order of [`Activation::param_names`].
    pub fn param_tensors(&self) -> &[Tensor<(), E, D>] {
        &self.params
    }

    fn param_vector(&self) -> Vec<E> {
        self.params.iter().map(|p| p.as_vec()[0]).collect()
    }

    /// The decoded state tensor.
    fn state(&self) -> Result<LayerState, StateError> {
        LayerState::decode(&to_f64(&self.state.as_vec()))
    }

    /// The activation and noise seed the passes use, from the state tensor.
    fn resolved(&self) -> Result<(A, u64), StateError> {
        let state = self.state()?;
        Ok((state.activation()?, state.seed))
    }

    /// The noise of the next training pass: a new seed per pass.
    fn next_training_noise(&mut self, noise_seed: u64) -> Noise {
        self.training_passes += 1;
        Noise::Train {
            seed: fused::uniform(noise_seed, self.training_passes).to_bits(),
        }
    }
}

fn to_f64<E: Dtype>(values: &[E]) -> Vec<f64> {
    values
        .iter()
        .map(|v| v.to_f64().unwrap_or(f64::NAN))
        .collect()
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
        // A state that does not describe this activation (an unchecked load of another
        // model's file) is refused rather than computed with a configuration it does not hold.
        let (activation, _) = self.resolved().map_err(|_| CpuError::WrongNumElements)?;
        let x = x.try_contiguous()?;
        let (x, mut tape) = x.split_tape();
        let x_data = read_contiguous(&x);
        let params = self.param_vector();
        let mut out = vec![E::zero(); x_data.len()];
        fused::forward(&activation, &params, noise, &x_data, &mut out);
        let y = x.device().try_tensor_from_vec(out, *x.shape())?;
        if T::OWNS_TAPE {
            let x_ghost = x.ghost();
            let y_ghost = y.ghost();
            let param_ghosts: Vec<_> = self.params.iter().map(|p| p.ghost()).collect();
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

/// The devices the layers run on, and the path each takes for an activation `A`: the fused
/// kernels on [`Cpu`] (for every `A`), the composed form of dfdx tensor operations elsewhere
/// (for an `A` with a [`ComposedActivation`] form, which every built-in activation has).
/// dfdx's other device, CUDA, needs a CUDA toolkit to build; an implementation for it is one
/// call of [`ActivationLayer::try_forward_composed`].
pub trait LayerDevice<E: Dtype, A: Activation>: Device<E> {
    /// One pass of `layer` on `x` with `noise`, recording the backward pass on `x`'s tape.
    ///
    /// # Errors
    /// When the layer's state does not describe `A`, or the device fails.
    fn try_forward_layer<S: Shape, T: ComposeTape<E, Self>>(
        layer: &ActivationLayer<A, E, Self>,
        x: Tensor<S, E, Self, T>,
        noise: Noise,
    ) -> Result<Tensor<S, E, Self, T>, Self::Err>;

    /// The error of a pass whose layer state does not describe its activation (after an
    /// unchecked load of another model's file).
    fn invalid_state() -> Self::Err;
}

impl<A: Activation, E: Dtype + Float> LayerDevice<E, A> for Cpu
where
    Cpu: Device<E>,
{
    fn try_forward_layer<S: Shape, T: ComposeTape<E, Cpu>>(
        layer: &ActivationLayer<A, E, Cpu>,
        x: Tensor<S, E, Cpu, T>,
        noise: Noise,
    ) -> Result<Tensor<S, E, Cpu, T>, CpuError> {
        layer.try_forward_fused(x, noise)
    }

    fn invalid_state() -> CpuError {
        CpuError::WrongNumElements
    }
}

impl<A: ComposedActivation, E: Dtype + Float, D: LayerDevice<E, A>> ActivationLayer<A, E, D> {
    /// The pass written with dfdx's tensor operations, dfdx deriving the backward pass: what
    /// the layers run on a device without fused kernels. On the CPU it computes what
    /// [`ActivationLayer::try_forward_fused`] does, slower.
    ///
    /// # Errors
    /// When the state tensor does not describe this activation, or the device fails.
    pub fn try_forward_composed<S: Shape, T: ComposeTape<E, D>>(
        &self,
        x: Tensor<S, E, D, T>,
        noise: Noise,
    ) -> Result<Tensor<S, E, D, T>, D::Err> {
        let (activation, _) = self.resolved().map_err(|_| D::invalid_state())?;
        Ok(activation.composed(x, &self.params, noise))
    }
}

/// Evaluation mode, with or without a tape.
impl<A, S, E, D, T> Module<Tensor<S, E, D, T>> for ActivationLayer<A, E, D>
where
    A: Activation,
    S: Shape,
    E: Dtype + Float,
    D: LayerDevice<E, A>,
    T: ComposeTape<E, D>,
{
    type Output = Tensor<S, E, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<S, E, D, T>) -> Result<Self::Output, D::Err> {
        D::try_forward_layer(self, x, Noise::Eval)
    }
}

/// Training mode when `x` carries a tape (as dfdx's `Dropout`), evaluation otherwise.
impl<A, S, E, D, T> ModuleMut<Tensor<S, E, D, T>> for ActivationLayer<A, E, D>
where
    A: Activation,
    S: Shape,
    E: Dtype + Float,
    D: LayerDevice<E, A>,
    T: ComposeTape<E, D>,
{
    type Output = Tensor<S, E, D, T>;
    type Error = D::Err;

    fn try_forward_mut(&mut self, x: Tensor<S, E, D, T>) -> Result<Self::Output, D::Err> {
        let noise = if T::OWNS_TAPE && A::STOCHASTIC {
            let (_, seed) = self.resolved().map_err(|_| D::invalid_state())?;
            self.next_training_noise(seed)
        } else {
            Noise::Eval
        };
        D::try_forward_layer(self, x, noise)
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
        let names = A::default().param_names();
        // The state comes first: `ResetParams` visits fields in this order, and the state's
        // reset hands the initial values to the parameters' resets (see `reset_state`).
        let state = Self::tensor(
            STATE_TENSOR,
            |layer: &Self| &layer.state,
            |layer: &mut Self| &mut layer.state,
            TensorOptions::detached(reset_state::<A, E, D>),
        );
        let params: Vec<_> = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                Self::tensor(
                    name,
                    move |layer: &Self| &layer.params[i],
                    move |layer: &mut Self| &mut layer.params[i],
                    TensorOptions::reset_with(reset_param::<E, D>),
                )
            })
            .collect();
        visitor.visit_fields((state, params), move |(state, params)| {
            // A converted layer (`to_dtype`, `to_device`) is rebuilt from its state.
            let activation = LayerState::decode(&to_f64(&state.as_vec()))
                .and_then(|s| s.activation())
                .unwrap_or_default();
            ActivationLayer {
                activation,
                params,
                state,
                training_passes: 0,
            }
        })
    }
}

/// The name of the state tensor inside a layer (`0.1.activation_state` in a file).
pub const STATE_TENSOR: &str = "activation_state";

thread_local! {
    /// The initial values of the layer whose state `reset_state` just visited, last first.
    /// dfdx's reset hooks are plain function pointers that see one tensor each, so the
    /// state's hook passes the values on to the parameters' hooks, which dfdx visits right
    /// after it in order, on the same thread.
    static PENDING_RESET: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// Resets the state: a valid state is kept and its initial values are queued for the
/// parameters; anything else (a freshly allocated zero tensor) becomes the state of the
/// type's default configuration with noise seed 0.
fn reset_state<A: Activation, E: Dtype + Float, D: Device<E>>(
    t: &mut Tensor<Rank1<STATE_LEN>, E, D>,
) -> Result<(), D::Err> {
    let state = LayerState::decode(&to_f64(&t.as_vec()));
    let initial = match state {
        Ok(state) if state.activation::<A>().is_ok() => state.initial,
        _ => {
            let default = A::default();
            // A type whose default configuration does not fit keeps a zero state, which
            // the passes refuse.
            if let Ok(chunks) = LayerState::of(&default, 0).encode() {
                let chunks: Vec<E> = chunks.into_iter().map(|c| cast(c.into())).collect();
                t.copy_from(&chunks);
            }
            default.params()
        }
    };
    PENDING_RESET.with(|pending| {
        let mut pending = pending.borrow_mut();
        *pending = initial;
        pending.reverse();
    });
    Ok(())
}

/// Resets a parameter to its initial value, as queued by [`reset_state`].
fn reset_param<E: Dtype + Float, D: Device<E>>(t: &mut Tensor<(), E, D>) -> Result<(), D::Err> {
    if let Some(value) = PENDING_RESET.with(|pending| pending.borrow_mut().pop()) {
        t.copy_from(&[cast::<E>(value)]);
    }
    Ok(())
}

/// Makes an activation type a dfdx builder, so that it sits bare in dfdx tuples next to
/// dfdx's own layers: `(Linear<4, 8>, Mish, Linear<8, 1>)`, `dev.build_module::<Mish, f32>()`.
/// (dfdx's `BuildOnDevice` cannot be implemented for every `Activation` at once from this
/// crate; [`Act`] is the generic alternative.)
///
/// For a generic type, name its parameters after `where`:
/// `activation_layer!(MyPoly<K> where [const K: usize]);`.
///
/// ```
/// use arelu::{activation_layer, Float, FixedActivation};
/// use dfdx::prelude::*;
///
/// /// `x³`
/// #[derive(Debug, Clone, Copy, Default)]
/// struct Cube;
///
/// impl FixedActivation for Cube {
///     const NAME: &'static str = "cube";
///     #[inline(always)]
///     fn f<F: Float>(&self, x: F, _noise: F) -> F {
///         x * x * x
///     }
///     #[inline(always)]
///     fn df<F: Float>(&self, x: F, _noise: F) -> F {
///         F::from(3.0).unwrap() * x * x
///     }
/// }
/// activation_layer!(Cube);
///
/// let dev = Cpu::default();
/// let model = dev.build_module::<(Linear<2, 3>, Cube), f32>();
/// let y = model.forward(dev.tensor([1.0, -2.0]));
/// assert_eq!(y.shape(), &(Const::<3>,));
/// ```
#[macro_export]
macro_rules! activation_layer {
    ($ty:ty $(where [$($param:tt)*])?) => {
        impl<E, D $(, $($param)*)?> $crate::dfdx::nn::BuildOnDevice<D, E> for $ty
        where
            E: $crate::dfdx::shapes::Dtype + $crate::Float,
            D: $crate::dfdx::tensor_ops::Device<E>,
        {
            type Built = $crate::nn::ActivationLayer<$ty, E, D>;
            fn try_build_on_device(device: &D) -> Result<Self::Built, D::Err> {
                $crate::nn::ActivationLayer::try_build_on(device)
            }
        }
    };
}

impl<A: Activation, E: Dtype + Float, D: Device<E>> BuildOnDevice<D, E> for Elsa<A> {
    type Built = ActivationLayer<Elsa<A>, E, D>;
    fn try_build_on_device(device: &D) -> Result<Self::Built, D::Err> {
        Self::Built::try_build_seeded(device)
    }
}

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
