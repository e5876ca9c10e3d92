//! The failures of a `cargo test` run, each with the lines that say why, gathered from its
//! output as it streams by: printed again at the end of `cargo xtask test`, where a long log's
//! tail is read first.

/// Most lines kept of one failure's output (the test's own lines and its panic message).
const LINES_PER_FAILURE: usize = 8;
/// Most characters kept of one line.
const LINE_CHARS: usize = 600;

/// One failed test and what its output said.
#[derive(Debug, Default, PartialEq)]
pub struct Failure {
    pub name: String,
    pub lines: Vec<String>,
}

/// Reads a `cargo test` output line by line.
#[derive(Debug, Default)]
pub struct Digest {
    failures: Vec<Failure>,
    /// Inside a `---- name stdout ----` section.
    open: bool,
}

impl Digest {
    /// Takes one line of the test output.
    pub fn line(&mut self, line: &str) {
        if let Some(name) = section_name(line) {
            self.failures.push(Failure {
                name: name.to_owned(),
                lines: Vec::new(),
            });
            self.open = true;
            return;
        }
        if !self.open {
            return;
        }
        // The backtrace, the section list and the summary end a section.
        let trimmed = line.trim();
        if trimmed.starts_with("stack backtrace:") || trimmed == "failures:" {
            self.open = false;
            return;
        }
        let Some(failure) = self.failures.last_mut() else {
            return;
        };
        if !trimmed.is_empty() && failure.lines.len() < LINES_PER_FAILURE {
            failure
                .lines
                .push(trimmed.chars().take(LINE_CHARS).collect());
        }
    }

    /// The failures seen, in the order they were reported.
    #[cfg(test)]
    pub fn failures(&self) -> &[Failure] {
        &self.failures
    }

    /// The digest as printed: nothing when no test failed.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if self.failures.is_empty() {
            return out;
        }
        out.push_str(&format!(
            "failed tests ({}), and why:\n",
            self.failures.len()
        ));
        for f in &self.failures {
            out.push_str(&format!("* {}\n", f.name));
            for l in &f.lines {
                out.push_str(&format!("    {l}\n"));
            }
        }
        out
    }
}

/// `name` of a `---- name stdout ----` line.
fn section_name(line: &str) -> Option<&str> {
    line.trim()
        .strip_prefix("---- ")?
        .strip_suffix(" stdout ----")
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "\
test a::passes ... ok
test a::fails ... FAILED

failures:

---- a::fails stdout ----
8000 rounds: truth 10 estimate 5

thread 'a::fails' (1) panicked at tests/a.rs:3:9:
est 5 is off
stack backtrace:
   0: rust_begin_unwind
---- b::also stdout ----
thread 'b::also' panicked at tests/b.rs:1:1:
no samples

failures:
    a::fails
    b::also

test result: FAILED. 1 passed; 2 failed
";

    #[test]
    fn failures_keep_their_own_lines_and_drop_the_backtrace() {
        let mut d = Digest::default();
        OUTPUT.lines().for_each(|l| d.line(l));
        let got = d.failures();
        assert_eq!(got.len(), 2, "two sections: {got:?}");
        assert_eq!(got[0].name, "a::fails");
        assert_eq!(
            got[0].lines,
            [
                "8000 rounds: truth 10 estimate 5",
                "thread 'a::fails' (1) panicked at tests/a.rs:3:9:",
                "est 5 is off"
            ]
        );
        assert_eq!(got[1].name, "b::also");
        assert_eq!(got[1].lines.last().map(String::as_str), Some("no samples"));
        assert!(d
            .render()
            .starts_with("failed tests (2), and why:\n* a::fails\n"));
    }

    #[test]
    fn a_passing_run_has_no_digest() {
        let mut d = Digest::default();
        "test a ... ok\ntest result: ok. 1 passed"
            .lines()
            .for_each(|l| d.line(l));
        assert!(d.failures().is_empty());
        assert_eq!(d.render(), "");
    }
}
