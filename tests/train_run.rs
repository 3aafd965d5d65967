//! The training loop with its run directory (experiment::train + report::train_run): a diverging loss stops
//! training and leaves the last good checkpoint.

use flowcollapse::checkpoint::Checkpoint;
use flowcollapse::data::{Dataset, Shape};
use flowcollapse::experiment::train::{train, Interrupt, TrainParams};
use flowcollapse::report::train_run::{TrainRun, TrainRunError, CHECKPOINT};
use flowcollapse::train::{CpuBackend, Mlp, TrainError, Trainer};

#[test]
fn a_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint() {
    // 40 finite rows and one NaN row: the first batch that draws the NaN row has a NaN loss.
    let d = 3;
    let mut values: Vec<f32> = (0..40 * d).map(|i| ((i % 7) as f32 - 3.0) / 3.0).collect();
    values.extend([f32::NAN; 3]);
    let data = Dataset::new(values, Shape::Vector { dim: d }, None, "test rows with one NaN").unwrap();
    let params = TrainParams {
        data: Some("gaussian".into()),
        hidden: Some(vec![8]),
        batch: Some(4),
        steps: Some(500),
        checkpoint_every: Some(1),
        log_every: Some(1),
        ..TrainParams::default()
    };
    let mut config = params.validate().unwrap();
    config.train.mlp.dim = d;
    let mlp = Mlp::new(config.train.mlp.clone()).unwrap();
    let mut trainer = Trainer::new(CpuBackend::new(), config.train.clone()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let mut run = TrainRun::create(&run_dir, mlp.clone(), serde_json::json!({}), Box::new(|_| {})).unwrap();
    let error = train(&mut trainer, &data, &config, &mut run, &Interrupt::none()).unwrap_err();
    let TrainRunError::Train(TrainError::NonFinite { step, what: "loss", .. }) = error else {
        panic!("expected a non-finite loss, got {error}");
    };
    assert!(step > 0 && step < 500, "the NaN row is drawn at some step: {step}");
    assert_eq!(trainer.step_count(), step, "the failed step did not count");
    run.finish("diverged", |_| Ok(())).unwrap();
    // The checkpoint holds the state after the last good step, and it is finite.
    let checkpoint = Checkpoint::load(&run_dir.join(CHECKPOINT)).unwrap();
    assert_eq!(checkpoint.meta::<u64>("step", "", "").unwrap(), step);
    assert!(checkpoint.tensors.iter().all(|t| t.data.iter().all(|v| v.is_finite())));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["status"], "diverged");
    assert_eq!(manifest["checkpoint_step"], step);
}

/// A state whose Adam second moment overflowed to inf (finite gradients can do that in f32) is never
/// checkpointed: the loop stops with an error naming the tensor, and the previous checkpoint stays.
#[test]
fn a_non_finite_state_is_never_checkpointed() {
    let d = 3;
    let values: Vec<f32> = (0..40 * d).map(|i| ((i % 5) as f32 - 2.0) / 2.0).collect();
    let data = Dataset::new(values, Shape::Vector { dim: d }, None, "test rows").unwrap();
    let params = TrainParams {
        data: Some("gaussian".into()),
        hidden: Some(vec![8]),
        batch: Some(4),
        steps: Some(10),
        checkpoint_every: Some(5),
        log_every: Some(5),
        ..TrainParams::default()
    };
    let mut config = params.validate().unwrap();
    config.train.mlp.dim = d;
    let mlp = Mlp::new(config.train.mlp.clone()).unwrap();
    let mut trainer = Trainer::new(CpuBackend::new(), config.train.clone()).unwrap();
    let mut state = trainer.state().unwrap();
    let poisoned = "adam_v.layers.1.bias";
    state.tensors.iter_mut().find(|(n, _)| n == poisoned).unwrap().1[0] = f32::INFINITY;
    trainer.set_state(&state).unwrap();
    assert_eq!(state.non_finite(), Some((poisoned, f32::INFINITY)));
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let mut run = TrainRun::create(&run_dir, mlp, serde_json::json!({}), Box::new(|_| {})).unwrap();
    let error = train(&mut trainer, &data, &config, &mut run, &Interrupt::none()).unwrap_err();
    let TrainRunError::Train(TrainError::NonFiniteState { step: 5, tensor, .. }) = error else {
        panic!("expected a non-finite state at the first checkpoint, got {error}");
    };
    assert_eq!(tensor, poisoned);
    assert!(!run_dir.join(CHECKPOINT).exists(), "nothing was checkpointed");
}
