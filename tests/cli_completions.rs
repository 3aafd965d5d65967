//! `flowcollapse completions SHELL` and `flowcollapse man`: generated from the command definitions, so they
//! name every command and flag the binary has.

mod common;

use common::flowcollapse;

const COMMANDS: [&str; 10] =
    ["dae", "flow", "gaussian", "linear-reflow", "reflow", "train", "sample", "eval", "demo", "classifier"];

#[test]
fn completion_scripts_know_every_command_and_a_deep_flag() {
    let tmp = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = flowcollapse(&["completions", shell], tmp.path());
        assert!(out.status.success(), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
        let script = String::from_utf8(out.stdout).unwrap();
        for command in COMMANDS {
            assert!(script.contains(command), "{shell} completion lacks {command}");
        }
        assert!(script.contains("max-loss-ratio"), "{shell} completion lacks train's --max-loss-ratio");
    }
    let out = flowcollapse(&["completions", "tcsh"], tmp.path());
    assert_eq!(out.status.code(), Some(2), "an unknown shell is bad input");
}

#[test]
fn the_man_page_is_roff_and_lists_the_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let out = flowcollapse(&["man"], tmp.path());
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH flowcollapse 1"), "a roff title line");
    for command in COMMANDS {
        assert!(page.contains(&command.replace('-', "\\-")), "the man page lacks {command}");
    }
}
