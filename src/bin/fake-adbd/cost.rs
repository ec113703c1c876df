//! The on-phone cost model: how long the phone itself takes to run what the host asked, on top
//! of the link model (`latency_ms` per service, `bandwidth_bytes_per_s` for what it sends).
//!
//! | work | phone time |
//! |---|---|
//! | one `pm` call | 40 ms on SDK >= 28 (`pm` is `cmd package`), 350 ms below (a Java VM start) |
//! | one `cmd` call (SDK >= 24) | 40 ms (native `cmd`, a binder call into system_server) |
//! | one `dumpsys` call | 300 ms + 5 ms per package dumped |
//! | one toybox/toolbox tool (`stat`, `dd`, `sha256sum`, `getprop`, ...) | 2 ms |
//! | file bytes a tool reads (hashed, encoded, or sent out of the phone by a shell) | 2 ms per MB (500 MB/s) |
//! | shell builtins (`echo`, `true`, `exit`, ...), a missing command | 0 |
//!
//! A shell service runs its commands one after the other and then sends its output, so a script
//! costs the sum of its commands. The phone runs several services at once: each holds one of
//! `parallel` cores (default 8) while it works, so concurrent services overlap and only queue
//! beyond that. `dumpsys` gives a service 10 s (SDK >= 24, or `-t`/`-T`): a dump modelled
//! longer than that is cut (see `dumpsys.rs`), and the cut dump costs exactly the budget.
//!
//! Every time is phone time; the fake sleeps `phone time × scale`. `scale` is 1 for a scenario
//! with `sdk` and 0 (free) for the permissive scenarios without it; tests may scale costs
//! down, a benchmark keeps 1. Timeouts are decided in phone time, so a scaled-down phone cuts
//! the same dumps, only sooner. Every field can be overridden in the scenario's `costs`.

use crate::scenario::CostSpec;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Costs {
    pub scale: f64,
    pub pm_ms: f64,
    pub cmd_ms: f64,
    pub dumpsys_ms: f64,
    pub dumpsys_per_package_ms: f64,
    pub tool_ms: f64,
    /// Storage read (and hash) speed for file bytes tools read, in MB/s (0: free).
    pub file_mb_per_s: f64,
    pub parallel: u32,
}

impl Costs {
    /// The model for API level `sdk`, with the scenario's overrides; `default_scale` when the
    /// scenario gives none.
    pub fn of(sdk: u32, spec: &CostSpec, default_scale: f64) -> Costs {
        let pick = |v: Option<f64>, d: f64| v.filter(|x| x.is_finite() && *x >= 0.0).unwrap_or(d);
        Costs {
            scale: pick(spec.scale, default_scale),
            pm_ms: pick(spec.pm_ms, if sdk >= 28 { 40.0 } else { 350.0 }),
            cmd_ms: pick(spec.cmd_ms, 40.0),
            dumpsys_ms: pick(spec.dumpsys_ms, 300.0),
            dumpsys_per_package_ms: pick(spec.dumpsys_per_package_ms, 5.0),
            tool_ms: pick(spec.tool_ms, 2.0),
            file_mb_per_s: pick(spec.file_mb_per_s, 500.0),
            parallel: spec.parallel.unwrap_or(8).max(1),
        }
    }

    /// Phone time of one simple command by name (`dumpsys` is costed by what it dumps).
    pub fn command_ms(&self, name: &str) -> f64 {
        match name {
            "pm" => self.pm_ms,
            "cmd" => self.cmd_ms,
            "dumpsys" => 0.0,
            "echo" | "true" | "false" | ":" | "exit" | "command" | "sh" | "mksh" => 0.0,
            _ => self.tool_ms,
        }
    }

    /// Phone time to read `bytes` of files.
    pub fn file_ms(&self, bytes: u64) -> f64 {
        if self.file_mb_per_s > 0.0 {
            bytes as f64 / (self.file_mb_per_s * 1000.0)
        } else {
            0.0
        }
    }

    /// Phone time of a dump of `packages` packages, before any budget.
    pub fn dumpsys_total_ms(&self, packages: usize) -> f64 {
        self.dumpsys_ms + self.dumpsys_per_package_ms * packages as f64
    }
}

/// The phone's cores: a service holds one while it spends its phone time.
pub struct Cpu {
    free: Mutex<u32>,
    freed: Condvar,
}

impl Cpu {
    pub fn new(cores: u32) -> Cpu {
        Cpu {
            free: Mutex::new(cores.max(1)),
            freed: Condvar::new(),
        }
    }

    /// Spends `phone_ms × scale` of wall time on one core (waiting for a free core first).
    pub fn spend(&self, phone_ms: f64, scale: f64) {
        let wall = phone_ms * scale;
        if !(wall.is_finite() && wall > 0.0) {
            return;
        }
        {
            let mut free = match self.free.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            while *free == 0 {
                free = match self.freed.wait(free) {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
            }
            *free -= 1;
        }
        std::thread::sleep(Duration::from_secs_f64(wall / 1000.0));
        let mut free = match self.free.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *free += 1;
        self.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn pm_is_a_vm_start_before_android_9() {
        let spec = CostSpec::default();
        assert_eq!(Costs::of(27, &spec, 1.0).command_ms("pm"), 350.0);
        assert_eq!(Costs::of(28, &spec, 1.0).command_ms("pm"), 40.0);
        assert_eq!(Costs::of(25, &spec, 1.0).command_ms("cmd"), 40.0);
        assert_eq!(Costs::of(34, &spec, 1.0).command_ms("stat"), 2.0);
        assert_eq!(Costs::of(34, &spec, 1.0).command_ms("echo"), 0.0);
        assert_eq!(Costs::of(34, &spec, 1.0).dumpsys_total_ms(300), 1800.0);
        assert_eq!(Costs::of(34, &spec, 1.0).file_ms(1_000_000_000), 2000.0);
    }

    #[test]
    fn overrides_win_and_nonsense_is_ignored() {
        let spec = CostSpec {
            scale: Some(0.5),
            pm_ms: Some(-1.0),
            tool_ms: Some(7.0),
            ..CostSpec::default()
        };
        let c = Costs::of(34, &spec, 1.0);
        assert_eq!(c.scale, 0.5);
        assert_eq!(c.pm_ms, 40.0);
        assert_eq!(c.tool_ms, 7.0);
    }

    #[test]
    fn services_overlap_up_to_the_core_count() {
        let cpu = Arc::new(Cpu::new(2));
        let t0 = Instant::now();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let cpu = Arc::clone(&cpu);
                std::thread::spawn(move || cpu.spend(300.0, 1.0))
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let took = t0.elapsed();
        // Four 300 ms jobs on two cores: two rounds (600 ms), not one and not four (1.2 s).
        assert!(took >= Duration::from_millis(590), "{took:?}");
        assert!(took < Duration::from_millis(1150), "{took:?}");
    }
}
