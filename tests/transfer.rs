//! The transfer experiment: the stand-in domain, a pretrained model reloaded for fine-tuning,
//! and a tiny grid end to end with resume.

use arelu::experiment::transfer::train::{accuracy, load_model, save_model, sgd_epochs};
use arelu::experiment::transfer::{
    run_transfer, BuiltTransferNet, ColourImages, Protocol, SplitTag, TransferData,
    TransferNet, TransferSpec,
};
use arelu::mnist::Mnist;
use arelu::{ActivationName, Arelu};
use dfdx::prelude::*;

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("arelu-transfer-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn stand_in_is_deterministic_coloured_and_keeps_labels() {
    let mnist = Mnist::load_shipped().unwrap();
    let split = mnist.train.take(40);
    let a = ColourImages::mnist_colour(&split, SplitTag::Train, 11);
    assert_eq!(a, ColourImages::mnist_colour(&split, SplitTag::Train, 11));
    assert_eq!(a.labels(), split.labels.as_slice());
    let grey = ColourImages::grey(&split);
    let mut coloured = 0;
    for i in 0..a.len() {
        let img = a.image(i);
        // Not grey: the three channels differ somewhere.
        if img[..784] != img[784..1568] || img[784..1568] != img[1568..] {
            coloured += 1;
        }
        assert_ne!(img, grey.image(i));
        let g = grey.image(i);
        assert!(g[..784] == g[784..1568] && g[784..1568] == g[1568..]);
    }
    assert_eq!(coloured, a.len());
}

#[test]
fn a_reloaded_pretrained_model_gives_the_same_outputs() {
    let mnist = Mnist::load_shipped().unwrap();
    let train = ColourImages::grey(&mnist.train.clone().take(256));
    let test = ColourImages::mnist_colour(&mnist.test.clone().take(64), SplitTag::Test, 0);
    let dev = Cpu::seed_from_u64(3);
    let mut model: BuiltTransferNet<Arelu> = dev.build_module::<TransferNet<Arelu>, f32>();
    sgd_epochs::<Arelu>(&mut model, &dev, &train, (1e-2, 1, 3), |_, _| {});
    let dir = temp_dir("reload");
    let path = dir.join("arelu.safetensors");
    save_model::<Arelu>(&model, &path).unwrap();

    let other = Cpu::seed_from_u64(99);
    let mut reloaded: BuiltTransferNet<Arelu> = other.build_module::<TransferNet<Arelu>, f32>();
    let (x, _) = test.batch(&dev, &(0..64).collect::<Vec<_>>());
    let before = model.forward(x.clone()).as_vec();
    assert_ne!(reloaded.forward(x.clone()).as_vec(), before);
    load_model::<Arelu>(&mut reloaded, &path).unwrap();
    assert_eq!(reloaded.forward(x).as_vec(), before);
    // AReLU's learned alpha and beta travel too.
    assert_eq!(reloaded.0 .1.param_values(), model.0 .1.param_values());
    assert_eq!(accuracy(&reloaded, &dev, &test), accuracy(&model, &dev, &test));

    let garbage = dir.join("garbage.safetensors");
    std::fs::write(&garbage, b"not a model").unwrap();
    let err = load_model::<Arelu>(&mut reloaded, &garbage).unwrap_err();
    assert!(err.to_string().contains("garbage.safetensors"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_run_with_a_reloaded_model_matches_the_run_that_saved_it() {
    let mnist = Mnist::load_shipped().unwrap();
    let source_train = ColourImages::grey(&mnist.train.clone().take(200));
    let source_test = ColourImages::grey(&mnist.test.clone().take(50));
    let target_train =
        ColourImages::mnist_colour_range(&mnist.train, 4800..5000, SplitTag::Train, 0);
    let target_test = ColourImages::mnist_colour(&mnist.test.clone().take(50), SplitTag::Test, 0);
    let data = TransferData {
        source_train: &source_train,
        source_test: &source_test,
        target_train: &target_train,
        target_test: &target_test,
    };
    let protocol = Protocol {
        pretrain_epochs: 1,
        pretrain_lr: 1e-2,
        finetune_epochs: 2,
        finetune_lr: 1e-3,
        scratch_epochs: 1,
        scratch_lr: 1e-2,
    };
    let spec = TransferSpec {
        activation: "arelu".parse::<ActivationName>().unwrap(),
        seed: 1,
    };
    let dir = temp_dir("rerun");
    let first = run_transfer(spec, &protocol, data, Some(&dir)).unwrap();
    assert!(first.pretrain_seconds.is_some());
    let second = run_transfer(spec, &protocol, data, Some(&dir)).unwrap();
    assert_eq!(second.pretrain_seconds, None, "the saved model was not reused");
    assert_eq!(second.no_finetune_accuracy, first.no_finetune_accuracy);
    assert_eq!(second.finetune_accuracy_per_epoch, first.finetune_accuracy_per_epoch);
    assert_eq!(second.finetuned_params, first.finetuned_params);
    assert_eq!(second.scratch_accuracy, first.scratch_accuracy);
    assert_eq!(first.finetune_accuracy_per_epoch.len(), 2);
    // Fine-tuning moved AReLU's parameters; pretraining moved them from (0.9, 2.0).
    assert_ne!(first.finetuned_params, first.pretrained_params);
    std::fs::remove_dir_all(&dir).ok();
}
