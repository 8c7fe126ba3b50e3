//! The transfer experiment: the stand-in domain, a pretrained model reloaded for fine-tuning,
//! and a tiny grid end to end with resume.

use arelu::experiment::transfer::train::{accuracy, load_model, save_model, sgd_epochs};
use arelu::experiment::transfer::{
    run_transfer, BuiltTransferNet, ColourImages, Protocol, SplitTag, TransferData, TransferNet,
    TransferSpec,
};
use arelu::mnist::Mnist;
use arelu::{ActivationName, Arelu};
use dfdx::prelude::*;

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
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arelu.safetensors");
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
    assert_eq!(
        accuracy(&reloaded, &dev, &test),
        accuracy(&model, &dev, &test)
    );

    let garbage = dir.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"not a model").unwrap();
    let err = load_model::<Arelu>(&mut reloaded, &garbage).unwrap_err();
    assert!(err.to_string().contains("garbage.safetensors"), "{err}");
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
    let dir = tempfile::tempdir().unwrap();
    let first = run_transfer(spec, &protocol, data, Some(dir.path())).unwrap();
    assert!(first.pretrain_seconds.is_some());
    let second = run_transfer(spec, &protocol, data, Some(dir.path())).unwrap();
    assert_eq!(
        second.pretrain_seconds, None,
        "the saved model was not reused"
    );
    assert_eq!(second.no_finetune_accuracy, first.no_finetune_accuracy);
    assert_eq!(
        second.finetune_accuracy_per_epoch,
        first.finetune_accuracy_per_epoch
    );
    assert_eq!(second.finetuned_params, first.finetuned_params);
    assert_eq!(second.scratch_accuracy, first.scratch_accuracy);
    assert_eq!(first.finetune_accuracy_per_epoch.len(), 2);
    // Fine-tuning moved AReLU's parameters; pretraining moved them from (0.9, 2.0).
    assert_ne!(first.finetuned_params, first.pretrained_params);
}

#[test]
fn a_tiny_grid_end_to_end_and_resumed() {
    use arelu::experiment::grid::ElsaMode;
    use arelu::experiment::transfer::{
        generate, transfer_specs, TransferSettings, TRANSFER_FORMAT,
    };
    use arelu::BaseActivation;

    let mnist = Mnist::load_shipped().unwrap();
    let source_train = ColourImages::grey(&mnist.train.clone().take(128));
    let source_test = ColourImages::grey(&mnist.test.clone().take(40));
    let target_train =
        ColourImages::mnist_colour_range(&mnist.train, 4872..5000, SplitTag::Train, 0);
    let target_test = ColourImages::mnist_colour(&mnist.test.clone().take(40), SplitTag::Test, 0);
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
        finetune_lr: 1e-5,
        scratch_epochs: 1,
        scratch_lr: 1e-2,
    };
    let settings = TransferSettings {
        format: TRANSFER_FORMAT,
        target: "mnist-colour test".into(),
        source: "shipped subset".into(),
        pretrain_images: 128,
        source_test_images: 40,
        target_train_images: 128,
        target_test_images: 40,
        pretrain_epochs: 1,
        pretrain_lr: 1e-2,
        finetune_epochs: 2,
        finetune_lr: 1e-5,
        scratch_epochs: 1,
        scratch_lr: 1e-2,
        batch_size: 128,
    };
    let specs = transfer_specs(
        &[BaseActivation::Relu, BaseActivation::Arelu],
        ElsaMode::Both,
        1,
    );
    assert_eq!(specs.len(), 3);
    let dir = tempfile::tempdir().unwrap();
    let finetune = [1usize, 2];
    let mut seen = 0;
    // Interrupted after two runs...
    let first = generate(
        &specs,
        &protocol,
        data,
        &settings,
        dir.path(),
        (2, Some(2)),
        (&finetune, "test"),
        |_| seen += 1,
    )
    .unwrap();
    assert_eq!((first.total, first.skipped, first.ran, seen), (3, 0, 2, 2));
    let partial = std::fs::read_to_string(dir.path().join("table2.md")).unwrap();
    assert_eq!(
        partial.lines().filter(|l| l.starts_with("| ")).count(),
        1 + 2
    );
    // ...and resumed: only the third run is made.
    let second = generate(
        &specs,
        &protocol,
        data,
        &settings,
        dir.path(),
        (1, None),
        (&finetune, "test"),
        |_| seen += 1,
    )
    .unwrap();
    assert_eq!((second.skipped, second.ran, seen), (2, 1, 3));
    assert_eq!(second.records.len(), 3);
    let table = std::fs::read_to_string(dir.path().join("table2.md")).unwrap();
    for row in ["| relu |", "| arelu |", "| elsa-relu |"] {
        assert!(table.contains(row), "{row} missing from\n{table}");
    }
    assert!(table.contains("finetune 2 ep."));
    assert!(table.contains("**"), "no best marked:\n{table}");
    let csv = std::fs::read_to_string(dir.path().join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["seeds"], 1);
    assert_eq!(summary["columns"].as_array().unwrap().len(), 5);
    // Every pretrained model was saved once, by its run.
    assert_eq!(
        std::fs::read_dir(dir.path().join("models"))
            .unwrap()
            .count(),
        3
    );
    // A run redone from its saved model reproduces the stored record.
    let again = run_transfer(specs[1], &protocol, data, Some(&dir.path().join("models"))).unwrap();
    let stored = second
        .records
        .iter()
        .find(|r| r.activation == "arelu".parse().unwrap())
        .unwrap();
    assert_eq!(
        again.finetune_accuracy_per_epoch,
        stored.finetune_accuracy_per_epoch
    );
    assert_eq!(again.scratch_accuracy, stored.scratch_accuracy);
    // Other settings are refused, the file kept.
    let mut other = settings.clone();
    other.finetune_lr = 1e-4;
    assert!(generate(
        &specs,
        &protocol,
        data,
        &other,
        dir.path(),
        (1, None),
        (&finetune, "test"),
        |_| {},
    )
    .is_err());
}
