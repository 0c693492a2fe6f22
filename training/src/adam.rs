//! Adam with its state in plain tensors, so that a checkpoint can save and restore it exactly
//! (tch's optimiser does not expose its moments). Same update as `torch.optim.Adam`.

use gsthyperres::checkpoint::Tensors;
use tch::{Tensor, nn};

pub struct Adam {
    params: Vec<(String, Tensor)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    step: i64,
    betas: (f64, f64),
    eps: f64,
}

impl Adam {
    /// Adam over every trainable variable of `vs`, betas (0.9, 0.999), eps 1e-8.
    pub fn new(vs: &nn::VarStore) -> Adam {
        let mut params: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let zeros = |p: &Tensor| p.zeros_like();
        Adam {
            m: params.iter().map(|(_, p)| zeros(p)).collect(),
            v: params.iter().map(|(_, p)| zeros(p)).collect(),
            params,
            step: 0,
            betas: (0.9, 0.999),
            eps: 1e-8,
        }
    }

    /// Applies one update from the gradients left by `backward`, then clears them.
    pub fn step(&mut self, lr: f64) {
        self.step += 1;
        let (b1, b2) = self.betas;
        let correction1 = 1.0 - b1.powi(self.step as i32);
        let correction2 = (1.0 - b2.powi(self.step as i32)).sqrt();
        tch::no_grad(|| {
            for ((_, p), (m, v)) in self
                .params
                .iter_mut()
                .zip(self.m.iter_mut().zip(&mut self.v))
            {
                let grad = p.grad();
                if !grad.defined() {
                    continue;
                }
                let _ = m.lerp_(&grad, 1.0 - b1);
                let _ = v.g_mul_scalar_(b2);
                *v += grad.square() * (1.0 - b2);
                let denom = v.sqrt() / correction2 + self.eps;
                *p -= (&*m / denom) * (lr / correction1);
                p.zero_grad();
            }
        });
    }

    pub fn steps(&self) -> i64 {
        self.step
    }

    /// The moments, named `m.<param>` and `v.<param>`.
    pub fn state(&self) -> Tensors {
        let named = |prefix: &str, moments: &[Tensor]| -> Tensors {
            self.params
                .iter()
                .zip(moments)
                .map(|((name, _), t)| (format!("{prefix}.{name}"), t.shallow_clone()))
                .collect()
        };
        let mut state = named("m", &self.m);
        state.extend(named("v", &self.v));
        state
    }

    /// Restores moments saved by [`Adam::state`] after `steps` updates.
    pub fn restore(&mut self, state: &Tensors, steps: i64) -> anyhow::Result<()> {
        let find = |name: &str| {
            state
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t)
                .ok_or_else(|| anyhow::anyhow!("optimiser state lacks {name}"))
        };
        tch::no_grad(|| -> anyhow::Result<()> {
            for ((name, _), (m, v)) in self.params.iter().zip(self.m.iter_mut().zip(&mut self.v)) {
                m.f_copy_(find(&format!("m.{name}"))?)?;
                v.f_copy_(find(&format!("v.{name}"))?)?;
            }
            Ok(())
        })?;
        self.step = steps;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    /// Three steps on f(p) = sum(a * p^2) against `torch.optim.Adam`'s update written out in f64.
    #[test]
    fn matches_torch_adam_updates() {
        let vs = nn::VarStore::new(Device::Cpu);
        let p = vs
            .root()
            .var_copy("p", &Tensor::from_slice(&[0.5f32, -1.0, 2.0, 1e-3]));
        let a = Tensor::from_slice(&[1.0f32, 3.0, -0.5, 10.0]);
        let mut adam = Adam::new(&vs);
        let (lr, b1, b2, eps) = (1e-2, 0.9, 0.999, 1e-8);
        let mut expected: Vec<f64> = vec![0.5, -1.0, 2.0, 1e-3];
        let coeff = [1.0, 3.0, -0.5, 10.0];
        let (mut m, mut v) = (vec![0.0; 4], vec![0.0; 4]);
        for step in 1..=3 {
            (&a * p.square()).sum(Kind::Float).backward();
            adam.step(lr);
            for i in 0..4 {
                let g = 2.0 * coeff[i] * expected[i];
                m[i] = b1 * m[i] + (1.0 - b1) * g;
                v[i] = b2 * v[i] + (1.0 - b2) * g * g;
                let denom = (v[i] / (1.0 - b2.powi(step))).sqrt() + eps;
                expected[i] -= lr / (1.0 - b1.powi(step)) * m[i] / denom;
            }
        }
        let got = Vec::<f64>::try_from(p.to_kind(Kind::Double)).unwrap();
        for (g, e) in got.iter().zip(&expected) {
            assert!((g - e).abs() < 1e-6, "{got:?} vs {expected:?}");
        }
        assert_eq!(adam.steps(), 3);
    }
}
