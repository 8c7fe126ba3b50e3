//! Tests of the activation definitions: values, gradients, names, snapshots, special values.

mod bulk;
mod equivalence;
mod gradients;
mod limits;
mod names;
mod precision;
mod snapshots;
mod special_values;
mod values;

use arelu::{Activation, ActivationName, ActivationVisitor};

/// Every one of the 37 variants with its default configuration, in the order of
/// `ActivationName::all()`.
pub fn all_variants() -> Vec<Box<dyn DynActivation>> {
    struct Make;
    impl ActivationVisitor for Make {
        type Output = Box<dyn DynActivation>;
        fn visit<A: Activation>(self) -> Self::Output {
            Box::new(A::default())
        }
    }
    ActivationName::all().map(|name| name.visit(Make)).collect()
}

/// An object-safe view of an activation in `f64` and `f32`, for tests over all variants.
pub trait DynActivation {
    fn name(&self) -> String;
    fn params(&self) -> Vec<f64>;
    fn param_names(&self) -> Vec<String>;
    /// `f(x)` with parameter values `params`, noise `noise`.
    fn value64(&self, params: &[f64], x: f64, noise: f64) -> f64;
    /// `(∂f/∂x, ∂f/∂θ)` with parameter values `params`.
    fn grads64(&self, params: &[f64], x: f64, noise: f64) -> (f64, Vec<f64>);
    fn value32(&self, params: &[f32], x: f32, noise: f32) -> f32;
    fn grads32(&self, params: &[f32], x: f32, noise: f32) -> (f32, Vec<f32>);
    fn stochastic(&self) -> bool;
}

impl<A: Activation> DynActivation for A {
    fn name(&self) -> String {
        Activation::name(self)
    }
    fn params(&self) -> Vec<f64> {
        Activation::params(self)
    }
    fn param_names(&self) -> Vec<String> {
        Activation::param_names(self)
    }
    fn value64(&self, params: &[f64], x: f64, noise: f64) -> f64 {
        self.value(&self.prepare(params), x, noise)
    }
    fn grads64(&self, params: &[f64], x: f64, noise: f64) -> (f64, Vec<f64>) {
        let mut g = vec![0.0; params.len()];
        let dx = self.backward(&self.prepare(params), x, noise, 1.0, &mut g);
        (dx, g)
    }
    fn value32(&self, params: &[f32], x: f32, noise: f32) -> f32 {
        self.value(&self.prepare(params), x, noise)
    }
    fn grads32(&self, params: &[f32], x: f32, noise: f32) -> (f32, Vec<f32>) {
        let mut g = vec![0.0; params.len()];
        let dx = self.backward(&self.prepare(params), x, noise, 1.0, &mut g);
        (dx, g)
    }
    fn stochastic(&self) -> bool {
        A::STOCHASTIC
    }
}
