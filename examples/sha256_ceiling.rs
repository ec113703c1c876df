//! Prints this machine's SHA-256 ceiling: `threads` threads hashing in-memory buffers with the
//! same `sha2` crate appsweep uses. Used by `scripts/bench_files.sh` as the baseline for
//! `--hash all`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sha2::{Digest, Sha256};
use std::time::Instant;

fn main() {
    let threads: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2);
    let mb: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(512);
    let buf: Vec<u8> = (0..mb << 20).map(|i| (i * 31 % 251) as u8).collect();
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut h = Sha256::new();
                for chunk in buf.chunks(1 << 20) {
                    h.update(chunk);
                }
                std::hint::black_box(h.finalize());
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let bytes = (threads * buf.len()) as f64;
    println!("{:.0}", bytes / secs);
}
