//! The hypernetwork: generated weights are affine in the level, the generated network equals a
//! plain network built from `bake`, both level batchings agree, gradients reach every parameter.

mod common;

use common::{max_abs_diff, rand, random_restorer, seeded};
use gsthyperres::model::{HyperRes, LevelBatching, RestorerConfig};
use tch::{Device, Kind, Reduction, Tensor, nn};

const SMALL: RestorerConfig = RestorerConfig {
    channels: 3,
    width: 16,
    blocks: 3,
    input_skip: false,
};

fn variable(vs: &nn::VarStore, name: &str) -> Tensor {
    vs.variables()[name].detach()
}

#[test]
fn generated_weights_are_affine_in_the_level() {
    let (vs, net) = random_restorer(SMALL, 1);
    let w = variable(&vs, "generated.w").to_kind(Kind::Double);
    let b = variable(&vs, "generated.b").to_kind(Kind::Double);
    let levels = [0.0, 0.05, 0.2, 0.5, 1.0, 1.7, -0.3];
    let generated = tch::no_grad(|| net.generate(&Tensor::from_slice(&levels)));
    assert_eq!(
        generated.size(),
        [levels.len() as i64, SMALL.generated_len()]
    );
    // c = 0 gives exactly the offsets.
    assert_eq!(generated.get(0), b.to_kind(Kind::Float));
    for (i, &c) in levels.iter().enumerate() {
        let expected = &b + &w * c;
        let err = max_abs_diff(&generated.get(i as i64).to_kind(Kind::Double), &expected);
        assert!(
            err <= 1e-7,
            "level {c}: max deviation from b + c*w is {err}"
        );
    }
    // Linearity: g(c1) + g(c2) - g(0) = g(c1 + c2).
    let g = |c: f64| tch::no_grad(|| net.generate(&Tensor::from_slice(&[c]))).get(0);
    let err = max_abs_diff(&(g(0.2) + g(0.5) - g(0.0)), &g(0.7));
    assert!(err <= 1e-6, "linearity error {err}");
}

#[test]
fn set_level_regenerates_only_on_change_and_matches_generate() {
    let (_vs, mut net) = random_restorer(SMALL, 2);
    assert_eq!(net.level(), None);
    assert!(net.set_level(0.1));
    assert!(!net.set_level(0.1));
    assert!(net.set_level(0.3));
    assert_eq!(net.level(), Some(0.3));
    let x = rand(2, &[1, 3, 12, 10]);
    let cached = tch::no_grad(|| net.forward(&x));
    let fresh = tch::no_grad(|| {
        net.forward_levels(&x, &Tensor::from_slice(&[0.3f32]), LevelBatching::Grouped)
    });
    assert_eq!(cached, fresh);
}

/// A plain (non-generated) network over baked weights, written independently of `HyperRes`.
fn plain_forward(baked: &[(String, Tensor)], blocks: i64, x: &Tensor) -> Tensor {
    let get = |name: &str| &baked.iter().find(|(n, _)| n == name).unwrap().1;
    let conv = |x: &Tensor, name: &str, stride: i64| {
        let (w, b) = (get(&format!("{name}.weight")), get(&format!("{name}.bias")));
        x.conv2d(w, Some(b), [stride, stride], [1, 1], [1, 1], 1)
    };
    let head = conv(x, "conv1", 2);
    let mut h = head.shallow_clone();
    for i in 0..blocks {
        h = &h
            + conv(
                &conv(&h, &format!("blocks.{i}.conv1"), 1).relu(),
                &format!("blocks.{i}.conv2"),
                1,
            );
    }
    let h = head + conv(&h, "conv2", 1);
    let h = conv(&h, "conv3", 1).pixel_shuffle(2).relu();
    conv(&conv(&h, "conv4", 1).relu(), "conv5", 1)
}

#[test]
fn generated_network_equals_plain_network_from_bake() {
    let (_vs, mut net) = random_restorer(SMALL, 3);
    let x = rand(3, &[2, 3, 24, 20]);
    for level in [15.0, 50.0, 90.0] {
        let c = level / 255.0;
        net.set_level(c);
        let generated = tch::no_grad(|| net.forward(&x));
        let plain = tch::no_grad(|| plain_forward(&net.bake(c), SMALL.blocks, &x));
        let err = max_abs_diff(&generated, &plain);
        assert!(err <= 1e-5, "level {level}: max abs diff {err}");
        assert!(
            generated.abs().max().double_value(&[]) > 1e-3,
            "output is not trivially zero"
        );
    }
}

#[test]
fn level_batchings_agree_with_per_level_forward() {
    let (_vs, mut net) = random_restorer(SMALL, 4);
    let levels = [15.0f32 / 255.0, 35.0 / 255.0, 75.0 / 255.0];
    let x = rand(4, &[3 * 2, 3, 16, 16]);
    let c = Tensor::from_slice(&levels);
    let grouped = tch::no_grad(|| net.forward_levels(&x, &c, LevelBatching::Grouped));
    let looped = tch::no_grad(|| net.forward_levels(&x, &c, LevelBatching::Loop));
    assert!(max_abs_diff(&grouped, &looped) <= 1e-5);
    for (i, &level) in levels.iter().enumerate() {
        net.set_level(f64::from(level));
        let alone = tch::no_grad(|| net.forward(&x.narrow(0, 2 * i as i64, 2)));
        assert!(max_abs_diff(&grouped.narrow(0, 2 * i as i64, 2), &alone) <= 1e-5);
    }
}

#[test]
fn gradients_reach_every_generated_and_shared_parameter() {
    for batching in [LevelBatching::Grouped, LevelBatching::Loop] {
        let (vs, net) = random_restorer(SMALL, 5);
        let x = rand(5, &[3 * 2, 3, 16, 16]);
        let target = rand(50, &[3 * 2, 3, 16, 16]);
        let c = Tensor::from_slice(&[0.1f32, 0.3, 0.5]);
        let loss = net
            .forward_levels(&x, &c, batching)
            .l1_loss(&target, Reduction::Mean);
        loss.backward();
        for (name, var) in vs.variables() {
            let grad = var.grad();
            assert!(grad.defined(), "{batching:?}: no gradient for {name}");
            assert!(
                grad.abs().sum(Kind::Float).double_value(&[]) > 0.0,
                "{batching:?}: zero gradient for {name}"
            );
        }
        // Every generated conv's slope and offset segment receives gradient.
        let per_conv = SMALL.generated_conv_len();
        for name in ["generated.w", "generated.b"] {
            let grad = vs.variables()[name]
                .grad()
                .view([2 * SMALL.blocks, per_conv]);
            let norms = grad.abs().sum_dim_intlist(1, false, Kind::Float);
            let min = norms.min().double_value(&[]);
            assert!(
                min > 0.0,
                "{batching:?}: a conv segment of {name} gets no gradient"
            );
        }
    }
}

#[test]
fn bf16_mixed_precision_keeps_float32_parameters_and_gradients() {
    let levels = Tensor::from_slice(&[0.1f32, 0.3]);
    let x = rand(6, &[2 * 2, 3, 16, 16]);
    let target = rand(60, &[2 * 2, 3, 16, 16]);
    // One network, once in float32 and once with its convolutions in bf16; the gradients are
    // copied and reset in between.
    let (vs, net) = random_restorer(SMALL, 6);
    let grads = |kind: Kind| {
        let out = net.forward_levels(&x.to_kind(kind), &levels, LevelBatching::Loop);
        assert_eq!(out.kind(), kind);
        let out = out.to_kind(Kind::Float);
        out.l1_loss(&target, Reduction::Mean).backward();
        let mut grads: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .map(|(name, var)| {
                let mut grad = var.grad();
                let copy = grad.copy();
                let _ = tch::no_grad(|| grad.zero_());
                (name, copy)
            })
            .collect();
        grads.sort_by(|a, b| a.0.cmp(&b.0));
        (out.detach(), grads)
    };
    let (out32, grads32) = grads(Kind::Float);
    let (out16, grads16) = grads(Kind::BFloat16);
    // bf16 keeps 8 significant bits: close to float32, but not equal (it did compute in bf16).
    let rel = (&out16 - &out32).norm().double_value(&[]) / out32.norm().double_value(&[]);
    println!("bf16 output off by {rel:.2e} relative");
    assert!(
        rel > 0.0 && rel < 0.01,
        "bf16 output off by {rel:.2e} relative"
    );
    for ((name, g32), (_, g16)) in grads32.iter().zip(&grads16) {
        assert_eq!(g16.kind(), Kind::Float, "{name}: gradient not float32");
        let rel = (g16 - g32).norm().double_value(&[]) / g32.norm().double_value(&[]);
        println!("{name}: bf16 gradient off by {rel:.2e} relative");
        assert!(
            rel < 0.03,
            "{name}: bf16 gradient off by {rel:.2e} relative"
        );
    }
}

#[test]
fn parameter_counts_match_the_authors() {
    let count = |config: RestorerConfig| {
        let vs = nn::VarStore::new(Device::Cpu);
        seeded(0, || HyperRes::new(&vs.root(), config));
        (
            HyperRes::parameter_count(&vs),
            vs.variables()["generated.w"].numel() * 2,
        )
    };
    let (rgb, generated) = count(RestorerConfig::default());
    assert_eq!(rgb, 2_588_483);
    assert_eq!(generated, 2_363_392);
    let (gray, _) = count(RestorerConfig {
        channels: 1,
        ..Default::default()
    });
    assert_eq!(gray, 2_588_483 - 2 * 64 * 9 - 2 * 9 * 64 - 2);
}

#[test]
fn input_skip_adds_the_input_to_the_same_network() {
    let (plain_vs, mut plain) = random_restorer(SMALL, 9);
    let skip_config = RestorerConfig {
        input_skip: true,
        ..SMALL
    };
    let mut skip_vs = nn::VarStore::new(Device::Cpu);
    let mut skip = seeded(9, || HyperRes::new(&skip_vs.root(), skip_config));
    skip_vs.copy(&plain_vs).unwrap();
    plain.set_level(0.2);
    skip.set_level(0.2);
    let x = rand(9, &[2, 3, 12, 16]);
    let (with, without) = tch::no_grad(|| (skip.forward(&x), plain.forward(&x)));
    assert!(max_abs_diff(&(with - without), &x) <= 1e-6);
}

#[test]
fn a_fresh_input_skip_restorer_is_the_identity_with_full_scale_features() {
    let config = RestorerConfig {
        input_skip: true,
        ..SMALL
    };
    let vs = nn::VarStore::new(Device::Cpu);
    let mut net = seeded(4, || HyperRes::new(&vs.root(), config));
    net.set_level(0.2);
    let x = rand(4, &[2, 3, 32, 32]);
    assert_eq!(tch::no_grad(|| net.forward(&x)), x);
    // What conv5 reads must be far larger than an Adam step on a bias (about lr), or the L1
    // sign noise of a near-identity network walks those ReLUs into the dead zone.
    let conv4_weight = variable(&vs, "conv4.weight");
    let std = conv4_weight.std(true).double_value(&[]);
    assert!(
        (std - (2.0 / (16.0 * 9.0f64)).sqrt()).abs() < 0.02,
        "conv4 std {std}"
    );
}
