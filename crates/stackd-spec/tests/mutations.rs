//! Property test of the loader on seeded mutations of the production file:
//! it never panics, and every rejection carries a position inside the file.
//!
//! A bounded hand-rolled generator replaces proptest, which is not a
//! dependency of the workspace. `STACKD_MUTATION_CASES` sets the number of
//! cases (default 1,000) and a failure names the case's seed.

use std::panic;
use std::path::Path;

/// Default number of mutated files.
const DEFAULT_CASES: u64 = 1_000;

/// Fragments inserted by the mutations: YAML syntax, odd scalars and
/// multi-byte characters.
const FRAGMENTS: &[&str] = &[
    ":",
    "- ",
    "\n",
    "  ",
    "{",
    "}",
    "[",
    "]",
    "\"",
    "'",
    "&anchor ",
    "*anchor",
    "!!int ",
    "!!binary ",
    "99999999999999999999999",
    "-1",
    "null",
    "~",
    "\t",
    "é",
    "#",
    "? ",
    "|\n",
    ">-\n",
    "0x1F",
    "1e400",
    "10.0.0.0/33",
    "<<: *anchor\n",
    "---\n",
    "...\n",
    "\u{feff}",
    "%YAML 1.2\n",
];

/// SplitMix64, enough to spread mutations over the file.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }
}

/// Applies one to three seeded edits to `text`, on character boundaries.
fn mutate(text: &str, seed: u64) -> String {
    let mut random = SplitMix(seed);
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..=random.below(3) {
        let at = random.below(chars.len() + 1);
        match random.below(6) {
            0 => {
                let end = (at + 1 + random.below(40)).min(chars.len());
                chars.drain(at.min(end)..end);
            }
            1 => {
                let fragment = FRAGMENTS[random.below(FRAGMENTS.len())];
                chars.splice(at..at, fragment.chars());
            }
            2 => chars.truncate(at),
            _ => {
                let mut lines: Vec<String> = chars
                    .iter()
                    .collect::<String>()
                    .lines()
                    .map(str::to_owned)
                    .collect();
                if lines.is_empty() {
                    continue;
                }
                let line = random.below(lines.len());
                match random.below(3) {
                    0 => {
                        let copy = lines[line].clone();
                        lines.insert(line, copy);
                    }
                    1 => {
                        let other = random.below(lines.len());
                        lines.swap(line, other);
                    }
                    _ => lines[line].insert_str(0, "  "),
                }
                chars = lines.join("\n").chars().collect();
            }
        }
    }
    chars.into_iter().collect()
}

#[test]
fn mutated_files_never_panic_and_errors_have_positions() {
    let production =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/beezyup-prod-c01.yaml");
    let text = std::fs::read_to_string(production).expect("the production file is readable");
    stackd_spec::load(&text, "fuzz.yaml").expect("the unmutated production file loads");

    let cases = std::env::var("STACKD_MUTATION_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let mut rejected = 0;
    for seed in 0..cases {
        let mutated = mutate(&text, seed);
        let line_count = mutated.lines().count().max(1);
        let result = panic::catch_unwind(|| stackd_spec::load(&mutated, "fuzz.yaml"));
        let Ok(result) = result else {
            panic!("seed {seed}: the loader panicked on:\n{mutated}");
        };
        let Err(error) = result else { continue };
        rejected += 1;
        assert!(
            error.errors().next().is_some(),
            "seed {seed}: a rejection without an error"
        );
        for diagnostic in &error.diagnostics {
            assert_eq!(diagnostic.file, "fuzz.yaml", "seed {seed}: {diagnostic}");
            assert!(diagnostic.line >= 1, "seed {seed}: line 0 in {diagnostic}");
            assert!(
                diagnostic.column >= 1,
                "seed {seed}: column 0 in {diagnostic}"
            );
            assert!(
                diagnostic.line <= line_count + 1,
                "seed {seed}: line {} past the end ({line_count} lines) in {diagnostic}",
                diagnostic.line
            );
        }
    }
    // Most mutations break the file; a generator that broke none tests nothing.
    assert!(
        rejected > cases / 4,
        "only {rejected} of {cases} mutated files were rejected"
    );
}
