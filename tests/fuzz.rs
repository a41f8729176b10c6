//! Every fuzz harness ([`voxedge::fuzzing`]) on a bounded number of inputs, as part of `cargo test`: the seed
//! corpus in `fuzz/seeds/<harness>/`, then mutations of those seeds and random byte strings from a fixed RNG
//! seed, so a run is reproducible. `scripts/fuzz` runs the same harnesses coverage-guided for longer.
//!
//! `VOXEDGE_FUZZ_RUNS` sets the generated inputs per harness (default 1,500) and `VOXEDGE_FUZZ_SEED` the RNG
//! seed. A failing input is printed as hex; add it to `regressions` below once fixed.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

use voxedge::fuzzing::HARNESSES;

const DEFAULT_RUNS: u64 = 1_500;

/// splitmix64: tiny, and the same sequence on every platform and version.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn seeds_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(name)
}

fn seeds(name: &str) -> Vec<Vec<u8>> {
    let dir = seeds_dir(name);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("readable seed directory").path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read(p).expect("readable seed"))
        .collect()
}

/// A few byte-level edits, the kind libFuzzer makes: flip, overwrite, insert, delete, duplicate, splice.
fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(7) {
            0 if at < data.len() => data[at] ^= 1 << rng.below(8),
            1 if at < data.len() => data[at] = rng.next() as u8,
            2 => {
                let n = 1 + rng.below(8);
                data.splice(at..at, rng.bytes(n));
            }
            3 => {
                let end = (at + 1 + rng.below(16)).min(data.len());
                data.drain(at..end);
            }
            4 if at < data.len() => {
                let end = (at + 1 + rng.below(32)).min(data.len());
                let copy = data[at..end].to_vec();
                data.splice(at..at, copy);
            }
            5 if !other.is_empty() => {
                let from = rng.below(other.len());
                let end = (from + 1 + rng.below(64)).min(other.len());
                data.splice(at..at, other[from..end].iter().copied());
            }
            _ => data.truncate(at),
        }
    }
    data
}

fn run_one(name: &str, harness: fn(&[u8]), input: &[u8], what: &str) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| harness(input))) {
        eprintln!(
            "fuzz harness {name} failed on {what}; input ({} bytes, hex):",
            input.len()
        );
        eprintln!("{}", hex::encode(input));
        resume_unwind(panic);
    }
}

/// Runs `name`'s harness on its seeds, then on generated inputs.
fn fuzz(name: &str) {
    let harness = HARNESSES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, h)| *h)
        .expect("a known harness");
    let runs: u64 = std::env::var("VOXEDGE_FUZZ_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_RUNS);
    let seed: u64 = std::env::var("VOXEDGE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5EED);
    let corpus = seeds(name);
    assert!(!corpus.is_empty(), "{name} has no seeds");
    let started = Instant::now();
    for (i, input) in corpus.iter().enumerate() {
        run_one(name, harness, input, &format!("seed {i}"));
    }
    // Each harness its own stream, so adding one does not change the others' inputs.
    let mut rng = Rng(seed
        ^ name
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31) ^ u64::from(b)));
    for i in 0..runs {
        let input = if rng.below(4) == 0 {
            let len = rng.below(512);
            rng.bytes(len)
        } else {
            let seed = &corpus[rng.below(corpus.len())];
            let other = &corpus[rng.below(corpus.len())];
            mutate(&mut rng, seed, other)
        };
        run_one(
            name,
            harness,
            &input,
            &format!("generated input {i} (seed {seed})"),
        );
    }
    eprintln!(
        "fuzz {name}: {} seeds + {runs} generated inputs in {:.1?}",
        corpus.len(),
        started.elapsed()
    );
}

#[test]
fn g711() {
    fuzz("g711");
}

#[test]
fn wav() {
    fuzz("wav");
}

#[test]
fn resampler() {
    fuzz("resampler");
}

#[test]
fn realtime() {
    fuzz("realtime");
}

#[test]
fn twilio() {
    fuzz("twilio");
}

#[test]
fn agent_config() {
    fuzz("agent_config");
}

#[test]
fn cursors() {
    fuzz("cursors");
}

/// Both runners cover every harness: a test above, a `cargo fuzz` target and seeds for each.
#[test]
fn every_harness_has_a_test_a_fuzz_target_and_seeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("fuzz/Cargo.toml")).expect("fuzz/Cargo.toml");
    let this = std::fs::read_to_string(root.join("tests/fuzz.rs")).expect("tests/fuzz.rs");
    for (name, _) in HARNESSES {
        assert!(
            this.contains(&format!("fuzz(\"{name}\")")),
            "no test runs {name}"
        );
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "fuzz/Cargo.toml has no target {name}"
        );
        let target = std::fs::read_to_string(root.join(format!("fuzz/fuzz_targets/{name}.rs")))
            .unwrap_or_else(|e| panic!("fuzz target {name}: {e}"));
        assert!(
            target.contains(&format!("voxedge::fuzzing::{name}")),
            "fuzz/fuzz_targets/{name}.rs does not run its harness"
        );
        assert!(seeds_dir(name).is_dir(), "no seeds for {name}");
    }
}

/// Inputs that once broke a harness, each with what was wrong.
mod regressions {
    fn input(hex_lines: &[&str]) -> Vec<u8> {
        hex::decode(hex_lines.concat()).expect("valid hex")
    }

    /// A beta `session.update`, then the session the server showed sent back: its `"temperature": null` (unset)
    /// was refused as "must be a number from 0 to 2". `null` now leaves the temperature unset.
    #[test]
    fn realtime_session_with_null_temperature_is_taken_back() {
        voxedge::fuzzing::realtime(&input(&[
            "4353ca37732062cbc01feae2f2457d258dbe9a27a869e77f98c63ef5c860346634392dcaa35faa925e0dec0e57a8b61f",
            "648925c56eefed9c97fd4e22d6ceee1c1992a8ce4b4b2eccd920884ce3faed33c94e84de029ab9d38b826d0f2f3b857b",
            "7b6a30c3270125602ab7f60c0e3a7e37e76b17b709816366823dbf2b6dd3a5ff137290289823254fb99b448fb0b4d46d",
            "96eaa1c2a08eb50de0a8a1440e069ff0f6530f29f2fd761235fc39a2263e00a8ace09d299f72d3811c5e8cd85f38c9a3",
            "9557b69193912d207683e6f8b05643f9ccc428f548cf517f5782e876960f82fe8adf05755b2e98619fc8fed26dc5bed1",
            "4f7b092396f13c9025c21bb291f672c449036e9ee1809aa8cddfceecf06b22a8a67a740838259e66e41ac1ee15e936c3",
            "17639ebae401601177d8877c9fb9c3cbb301a5880ed375755170c92a3c927624940897ee31e55901028975057c25206f",
            "3c122c",
        ]));
    }
}
