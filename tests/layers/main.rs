//! Tests of the dfdx activation layers: fused versus composed, dfdx integration, training.

mod devices;
mod dfdx_integration;
mod fused_vs_composed;
mod load;
mod state;
#[cfg(feature = "experiment")]
mod training;
