//! A lesson in three acts: a linear denoiser retrained on its own outputs forgets the data,
//! a fixed share of real data stops the forgetting, and pooling every generation only delays it.
//!
//! Run with `cargo run --release --example dae_collapse`.

use flowcollapse::sim::dae::{run, DaeSetup, MonteCarlo};
use flowcollapse::theory::dae::{mix_fixed_point, replace_bounds, summaries};
use flowcollapse::theory::{Covariance, RealPool, Rule, Strategy};

fn main() {
    // Real data: three directions, a coarse one (λ = 3), a medium one (1) and fine detail (0.2).
    let lambda = [3.0, 1.0, 0.2];
    let s = 0.1; // the denoiser's noise variance σ²

    println!("Act 1: Replace. Each model trains only on the previous model's samples.");
    let replace = summaries(&lambda, s, Strategy::Replace, Rule::Noisy, 40);
    for k in [0, 1, 5, 10, 20, 40] {
        println!("  generation {k:>2}: {:>6.2}% of the variance left", 100.0 * replace[k].trace_ratio);
    }
    // Each direction loses at most s per generation and at least the factor λ/(λ + s).
    let (lo, hi) = replace_bounds(1.0, s, Rule::Noisy, 5);
    println!("  the λ = 1 direction after 5 generations lies in [{lo:.3}, {hi:.3}] (proofs/dae-replace-collapse.md)");

    println!("\nAct 2: Mix. Half of every training set is real data.");
    let mix = Strategy::Mix { alpha: 0.5, pool: RealPool::Fresh };
    let mixed = summaries(&lambda, s, mix, Rule::Noisy, 40);
    let limit: f64 = lambda.iter().map(|&l| mix_fixed_point(l, s, 0.5, Rule::Noisy).generated).sum::<f64>()
        / lambda.iter().sum::<f64>();
    println!(
        "  generation 40 keeps {:.2}%; the fixed point keeps {:.2}%",
        100.0 * mixed[40].trace_ratio,
        100.0 * limit
    );

    println!("\nAct 3: Accumulate. Every generation is kept and pooled.");
    let acc = summaries(&lambda, s, Strategy::Accumulate, Rule::Noisy, 1000);
    for k in [10, 100, 1000] {
        println!("  generation {k:>4}: {:>6.2}% left (slow, but still falling)", 100.0 * acc[k].trace_ratio);
    }

    println!("\nFinite samples: the same loop with n = 500 samples per generation, 16 replicates.");
    let cov = Covariance::from_spectrum(&lambda).expect("a valid spectrum");
    let setup = DaeSetup { covariance: &cov, s, strategy: Strategy::Replace, rule: Rule::Noisy, generations: 10 };
    let mc = run(&setup, &MonteCarlo { samples: 500, replicates: 16, seed: 1 }, 0, 0.95).expect("n ≫ d");
    for k in [1, 5, 10] {
        let iv = mc[k].trace_ratio;
        println!(
            "  generation {k:>2}: closed form {:.4}, Monte Carlo {:.4} (95% CI [{:.4}, {:.4}])",
            replace[k].trace_ratio, iv.mean, iv.lo, iv.hi
        );
    }
}
