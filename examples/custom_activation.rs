//! Writing your own activation: Mish, `x·tanh(softplus(x))`, as a fixed activation, and a
//! learnable variant `x·tanh(softplus(a·x))`, each wrapped in ELSA and trained for a few steps
//! in the paper's MNIST network on the shipped subset (data/mnist-subset).
//!
//! ```text
//! cargo run --release --example custom_activation
//! ```

use arelu::experiment::batches::Images;
use arelu::mnist::Mnist;
use arelu::prelude::*;
use arelu::{activation, curve};
use dfdx::losses::cross_entropy_with_logits_loss;
use dfdx::optim::Adam;
use dfdx::prelude::*;

/// Mish: `f(x) = x·tanh(softplus(x))` (Misra, 2019). No parameters: a [`FixedActivation`]
/// gives the value and the derivative, and gets everything else.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Mish;

/// `softplus(t) = ln(1 + eᵗ)`, without overflow for large `t`.
#[inline(always)]
fn softplus<F: Float>(t: F) -> F {
    if t > activation::cast(20.0) {
        t
    } else {
        t.exp_simd().ln_1p_simd()
    }
}

// `#[inline(always)]` on `f` and `df` lets the fused kernels inline them into their loops,
// which is what makes those loops vectorise.
impl FixedActivation for Mish {
    const NAME: &'static str = "mish";
    #[inline(always)]
    fn f<F: Float>(&self, x: F, _noise: F) -> F {
        x * softplus(x).tanh_simd()
    }
    #[inline(always)]
    fn df<F: Float>(&self, x: F, _noise: F) -> F {
        // d/dx x·tanh(sp(x)) = tanh(sp) + x·(1 − tanh²(sp))·σ(x)
        let t = softplus(x).tanh_simd();
        t + x * (F::one() - t * t) * activation::sigmoid(x)
    }
}
activation_layer!(Mish);

/// Mish with a learnable input scale: `f(x) = x·tanh(softplus(a·x))`, `a = 1` initially.
/// A learnable activation implements [`Activation`] itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LearnableMish {
    /// The input scale `a`.
    pub a: f64,
}

impl Default for LearnableMish {
    fn default() -> Self {
        Self { a: 1.0 }
    }
}

impl Activation for LearnableMish {
    /// `a`, as the float type of the pass.
    type Prepared<F: Float> = F;

    fn name(&self) -> String {
        "learnable_mish".into()
    }
    fn param_names(&self) -> Vec<String> {
        vec!["a".into()]
    }
    fn params(&self) -> Vec<f64> {
        vec![self.a]
    }
    fn set_params(&mut self, values: &[f64]) -> Result<(), ActivationError> {
        match values {
            [a] => {
                self.a = *a;
                Ok(())
            }
            _ => Err(ActivationError::ParamCount {
                activation: self.name(),
                expected: 1,
                got: values.len(),
            }),
        }
    }
    #[inline(always)]
    fn prepare<F: Float>(&self, params: &[F]) -> F {
        params[0]
    }
    #[inline(always)]
    fn value<F: Float>(&self, &a: &F, x: F, _noise: F) -> F {
        x * softplus(a * x).tanh_simd()
    }
    #[inline(always)]
    fn backward<F: Float>(&self, &a: &F, x: F, _noise: F, grad_out: F, grads: &mut [F]) -> F {
        let t = softplus(a * x).tanh_simd();
        // ∂/∂(a·x) of tanh(sp(a·x)), times x from the outer product rule.
        let inner = x * (F::one() - t * t) * activation::sigmoid(a * x);
        grads[0] = grads[0] + grad_out * inner * x;
        grad_out * (t + inner * a)
    }
}
activation_layer!(LearnableMish);

/// A few Adam steps of `MnistConv<A>` on the first 256 training images of the subset;
/// returns the losses.
pub fn train_for_test<A: Activation>(images: &Images, steps: usize) -> Vec<f32> {
    let dev = Cpu::seed_from_u64(0);
    let mut model = dev.build_module::<MnistConv<A>, f32>();
    let mut adam = Adam::new(&model, AdamConfig::default());
    let mut grads = model.alloc_grads();
    let mut losses = Vec::new();
    for step in 0..steps {
        let indices: Vec<usize> = (0..64).map(|i| (step * 64 + i) % 256).collect();
        let (x, y) = images.batch(&dev, &indices);
        let loss = cross_entropy_with_logits_loss(model.forward_mut(x.traced(grads)), y);
        losses.push(loss.array());
        grads = loss.backward();
        adam.update(&mut model, &grads)
            .expect("every parameter has a gradient");
        model.zero_grads(&mut grads);
    }
    losses
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Bare in a dfdx tuple, next to dfdx's layers.
    let dev = Cpu::default();
    let mlp = dev.build_module::<(Linear<4, 8>, Mish, Linear<8, 1>), f32>();
    let _ = mlp.forward(dev.tensor([1.0, -1.0, 0.5, 2.0]));

    // The curve, as the snapshot test records it.
    let xs = curve::grid(-3.0, 3.0, 1.0)?;
    println!("{}", curve::snapshot_table(&Elsa::new(Mish), &xs));

    let mnist = Mnist::load_shipped()?;
    let images = Images::new(&mnist.train);
    for (name, losses) in [
        ("elsa-mish", train_for_test::<Elsa<Mish>>(&images, 8)),
        (
            "elsa-learnable_mish",
            train_for_test::<Elsa<LearnableMish>>(&images, 8),
        ),
    ] {
        println!(
            "{name}: loss {:.3} -> {:.3}",
            losses[0],
            losses[losses.len() - 1]
        );
    }
    Ok(())
}
