//! Tests of the dfdx activation layers: fused versus composed, dfdx integration, training.

mod dfdx_integration;
mod fused_vs_composed;
mod training;
