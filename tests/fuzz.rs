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

/// The agent config generator reaches validation's both ends, not just GraphQL coercion errors: a harness
/// that never gets an input accepted checks nothing about round trips.
#[test]
fn agent_config_inputs_are_often_accepted_and_often_refused() {
    use voxedge::fuzzing::agent_config_outcome;
    let mut rng = Rng(7);
    let mut counts = [0usize; 3];
    for _ in 0..2_000 {
        let len = 64 + rng.below(512);
        let mut data = rng.bytes(len);
        data[0] |= 0x80; // built, not raw JSON
        let outcome = agent_config_outcome(&data);
        counts[outcome as usize] += 1;
    }
    let [not_input, refused, accepted] = counts;
    eprintln!("agent_config: {not_input} not input, {refused} refused, {accepted} accepted");
    assert!(accepted >= 20 && refused >= 200, "{counts:?}");
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

    /// A GA `session.update` with a turn-detection threshold just under 1: taken as f64, stored as f32 (1.0),
    /// so the session shown was refused when sent back. The threshold is now checked as stored.
    #[test]
    fn realtime_threshold_is_checked_as_stored() {
        voxedge::fuzzing::realtime(&input(&[
            "20fdbc88f4f5107dba4fe1a5dfecb3ee8bc8f76dbb0910ef3009788e99a0bdaa73426cdb1aae688393d586fc8e90c703",
            "3030524fed084522026e94f99259367a26f0dc6d714bf2d4e1d78ac3f3b00f23098f789077522c0ecf42f5117167775a",
            "8d3fe539a596bb95e7cd12280c4d9c1a07825b6bf71d5b9e142c193be8dc2244f47930f91d015c3283afd43220879207",
            "b954adce2f6de44b433f0d3551f8a3fae4a908058baa38ed1d41d89c213b9a0fb4e19e3e6afa885eeee1634638c17ba0",
            "ed2d5cb057f940b9ff6c1c124c3b66fd20dc7e064eee2f9210ff578559c827c2fd62ad61c8ec9e8120e6670a5794ea33",
            "fdf533b33dfca67026eb117a8077394ed62d06594f4d41408f02e33bb9383a0a55879a3d43e53c9d55c0a6ce84322aa3",
            "1f44efd5c6afd24f7bc99da3505f2654076a8d2f49623480cf1bcf7f58d4da1336a248b80c10879d5247d6c76f720b75",
            "ca91c29522c1ee40ecc9f0350df460ffc5362e684166fdf2279324e5b61ddca7fc7a63ab9c64a5fe8b7657e79b7c160a",
            "58a83027c2247298f6e763966f4fb90780f25af5b808128bf4240d920daf881ea5cc4bd263a0a96352ce75333757b74b",
            "1f82dc1ed021f9325fb57bfe661bf98b2e936fcbd2f05618e20a",
        ]));
    }

    /// Non-finite samples pushed into the resampler made rubato's FFT panic ("Imaginary part of first value was
    /// non-zero"). They are now silence, and absurdly loud ones clipped.
    #[test]
    fn resampler_survives_non_finite_samples() {
        voxedge::fuzzing::resampler(&input(&[
            "b8c8bef1ff23473bae966917efce5d905728f5a977dcc2b37f26388ad21e2d7d4b0cbe7738990a547dedb0e0ceb56bfe",
            "843157c2a6a2e8d2f208f1891dc14c20cee1f8f3d26b09bf53a853f493a77faef7ff7722f9b77c1f63f16b14505ce5b7",
            "516e26d10216b9fb93b3837d502fcc50e73370d74c0cda014beb12952f7ecd6b68fc340303c17e7d3919afd5c57024bf",
            "9fe4a4361b0c4f815c7d30892ea21e097a0485feefbdf6636975f55d2823900c882890a91bf1760ba3db28ba8e308c83",
            "e4f9b54b8d8cd5b653b76f861d582360b2fb8b3d680526ce3f70482fa1a2d5ccc696ad7900cc854eb20f61983fa0df46",
            "490991763bcc23a6c8da5d01595b5f54e5f3c7133ba65722249f0b97ede9aa2244fe06411a0827d955325dd4c6bac71f",
            "23fa",
        ]));
    }

    /// A float WAV with a NaN sample was decoded into NaN audio. It is now refused (`wav: sample N is not a
    /// number`).
    #[test]
    fn wav_with_nan_samples_is_refused() {
        voxedge::fuzzing::wav(&input(&[
            "9ae23891861e0782ac5718e008b31ef15d204762955a447c52af86954cc3658fefa1a3ad07ef51bfc0d73b9e699e30ef",
            "1c5e3331239e397d8629955cf859767b5f2ecc4fe12b0197b7af5b6614e58c8ddad494e826994794b656a6429e0ea49b",
            "4ee4d4c6ff7884a40e32e67f93e44b4696e234f3255383a45b555493eef4d3007da890b6d954377adba40577f981b61e",
            "c4fde526f1e7bdd9f89026f17be69b135748753d4ddb5efe4c6284fa73bcd21f7c4d521c461177184b2fe397de5f9a7d",
            "8929e875b0515ca08fb21e1683cbcccbd2aa07798d79643cf3e7d759fefff5dff4fe1a81ee9fa11685735b6278ca451a",
            "61d638e398f59d3765783fc140043a55df8a6a57d638298c62f23e6c35323c0a62fd8f074e600a61bb7b2b01588e6f2e",
            "f3292c67d4513c07c991d2d354322ce59eefa66a824e549cb5a32d3d2a1c7a8bd9bfcd568c3064782e9e8617c24d8b04",
            "10d486429202049018852105bb87455614c9f7a4ee8b373f951401159c5717b396f67b1b5268968cd9d222e626a66353",
            "21c8c0da6ddbf67f7d7e5f929fa6ed4ed9d7fee44a2669556f565800207abcf26ac8b46dcf40915fbbd4a288f47e0b63",
            "412bc8a37ab480db8f0984c2dc68de51afc346cad6955534d93ce79cddfab8ec93087a490cc9fe31eb9c99d09dcd93aa",
        ]));
    }
}
