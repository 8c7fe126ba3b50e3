//! The `compose` example as a user runs it: `--help` answers without running the tour, and
//! the model it saves goes to a private directory, so a link planted in the shared temporary
//! directory is not followed.

use std::path::PathBuf;
use std::process::{Command, Output};

mod common;

fn compose_example() -> PathBuf {
    common::example("compose")
}

fn run(args: &[&str], tmpdir: &std::path::Path) -> Output {
    Command::new(compose_example())
        .args(args)
        .env("TMPDIR", tmpdir)
        .env("TMP", tmpdir)
        .env("TEMP", tmpdir)
        .output()
        .expect("the example starts")
}

#[test]
fn help_prints_usage_and_runs_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(&["--help"], tmp.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("Usage: compose"), "{stdout}");
    assert!(
        !stdout.contains("parameters"),
        "the tour ran instead of answering --help:\n{stdout}"
    );
    // Nothing was written to the temporary directory.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);

    let out = run(&["--no-such-flag"], tmp.path());
    assert!(!out.status.success(), "an unknown flag is refused: {out:?}");
}

#[cfg(unix)]
#[test]
fn a_link_planted_in_the_temporary_directory_is_not_followed() {
    // The shared temporary directory, as another user would see it, with a link at the name
    // the example used to write to, pointing at a file of the victim's.
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    for name in [
        "arelu-compose-example.safetensors",
        "model.safetensors",
        "arelu-compose.safetensors",
    ] {
        std::os::unix::fs::symlink(&victim, tmp.path().join(name)).unwrap();
    }
    let out = run(&[], tmp.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("same outputs: true"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    // The private directory is gone again: only the victim and the links remain.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 4);
}
