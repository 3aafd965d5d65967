//! Reflow's pair sources: the real/synthetic composition of every batch, Accumulate's equal weights,
//! distinct streams, and pair sets that survive a round trip through safetensors.
//!
//! The model is a stand-in [`Flow`] whose forward map sends every point to 7 and whose reverse map sends
//! every point to −3, so a row's origin can be read off its values.

use flowcollapse::train::couplings::{
    synthetic_pairs, EntryStats, InvertedRealPairs, OnlineRealPairs, OnlineSyntheticPairs, PairSet, PooledPairs,
};
use flowcollapse::train::sampler::{Direction, Flow, Sampled, SamplerConfig};
use flowcollapse::train::{CoupledPairs, MixedPairs, PairSource, TrainError};

const D: usize = 3;
const FORWARD: f32 = 7.0;
const REVERSE: f32 = -3.0;

struct Constant;

impl Flow for Constant {
    fn dim(&self) -> usize {
        D
    }
    fn integrate(&self, start: &[f32], config: &SamplerConfig) -> Result<Sampled, TrainError> {
        let v = if config.direction == Direction::Forward { FORWARD } else { REVERSE };
        Ok(Sampled { x: vec![v; start.len()], nfe: config.steps, straightness: 0.0 })
    }
}

/// Real images: row i is (i, i, i) + 0.5, never 7 or −3.
fn real(n: usize) -> Vec<f32> {
    (0..n).flat_map(|i| [i as f32 + 0.5; D]).collect()
}

/// Count rows whose x1 is a real image (value ends in .5) and rows whose x1 is the forward map's 7.
fn composition(x0: &[f32], x1: &[f32]) -> (usize, usize) {
    let (mut real, mut synthetic) = (0, 0);
    for (r0, r1) in x0.chunks(D).zip(x1.chunks(D)) {
        if r1[0].fract() == 0.5 {
            assert_eq!(r0, [REVERSE; D], "a real image is paired with its inverted noise");
            real += 1;
        } else {
            assert_eq!(r1, [FORWARD; D], "a synthetic row is x̂ = Φ(z)");
            synthetic += 1;
        }
    }
    (real, synthetic)
}

#[test]
fn ra_batches_hold_exactly_floor_rho_b_real_pairs() {
    let images = real(50);
    let (set, _) = synthetic_pairs(&Constant, 40, 1, 4, true).unwrap();
    // FORWARD = 7 is clipped to 1 by synthetic_pairs' clip: use the unclipped set for a recognisable x̂.
    assert!(set.x1.iter().all(|&v| v == 1.0));
    let (set, _) = synthetic_pairs(&Constant, 40, 1, 4, false).unwrap();
    for (rho, batch) in [(0.5, 128usize), (0.3, 10), (0.0, 7), (1.0, 9), (0.25, 1)] {
        let fixed = InvertedRealPairs::fixed(&Constant, &images, 4, 0.0, 2).unwrap();
        let synthetic = CoupledPairs::new(set.x0.clone(), set.x1.clone(), D, 3).unwrap();
        let mut source = MixedPairs::new(fixed, synthetic, rho).unwrap();
        let (mut x0, mut x1) = (vec![0.0; batch * D], vec![0.0; batch * D]);
        for step in 0..5 {
            source.refresh(step, &Constant).unwrap();
            source.fill(step, &mut x0, &mut x1);
            let expected = (rho * batch as f64).floor() as usize;
            assert_eq!(composition(&x0, &x1), (expected, batch - expected), "ρ = {rho}, B = {batch}");
        }
    }
}

#[test]
fn ra_refreshes_re_invert_on_schedule_and_ora_every_step() {
    let images = real(20);
    let mut refreshed = InvertedRealPairs::refreshed(&images, D, 4, 0.0, 5, 3);
    assert_eq!(refreshed.refresh_every(), Some(3));
    refreshed.refresh(0, &Constant).unwrap();
    assert_eq!(refreshed.noise(), vec![REVERSE; 20 * D].as_slice());
    let rows = 6;
    let batch = 16;
    let mut ora = MixedPairs::new(
        OnlineRealPairs::new(&images, D, rows, 4, 0.0, 7),
        OnlineSyntheticPairs::new(D, batch - rows, 4, false, 8),
        rows as f64 / batch as f64,
    )
    .unwrap();
    assert_eq!(ora.refresh_every(), Some(1));
    let (mut x0, mut x1) = (vec![0.0; batch * D], vec![0.0; batch * D]);
    for step in 0..4 {
        ora.refresh(step, &Constant).unwrap();
        ora.fill(step, &mut x0, &mut x1);
        assert_eq!(composition(&x0, &x1), (rows, batch - rows));
    }
}

#[test]
fn mixed_sources_with_their_own_seeds_draw_different_rows() {
    // Two coupled sources over the same 1000 pairs: with one seed they would pick the same indices.
    let n = 1000;
    let x: Vec<f32> = (0..n).flat_map(|i| [i as f32; D]).collect();
    let a = CoupledPairs::new(x.clone(), x.clone(), D, 11).unwrap();
    let b = CoupledPairs::new(x.clone(), x.clone(), D, 12).unwrap();
    let mut mixed = MixedPairs::new(a, b, 0.5).unwrap();
    let (mut x0, mut x1) = (vec![0.0; 64 * D], vec![0.0; 64 * D]);
    mixed.fill(0, &mut x0, &mut x1);
    let same = x1[..32 * D].chunks(D).zip(x1[32 * D..].chunks(D)).filter(|(p, q)| p == q).count();
    // Independent uniform indices over 1000 agree with probability 1/1000 per row.
    assert!(same <= 2, "{same} of 32 rows coincide");
}

#[test]
fn accumulate_pools_every_generation_with_equal_weight() {
    let dir = tempfile::tempdir().unwrap();
    let sizes = [30usize, 50, 20, 40];
    let paths: Vec<_> = sizes
        .iter()
        .enumerate()
        .map(|(g, &n)| {
            // Generation g's rows carry the value g·1000 + row.
            let x1: Vec<f32> = (0..n).flat_map(|i| [(g * 1000 + i) as f32; D]).collect();
            let x0: Vec<f32> = x1.iter().map(|v| -v).collect();
            let path = dir.path().join(format!("gen-{g}.safetensors"));
            PairSet { x0, x1, dim: D }.save(&path, vec![]).unwrap();
            path
        })
        .collect();
    let mut pool = PooledPairs::open(&paths, D, 9).unwrap();
    let m = sizes.len();
    for batch in [8usize, 10, 3] {
        let mut totals = vec![0usize; m];
        for step in 0..m as u64 {
            let (mut x0, mut x1) = (vec![0.0; batch * D], vec![0.0; batch * D]);
            pool.fill(step, &mut x0, &mut x1);
            let mut counts = vec![0usize; m];
            for (r0, r1) in x0.chunks(D).zip(x1.chunks(D)) {
                let g = (r1[0] as usize) / 1000;
                assert!(((r1[0] as usize) % 1000) < sizes[g], "row inside its set");
                assert_eq!(r0, r1.iter().map(|v| -v).collect::<Vec<_>>().as_slice(), "pairs stay together");
                counts[g] += 1;
            }
            let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
            assert!(hi - lo <= 1, "one batch is as even as B = {batch} allows: {counts:?}");
            totals.iter_mut().zip(&counts).for_each(|(t, c)| *t += c);
        }
        assert_eq!(totals, vec![batch; m], "any m consecutive steps hold exactly B rows of each set");
    }
}

#[test]
fn pair_sets_round_trip_and_reject_the_wrong_dimension() {
    let dir = tempfile::tempdir().unwrap();
    let set = PairSet { x0: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], x1: vec![-1.0; 6], dim: D };
    let path = dir.path().join("p.safetensors");
    set.save(&path, vec![("generation".into(), "2".into())]).unwrap();
    assert_eq!(PairSet::load(&path, D).unwrap(), set);
    assert!(PairSet::load(&path, 2).is_err());
    assert!(PooledPairs::open(&[path], 2, 0).is_err());
}

#[test]
fn entry_stats_are_the_population_mean_and_deviation() {
    let s = EntryStats::of(&[1.0, 3.0, 5.0, 7.0]);
    assert_eq!(s.mean, 4.0);
    assert!((s.std - 5.0f64.sqrt()).abs() < 1e-12);
}
