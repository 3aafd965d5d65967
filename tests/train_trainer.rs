//! The trainer's state machine: thread-count independence, bit-exact resume, non-finite detection and
//! input validation.

use flowcollapse::invalid::Invalid;
use flowcollapse::train::{
    CpuBackend, IndependentPairs, MlpConfig, OptimConfig, TrainConfig, TrainError, TrainState, Trainer,
};

const DIM: usize = 64;

fn dataset(rows: usize) -> Vec<f32> {
    (0..rows * DIM).map(|i| ((i as f64 * 0.618).sin() * 2.0 - 0.3) as f32).collect()
}

fn config() -> TrainConfig {
    TrainConfig {
        mlp: MlpConfig::new(DIM, vec![256, 256]),
        optim: OptimConfig { lr: 1e-3, ..OptimConfig::default() },
        batch: 64,
        seed: 9,
    }
}

fn train(trainer: &mut Trainer<CpuBackend>, data: &[f32], steps: usize) -> Vec<f64> {
    let mut pairs = IndependentPairs::new(data, DIM, 5).unwrap();
    (0..steps).map(|_| trainer.step(&mut pairs).unwrap().loss).collect()
}

fn bits(state: &TrainState) -> Vec<(String, Vec<u32>)> {
    state.tensors.iter().map(|(n, v)| (n.clone(), v.iter().map(|x| x.to_bits()).collect())).collect()
}

#[test]
fn twenty_steps_give_bit_identical_state_on_one_and_two_threads() {
    let data = dataset(500);
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut trainer = Trainer::new(CpuBackend::new(), config()).unwrap();
            let losses = train(&mut trainer, &data, 20);
            (losses, trainer.state().unwrap())
        })
    };
    let (l1, s1) = run(1);
    let (l2, s2) = run(2);
    assert_eq!(s1.step, 20);
    assert_eq!(l1.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), l2.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
    assert!(bits(&s1) == bits(&s2), "states differ between 1 and 2 threads");
    // Training moved the parameters and the EMA away from the initialisation, and apart.
    let fresh = Trainer::new(CpuBackend::new(), config()).unwrap().state().unwrap();
    let get = |s: &TrainState, name: &str| s.tensors.iter().find(|(n, _)| n == name).unwrap().1.clone();
    assert_ne!(get(&s1, "params.layers.1.weight"), get(&fresh, "params.layers.1.weight"));
    assert_ne!(get(&s1, "ema.layers.1.weight"), get(&s1, "params.layers.1.weight"));
}

#[test]
fn resuming_from_the_state_reproduces_uninterrupted_training() {
    let data = dataset(300);
    let mut whole = Trainer::new(CpuBackend::new(), config()).unwrap();
    let losses = train(&mut whole, &data, 12);

    let mut first = Trainer::new(CpuBackend::new(), config()).unwrap();
    let head = train(&mut first, &data, 7);
    let saved = first.state().unwrap();
    let mut second = Trainer::new(CpuBackend::new(), TrainConfig { seed: 9, ..config() }).unwrap();
    second.set_state(&saved).unwrap();
    assert_eq!(second.step_count(), 7);
    let tail = train(&mut second, &data, 5);
    assert_eq!([head, tail].concat(), losses);
    assert!(bits(&second.state().unwrap()) == bits(&whole.state().unwrap()));
    assert_eq!(saved.tensors.len(), 4 * whole.mlp().tensors().len());
}

#[test]
fn a_non_finite_loss_is_an_error_and_changes_nothing() {
    // A NaN in every row, so whichever rows the step draws, the loss is NaN.
    let mut data = dataset(4);
    for r in 0..4 {
        data[r * DIM + 3] = f32::NAN;
    }
    let mut trainer = Trainer::new(CpuBackend::new(), TrainConfig { batch: 16, ..config() }).unwrap();
    let before = trainer.state().unwrap();
    let mut pairs = IndependentPairs::new(&data, DIM, 1).unwrap();
    let err = trainer.step(&mut pairs).unwrap_err();
    assert!(matches!(err, TrainError::NonFinite { step: 0, what: "loss", .. }), "{err}");
    assert_eq!(trainer.state().unwrap(), before);
}

#[test]
fn bad_settings_and_states_are_errors_naming_the_field() {
    let bad = |f: &dyn Fn(&mut TrainConfig)| {
        let mut c = config();
        f(&mut c);
        match Trainer::new(CpuBackend::new(), c) {
            Err(TrainError::Invalid(Invalid { field, .. })) => field,
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("accepted"),
        }
    };
    assert_eq!(bad(&|c| c.optim.lr = 0.0), "optim.lr");
    assert_eq!(bad(&|c| c.optim.lr = f32::NAN), "optim.lr");
    assert_eq!(bad(&|c| c.optim.beta1 = 1.0), "optim.beta1");
    assert_eq!(bad(&|c| c.optim.beta2 = -0.1), "optim.beta2");
    assert_eq!(bad(&|c| c.optim.eps = 0.0), "optim.eps");
    assert_eq!(bad(&|c| c.optim.clip = Some(f32::INFINITY)), "optim.clip");
    assert_eq!(bad(&|c| c.optim.ema_decay = 1.0), "optim.ema_decay");
    assert_eq!(bad(&|c| c.batch = 0), "batch");
    assert_eq!(bad(&|c| c.mlp.embed = 7), "mlp.embed");
    assert_eq!(bad(&|c| c.mlp.dim = 0), "mlp.dim");
    assert_eq!(bad(&|c| c.mlp.hidden = vec![16, 0]), "mlp.hidden");
    let mut c = config();
    c.optim.lr = 2.0;
    let msg = Trainer::new(CpuBackend::new(), c).err().unwrap().to_string();
    assert!(msg.contains("optim.lr") && msg.contains("(0, 1]"), "{msg}");

    assert!(matches!(
        IndependentPairs::new(&[0.0; 10], 3, 0),
        Err(TrainError::Invalid(Invalid { field: "pairs.data length", .. }))
    ));
    let data = dataset(3);
    let mut other = IndependentPairs::new(&data[..30], 10, 0).unwrap();
    let mut trainer = Trainer::new(CpuBackend::new(), config()).unwrap();
    assert!(matches!(
        trainer.step(&mut other),
        Err(TrainError::Invalid(Invalid { field: "pair source dimension", .. }))
    ));

    let good = trainer.state().unwrap();
    let mut missing = good.clone();
    missing.tensors.pop();
    let mut short = good.clone();
    short.tensors[0].1.pop();
    let mut unknown = good.clone();
    unknown.tensors[1].0 = "params.layers.9.weight".into();
    for broken in [missing, short, unknown] {
        assert!(matches!(trainer.set_state(&broken), Err(TrainError::State(_))));
    }
    assert_eq!(trainer.state().unwrap(), good, "a rejected state changes nothing");
}

/// The divergence guard compares the batch's loss with the zero field's, `mean (x1 − x0)²` of the same batch,
/// recomputed here from the pair source: a fresh network's loss is a little above it (E(v − u)² =
/// E u² + E v² − 2 E uv with small v), so a ratio just above 1 must stop step 0, and the default must not.
#[test]
fn the_divergence_guard_measures_the_zero_fields_loss_on_the_batch() {
    use flowcollapse::train::PairSource;
    let data = dataset(500);
    let tight = TrainConfig { optim: OptimConfig { max_loss_ratio: Some(1.0 + 1e-9), ..config().optim }, ..config() };
    let mut trainer = Trainer::new(CpuBackend::new(), tight).unwrap();
    let mut pairs = IndependentPairs::new(&data, DIM, 5).unwrap();
    let err = trainer.step(&mut pairs).unwrap_err();
    let TrainError::Exploding { step, loss, zero, .. } = err else { panic!("{err}") };
    let (mut x0, mut x1) = (vec![0.0f32; 64 * DIM], vec![0.0f32; 64 * DIM]);
    IndependentPairs::new(&data, DIM, 5).unwrap().fill(0, &mut x0, &mut x1);
    let exact = x0.iter().zip(&x1).map(|(&a, &b)| ((b - a) as f64).powi(2)).sum::<f64>() / x0.len() as f64;
    assert_eq!(step, 0);
    assert!((zero - exact).abs() <= 1e-6 * exact, "zero-field loss {zero} against {exact}");
    assert!(loss > zero && loss < 2.0 * zero, "a fresh network: loss {loss}, zero field {zero}");
    assert_eq!(trainer.step_count(), 0, "nothing was updated");
    let mut relaxed = Trainer::new(CpuBackend::new(), config()).unwrap();
    assert!(relaxed.step(&mut pairs).is_ok(), "the default guard (100×) lets a fresh network train");
}
