//! Shared by the layer tests: a small model trained with SGD on a fixed batch.

use dfdx::losses::mse_loss;
use dfdx::nn::{ModuleMut, TensorCollection, ZeroGrads};
use dfdx::optim::{Momentum, Optimizer, Sgd, SgdConfig};
use dfdx::shapes::{Const, Dtype};
use dfdx::tensor::{AsArray, Cpu, OwnedTape, Tensor, Trace};
use dfdx::tensor_ops::{Backward, Device};

/// Feature maps `(batch, C, height, width)` on the Cpu.
pub(crate) type Maps<const C: usize, E, T = dfdx::tensor::NoneTape> =
    Tensor<(usize, Const<C>, usize, usize), E, Cpu, T>;

/// Trains `model` for `steps` SGD steps (lr 0.05, momentum 0.9) towards `target` under the
/// mean squared error, and returns the loss before each step.
pub(crate) fn sgd_losses<M, E, const CI: usize, const CO: usize>(
    model: &mut M,
    x: &Maps<CI, E>,
    target: &Maps<CO, E>,
    steps: usize,
) -> Vec<E>
where
    E: Dtype + crate::activation::Float,
    Cpu: Device<E>,
    M: TensorCollection<E, Cpu>
        + ModuleMut<Maps<CI, E, OwnedTape<E, Cpu>>, Output = Maps<CO, E, OwnedTape<E, Cpu>>>,
    Sgd<M, E, Cpu>: Optimizer<M, Cpu, E>,
{
    let mut grads = model.alloc_grads();
    let mut opt = Sgd::new(
        model,
        SgdConfig {
            lr: 0.05,
            momentum: Some(Momentum::Classic(0.9)),
            weight_decay: None,
        },
    );
    let mut losses = Vec::with_capacity(steps);
    for _ in 0..steps {
        let y = model.forward_mut(x.trace(grads));
        let loss = mse_loss(y, target.clone());
        losses.push(loss.array());
        grads = loss.backward();
        opt.update(model, &grads)
            .expect("every parameter has a gradient");
        model.zero_grads(&mut grads);
    }
    losses
}
