//! The HyperRes main network, with its residual-block convolutions generated from the level.
//!
//! Every generated kernel element and bias is affine in the normalised level c:
//! `k = c * w + b`. All the `w` live in one flat tensor and all the `b` in another, laid out as
//! the authors' meta blocks are (per block and conv: the `out*in*3*3` kernel values row-major,
//! then the `out` bias values), so a level change is one fused multiply-add over the whole buffer.

use tch::nn;
use tch::{Device, Tensor};

use super::{AUTHORS_INIT_SCALE, Start, conv3x3_init, kaiming_normal_scaled};

/// Size of the network: image channels (3 RGB, 1 gray), feature width and residual blocks; and
/// whether the input image is added to the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestorerConfig {
    pub channels: i64,
    pub width: i64,
    pub blocks: i64,
    /// Not in the authors' network (false for their layout): the network then learns only the
    /// correction, so a briefly trained model starts from the input instead of from having to
    /// reproduce every detail (what a CPU-trained model for mild JPEG or SR needs).
    pub input_skip: bool,
}

impl Default for RestorerConfig {
    /// The authors' full RGB model.
    fn default() -> Self {
        RestorerConfig {
            channels: 3,
            width: 64,
            blocks: 16,
            input_skip: false,
        }
    }
}

impl RestorerConfig {
    fn kernel_len(&self) -> i64 {
        self.width * self.width * 9
    }

    /// Values of one generated conv: kernel then bias (one of the authors' meta-block outputs).
    pub fn generated_conv_len(&self) -> i64 {
        self.kernel_len() + self.width
    }

    /// Values of all generated convs: two per residual block.
    pub fn generated_len(&self) -> i64 {
        2 * self.blocks * self.generated_conv_len()
    }
}

/// How `forward_levels` runs k levels in one step. Both give the same result; which is faster
/// depends on the device (`examples/bench_model` times both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LevelBatching {
    /// All levels in one pass: shared convs over the whole batch, one grouped convolution
    /// (groups = k) per generated conv.
    Grouped,
    /// The whole network once per level, on that level's part of the batch (the authors' k
    /// main networks).
    Loop,
}

impl LevelBatching {
    /// The faster where measured: on a CPU (2 threads) the loop, whose smaller batches stay in
    /// cache; on CUDA the single grouped pass, whose fewer and larger kernels keep the GPU busy
    /// (a 16-block step of 4 levels x 16 crops of 96x96 on an H200: 26.6 against 36.4 ms).
    pub fn for_device(device: Device) -> LevelBatching {
        if device.is_cuda() {
            LevelBatching::Grouped
        } else {
            LevelBatching::Loop
        }
    }
}

named_enum!(
    LevelBatching,
    "level batching",
    [
        (LevelBatching::Grouped, "grouped"),
        (LevelBatching::Loop, "loop")
    ]
);

/// The HyperRes network (parameters live in the `nn::Path` it was built on).
#[derive(Debug)]
pub struct HyperRes {
    config: RestorerConfig,
    conv1: SharedConv,
    conv2: SharedConv,
    conv3: SharedConv,
    conv4: SharedConv,
    conv5: SharedConv,
    /// Slope of every generated value in c, `[generated_len]`.
    generated_w: Tensor,
    /// Value of every generated value at c = 0, `[generated_len]`.
    generated_b: Tensor,
    /// Weights generated for the last level given to `set_level`.
    cache: Option<LevelCache>,
}

#[derive(Debug)]
struct LevelCache {
    c: f64,
    weights: Tensor,
}

/// Plain, fixed-level weights: the generated convs materialised at one level, plus the shared
/// convs, named `conv1..conv5.{weight,bias}` and `blocks.{i}.conv{1,2}.{weight,bias}` (i from 0).
pub type BakedWeights = Vec<(String, Tensor)>;

impl HyperRes {
    /// Builds the network under `p` with the authors' initialisation, except with `input_skip`:
    /// there the shared convs get full Kaiming weights and conv5 zeros, so training starts from
    /// the identity. The authors' x0.1 leaves conv4's activations near 1e-3, and with the input
    /// added the L1 gradient is sign noise: Adam's ~lr bias steps then push conv4's ReLUs below
    /// zero one by one, for good (all 64 were dead in our first JPEG runs, whose output stayed
    /// equal to their input).
    pub fn new(p: &nn::Path, config: RestorerConfig) -> HyperRes {
        HyperRes::build(p, config, Start::Drawn)
    }

    /// Builds the network under `p` with zeros for a checkpoint to fill, drawing nothing.
    pub fn blank(p: &nn::Path, config: RestorerConfig) -> HyperRes {
        HyperRes::build(p, config, Start::Blank)
    }

    fn build(p: &nn::Path, config: RestorerConfig, start: Start) -> HyperRes {
        let RestorerConfig {
            channels, width, ..
        } = config;
        let generated = p / "generated";
        let (scale, conv5_init) = if config.input_skip {
            (1.0, nn::Init::Const(0.0))
        } else {
            let scale = AUTHORS_INIT_SCALE;
            (scale, kaiming_normal_scaled(width * 9, scale))
        };
        let conv = |name: &str, c_in: i64, c_out: i64, stride: i64, init: nn::Init| SharedConv {
            conv: conv3x3_init(p / name, c_in, c_out, stride, start.or_zeros(init)),
            stride,
        };
        let shared = |name: &str, c_in: i64, c_out: i64, stride: i64| {
            conv(
                name,
                c_in,
                c_out,
                stride,
                kaiming_normal_scaled(c_in * 9, scale),
            )
        };
        // The authors' meta blocks are Linear(1 -> n): fan-in 1 for the slope, zero bias.
        let len = config.generated_len();
        HyperRes {
            config,
            conv1: shared("conv1", channels, width, 2),
            conv2: shared("conv2", width, width, 1),
            conv3: shared("conv3", width, 4 * width, 1),
            conv4: shared("conv4", width, width, 1),
            conv5: conv("conv5", width, channels, 1, conv5_init),
            generated_w: generated.var(
                "w",
                &[len],
                start.or_zeros(kaiming_normal_scaled(1, AUTHORS_INIT_SCALE)),
            ),
            generated_b: generated.var("b", &[len], nn::Init::Const(0.0)),
            cache: None,
        }
    }

    pub fn config(&self) -> RestorerConfig {
        self.config
    }

    /// Generated weights for each normalised level in `c` (`[k]`): `[k, generated_len]`,
    /// one fused multiply-add, differentiable.
    pub fn generate(&self, c: &Tensor) -> Tensor {
        let c = c.to_kind(self.generated_w.kind()).view([-1, 1]);
        self.generated_b
            .unsqueeze(0)
            .addcmul(&c, &self.generated_w.unsqueeze(0))
    }

    /// Makes `forward` use the weights for normalised level `c`. Regenerates (one fused
    /// multiply-add into a reused buffer, no autograd) only when `c` changed; returns whether it did.
    pub fn set_level(&mut self, c: f64) -> bool {
        if self.cache.as_ref().is_some_and(|cached| cached.c == c) {
            return false;
        }
        let c_tensor = Tensor::from(c)
            .to_kind(self.generated_w.kind())
            .to_device(self.generated_w.device());
        let weights = match self.cache.take() {
            Some(LevelCache { weights, .. }) => weights,
            None => self.generated_w.zeros_like().unsqueeze(0),
        };
        // Writes into `weights`; the returned handle to the same storage is not needed.
        let _ = tch::no_grad(|| {
            self.generated_b.unsqueeze(0).addcmul_out(
                &weights,
                &self.generated_w.unsqueeze(0),
                &c_tensor,
            )
        });
        self.cache = Some(LevelCache { c, weights });
        true
    }

    /// Forgets the cached weights (e.g. after the parameters changed kind or values).
    pub fn clear_level(&mut self) {
        self.cache = None;
    }

    /// The normalised level the cached weights were generated for.
    pub fn level(&self) -> Option<f64> {
        self.cache.as_ref().map(|cached| cached.c)
    }

    /// Runs the network at the level of the last `set_level` on `x` `[N, C, H, W]` (H, W even).
    ///
    /// # Panics
    /// If `set_level` was never called.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let weights = &self
            .cache
            .as_ref()
            .expect("HyperRes::set_level before forward")
            .weights;
        // One level: the plain pass, without the per-level split and concatenation (a copy of
        // every output frame) that `LevelBatching::Loop` would add.
        self.forward_grouped(x, weights)
    }

    /// Training forward for k levels at once: `x` is `[k*B, C, H, W]`, its i-th block of B images
    /// degraded at normalised level `c[i]`. Differentiable in every parameter.
    ///
    /// The convolutions compute in `x`'s kind: a bf16 `x` trains in mixed precision, the weights
    /// (and their gradients) staying float32 and cast, differentiably, at every use.
    pub fn forward_levels(&self, x: &Tensor, c: &Tensor, batching: LevelBatching) -> Tensor {
        self.forward_generated(x, &self.generate(c).to_kind(x.kind()), batching)
    }

    fn forward_generated(&self, x: &Tensor, weights: &Tensor, batching: LevelBatching) -> Tensor {
        let k = weights.size()[0];
        match batching {
            LevelBatching::Grouped => self.forward_grouped(x, weights),
            // chunk/split rather than narrow: their backward is one concatenation, where each
            // narrow's backward would zero-fill a gradient the size of the whole buffer.
            LevelBatching::Loop => {
                let parts: Vec<Tensor> = x
                    .chunk(k, 0)
                    .iter()
                    .zip(weights.split(1, 0))
                    .map(|(x, level_weights)| self.forward_grouped(x, &level_weights))
                    .collect();
                Tensor::cat(&parts, 0)
            }
        }
    }

    /// The whole network with all k levels of `weights` in one pass: shared convs over the whole
    /// batch, generated convs grouped by level.
    fn forward_grouped(&self, x: &Tensor, weights: &Tensor) -> Tensor {
        let k = weights.size()[0];
        let head = self.conv1.forward(x);
        let grouped = levels_to_channels(&head, k);
        let body = channels_to_levels(&self.generated_blocks(&grouped, weights), k);
        let features = head + self.conv2.forward(&body);
        // In-place ReLUs: each acts on a fresh output nothing else needs (conv and pixel-shuffle
        // backward do not use their outputs), sparing a full-size buffer per activation.
        let up = self.conv3.forward(&features).pixel_shuffle(2).relu_();
        let out = self.conv5.forward(&self.conv4.forward(&up).relu_());
        if self.config.input_skip { out + x } else { out }
    }

    /// The residual blocks with generated convs. `h` is `[B, k*width, h, w]` and `weights`
    /// `[k, generated_len]`: level i's features sit in channel group i (one grouped conv).
    fn generated_blocks(&self, h: &Tensor, weights: &Tensor) -> Tensor {
        let groups = weights.size()[0];
        let convs = self.generated_convs(weights);
        let conv = |x: &Tensor, (kernel, bias): &(Tensor, Tensor)| {
            x.conv2d(kernel, Some(bias), [1, 1], [1, 1], [1, 1], groups)
        };
        // Out-of-place additions: autograd needs each block's input, and `h` is the head's output.
        convs.chunks(2).fold(h.shallow_clone(), |h, pair| {
            let inner = conv(&h, &pair[0]).relu_();
            &h + conv(&inner, &pair[1])
        })
    }

    /// Kernel `[k*width, width, 3, 3]` and bias `[k*width]` of every generated conv, in order,
    /// as views of `weights` `[k, generated_len]` (split, so the backward is one concatenation).
    fn generated_convs(&self, weights: &Tensor) -> Vec<(Tensor, Tensor)> {
        let width = self.config.width;
        let kernel_len = self.config.kernel_len();
        weights
            .split(self.config.generated_conv_len(), 1)
            .iter()
            .map(|conv| {
                let parts = conv.split_with_sizes([kernel_len, width], 1);
                (parts[0].reshape([-1, width, 3, 3]), parts[1].reshape([-1]))
            })
            .collect()
    }

    /// The plain network's weights at normalised level `c`, for export (see [`BakedWeights`]).
    pub fn bake(&self, c: f64) -> BakedWeights {
        tch::no_grad(|| {
            let weights = self.generate(&Tensor::from_slice(&[c]));
            let mut baked = Vec::new();
            let shared = [
                ("conv1", &self.conv1),
                ("conv2", &self.conv2),
                ("conv3", &self.conv3),
                ("conv4", &self.conv4),
                ("conv5", &self.conv5),
            ];
            for (name, SharedConv { conv, .. }) in shared {
                let bias = conv.bs.as_ref().expect("HyperRes convs have biases");
                baked.push((format!("{name}.weight"), conv.ws.copy()));
                baked.push((format!("{name}.bias"), bias.copy()));
            }
            for (index, (kernel, bias)) in self.generated_convs(&weights).iter().enumerate() {
                let prefix = format!("blocks.{}.conv{}", index / 2, index % 2 + 1);
                baked.push((format!("{prefix}.weight"), kernel.copy()));
                baked.push((format!("{prefix}.bias"), bias.copy()));
            }
            baked
        })
    }

    /// Total parameter count (shared convs plus generated slopes and offsets).
    pub fn parameter_count(vs: &nn::VarStore) -> i64 {
        vs.trainable_variables()
            .iter()
            .map(Tensor::numel)
            .sum::<usize>() as i64
    }
}

/// A shared 3x3 convolution (padding 1) that computes in its input's kind, casting its float32
/// weights differentiably when they differ (see [`HyperRes::forward_levels`]).
#[derive(Debug)]
struct SharedConv {
    conv: nn::Conv2D,
    stride: i64,
}

impl SharedConv {
    fn forward(&self, x: &Tensor) -> Tensor {
        let kind = x.kind();
        let bias = self.conv.bs.as_ref().map(|b| b.to_kind(kind));
        x.conv2d(
            &self.conv.ws.to_kind(kind),
            bias.as_ref(),
            self.stride,
            1,
            1,
            1,
        )
    }
}

/// `[k*B, C, h, w]` (level-major) to `[B, k*C, h, w]` (level i in channel group i).
fn levels_to_channels(x: &Tensor, k: i64) -> Tensor {
    if k == 1 {
        return x.shallow_clone();
    }
    let [n, c, h, w] = x.size()[..] else {
        unreachable!("4-d feature map")
    };
    x.view([k, n / k, c, h, w])
        .transpose(0, 1)
        .reshape([n / k, k * c, h, w])
}

/// Inverse of [`levels_to_channels`].
fn channels_to_levels(x: &Tensor, k: i64) -> Tensor {
    if k == 1 {
        return x.shallow_clone();
    }
    let [b, kc, h, w] = x.size()[..] else {
        unreachable!("4-d feature map")
    };
    x.view([b, k, kc / k, h, w])
        .transpose(0, 1)
        .reshape([k * b, kc / k, h, w])
}
