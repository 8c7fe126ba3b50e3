//! `load_checked` refuses, with a typed error naming the difference, every file that does not
//! fit the model, and leaves the model unchanged; it loads a fitting one.

use arelu::nn::{load_checked, LoadError, MnistConv};
use arelu::{Arelu, Elsa, Relu, Swish};
use dfdx::prelude::*;

/// An `MnistConv<Arelu>` file with non-default values, in a temporary directory that is
/// removed when the returned `TempDir` is dropped.
fn arelu_file() -> (tempfile::TempDir, std::path::PathBuf) {
    let dev = Cpu::seed_from_u64(5);
    let mut model = dev.build_module::<MnistConv<Arelu>, f32>();
    model.0 .1.try_set_params(&[0.3, -0.5]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arelu.safetensors");
    model.save_safetensors(&path).unwrap();
    (dir, path)
}

#[test]
fn a_file_of_the_same_model_loads() {
    let (_dir, path) = arelu_file();
    let dev = Cpu::seed_from_u64(6);
    let mut model = dev.build_module::<MnistConv<Arelu>, f32>();
    load_checked(&mut model, &path).unwrap();
    assert_eq!(model.0 .1.param_values(), [0.3f32 as f64, -0.5]);
}

#[test]
fn another_activation_with_other_tensor_names_is_refused() {
    let (_dir, path) = arelu_file();
    let dev = Cpu::default();
    let mut model = dev.build_module::<MnistConv<Relu>, f32>();
    let err = load_checked(&mut model, &path).unwrap_err();
    // The activation states differ (arelu in the file, relu in the model): that is the first
    // difference reported, before the file's extra `alpha`/`beta` tensors.
    assert!(matches!(&err, LoadError::Activation { .. }), "{err}");
}

#[test]
fn another_activation_with_the_same_tensor_names_is_refused() {
    let (_dir, path) = arelu_file();
    let dev = Cpu::default();
    let mut model = dev.build_module::<MnistConv<Elsa<Swish>>, f32>();
    let before = model.0 .1.param_values();
    let err = load_checked(&mut model, &path).unwrap_err();
    match &err {
        LoadError::Activation { file, model, .. } => {
            assert!(file.starts_with("arelu"), "{err}");
            assert!(model.starts_with("elsa-swish"), "{err}");
        }
        other => panic!("expected an activation mismatch, got {other}"),
    }
    assert_eq!(model.0 .1.param_values(), before, "the model is unchanged");
}

#[test]
fn another_float_type_is_refused() {
    let dev = Cpu::default();
    let model = dev.build_module::<MnistConv<Arelu>, f64>();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    model.save_safetensors(&path).unwrap();
    let mut narrow = dev.build_module::<MnistConv<Arelu>, f32>();
    let err = load_checked(&mut narrow, &path).unwrap_err();
    assert!(
        matches!(&err, LoadError::Dtype { file, model, .. } if file == "F64" && model == "F32"),
        "{err}"
    );
}

#[test]
fn another_shape_is_refused() {
    let dev = Cpu::default();
    let small = dev.build_module::<(Linear<2, 3>, Arelu), f32>();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    small.save_safetensors(&path).unwrap();
    let mut big = dev.build_module::<(Linear<2, 4>, Arelu), f32>();
    let err = load_checked(&mut big, &path).unwrap_err();
    assert!(matches!(&err, LoadError::Shape { .. }), "{err}");
}

#[test]
fn a_missing_tensor_is_refused() {
    let dev = Cpu::default();
    let part = dev.build_module::<(Linear<2, 3>, Relu), f32>();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    part.save_safetensors(&path).unwrap();
    let mut whole = dev.build_module::<(Linear<2, 3>, Relu, Linear<3, 1>), f32>();
    let err = load_checked(&mut whole, &path).unwrap_err();
    assert!(
        matches!(&err, LoadError::Missing { name } if name.starts_with("2.")),
        "{err}"
    );
}

#[test]
fn truncated_and_missing_files_are_refused_without_panicking() {
    let (_dir, path) = arelu_file();
    let bytes = std::fs::read(&path).unwrap();
    let dev = Cpu::default();
    let mut model = dev.build_module::<MnistConv<Arelu>, f32>();
    for cut in [0, 4, 8, 100, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let err = load_checked(&mut model, &path).unwrap_err();
        assert!(
            matches!(err, LoadError::Format { .. }),
            "cut at {cut}: {err}"
        );
    }
    // A header length far beyond the file.
    let mut huge = bytes.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    std::fs::write(&path, &huge).unwrap();
    assert!(matches!(
        load_checked(&mut model, &path),
        Err(LoadError::Format { .. })
    ));
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        load_checked(&mut model, &path),
        Err(LoadError::Io { .. })
    ));
}
