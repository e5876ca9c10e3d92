//! `cargo xtask soak`: Go standard-library packages' own test suites, alone and under
//! `clprof record --budget 100 -- TEST` (every map probe always on, watchpoints on the top
//! lines), with Go 1.27 and Go 1.19. A table of package, Go, the result of each run (`PASS` and
//! the same `--- PASS/FAIL/SKIP` lines under clprof as alone), probe hits and the slowdown; it
//! is written to BENCHMARKS.md's soak section (below the notes marker, which `cargo xtask bench`
//! keeps). It fails when a package's tests pass alone and not under clprof.

use std::{
    collections::BTreeSet,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{bail, Context as _, Result};

use crate::{bootstrap, build, util};

/// Map-heavy standard-library packages whose tests pass here without network.
pub const PACKAGES: [&str; 12] = [
    "encoding/json",
    "text/template",
    "html/template",
    "net/url",
    "expvar",
    "sort",
    "container/list",
    "regexp",
    "strings",
    "go/parser",
    "encoding/xml",
    "mime",
];

const FLAGS: [&str; 2] = ["-test.count=1", "-test.v"];
const SOAK_BEGIN: &str = "<!-- soak: written by cargo xtask soak -->";
const SOAK_END: &str = "<!-- /soak -->";

/// One package's two runs.
struct Row {
    package: String,
    go: String,
    alone: Outcome,
    under: Outcome,
    probe_hits: Option<u64>,
    watch_hits: Option<u64>,
    /// Maps in the report (their writes were seen even where `probe_hits` was never read).
    maps: usize,
}

struct Outcome {
    passed: bool,
    results: BTreeSet<String>,
    secs: f64,
}

/// The `--- PASS/FAIL/SKIP: name` lines of `-test.v` output, without timings.
fn results(stdout: &str) -> BTreeSet<String> {
    stdout
        .lines()
        .map(str::trim_start)
        .filter(|l| {
            ["--- PASS: ", "--- FAIL: ", "--- SKIP: "]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .map(|l| l.rfind(" (").map_or(l, |i| &l[..i]).to_owned())
        .collect()
}

fn run_test(mut cmd: Command, log: &Path) -> Result<Outcome> {
    let start = Instant::now();
    let out = cmd.output().with_context(|| util::describe(&cmd))?;
    let secs = start.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    fs::write(
        log,
        format!(
            "{stdout}\n--- stderr ---\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
    )?;
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty());
    Ok(Outcome {
        passed: out.status.success() && last == Some("PASS"),
        results: results(&stdout),
        secs,
    })
}

fn goroot(go: &Path) -> Result<PathBuf> {
    let out = util::output(
        Command::new(go)
            .args(["env", "GOROOT"])
            .env("GOTOOLCHAIN", "local"),
    )?;
    Ok(PathBuf::from(out.trim()))
}

fn build_test(go: &Path, pkg: &str, dir: &Path) -> Result<PathBuf> {
    let out = dir.join(format!("{}.test", pkg.replace('/', "_")));
    util::run(
        Command::new(go)
            .args(["test", "-c", "-o"])
            .arg(&out)
            .arg(pkg)
            .env("GOCACHE", dir.join("gocache"))
            .env("GOPROXY", "off")
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "")
            .env("CGO_ENABLED", "0"),
    )?;
    Ok(out)
}

fn soak_one(clprof: &Path, go: &Path, version: &str, pkg: &str, dir: &Path) -> Result<Row> {
    let test = build_test(go, pkg, dir)?;
    let pkg_dir = goroot(go)?.join("src").join(pkg);
    let name = pkg.replace('/', "_");
    let mut alone = Command::new(&test);
    alone.args(FLAGS).current_dir(&pkg_dir);
    let alone = run_test(alone, &dir.join(format!("{name}.alone.log")))?;
    let report = dir.join(format!("{name}.json"));
    let mut under = Command::new(clprof);
    under
        .args(["record", "--quiet", "--budget", "100", "--duration", "10m"])
        .args(["--format", "json", "-o"])
        .arg(&report)
        .arg("--")
        .arg(&test)
        .args(FLAGS)
        .current_dir(&pkg_dir);
    let under = run_test(under, &dir.join(format!("{name}.clprof.log")))?;
    let json: Option<serde_json::Value> = fs::read(&report)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let target = json.as_ref().map(|j| &j["targets"][0]);
    Ok(Row {
        package: pkg.to_owned(),
        go: version.to_owned(),
        alone,
        under,
        probe_hits: target.and_then(|t| t["probe_hits"].as_u64()),
        watch_hits: target.and_then(|t| t["watch_hits"].as_u64()),
        maps: json
            .as_ref()
            .and_then(|j| j["maps"].as_array())
            .map_or(0, Vec::len),
    })
}

fn verdict(r: &Row) -> &'static str {
    match (r.alone.passed, r.under.passed) {
        (false, _) => "fails alone",
        (true, false) => "FAILS under clprof",
        (true, true) if r.alone.results != r.under.results => "DIFFERENT results",
        (true, true) if r.probe_hits.unwrap_or(0) == 0 && r.maps == 0 => "no map writes seen",
        _ => "same",
    }
}

fn table(rows: &[Row], clprof: &Path) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "`cargo xtask soak`: each package's `go test -c` binary run with `{}` in its source \
         folder, alone and under `clprof record --budget 100 --duration 10m -- TEST` (every map \
         probe always on, `--watch auto`); clprof: `{}`.\n",
        FLAGS.join(" "),
        util::rel(clprof)
    );
    s.push_str("| package | Go | alone | under clprof | tests | probe hits | maps | watch hits | alone s | clprof s | slowdown |\n");
    s.push_str("|---|---|---|---|---|---:|---:|---:|---:|---:|---:|\n");
    let pass = |o: &Outcome| if o.passed { "PASS" } else { "FAIL" };
    let num = |n: Option<u64>| n.map_or("-".to_owned(), |n| n.to_string());
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} ({}) | {} | {} | {} | {} | {:.2} | {:.2} | {:.0}x |",
            r.package,
            r.go,
            pass(&r.alone),
            pass(&r.under),
            verdict(r),
            r.alone.results.len(),
            num(r.probe_hits),
            r.maps,
            num(r.watch_hits),
            r.alone.secs,
            r.under.secs,
            r.under.secs / r.alone.secs.max(0.001)
        );
    }
    s
}

/// Puts `table` in BENCHMARKS.md between the soak markers, or at the end (below the notes
/// marker, which `cargo xtask bench` keeps) when there is no soak section yet.
fn write_benchmarks(table: &str) -> Result<()> {
    let path = util::repo_root().join("BENCHMARKS.md");
    let md = fs::read_to_string(&path).unwrap_or_default();
    let section = format!("{SOAK_BEGIN}\n**Targets unharmed (soak).** {table}{SOAK_END}\n");
    let md = match (md.find(SOAK_BEGIN), md.find(SOAK_END)) {
        (Some(b), Some(e)) if e > b => {
            format!(
                "{}{section}{}",
                &md[..b],
                md[e + SOAK_END.len()..].trim_start_matches('\n')
            )
        }
        _ => format!("{}\n\n{section}", md.trim_end()),
    };
    fs::write(&path, md).with_context(|| format!("writing {}", path.display()))
}

pub fn soak(packages: &[String], clprof: Option<PathBuf>, write: bool) -> Result<()> {
    if !util::is_root()? {
        bail!("cargo xtask soak must run as root: clprof loads eBPF");
    }
    let tools = bootstrap::setup()?;
    let clprof = match clprof {
        // Absolute: the tests run in their package's folder.
        Some(p) => fs::canonicalize(&p).with_context(|| format!("--clprof {}", p.display()))?,
        None => build::release_clprof()?,
    };
    let packages: Vec<String> = if packages.is_empty() {
        PACKAGES.iter().map(|p| p.to_string()).collect()
    } else {
        packages.to_vec()
    };
    let dir = util::target_dir().join("soak");
    let mut rows = Vec::new();
    for (go, label) in [(&tools.go_new, "1.27"), (&tools.go_old, "1.19")] {
        let gdir = dir.join(label);
        fs::create_dir_all(&gdir)?;
        for pkg in &packages {
            println!("soak: {pkg} (Go {label})...");
            let row = soak_one(&clprof, go, label, pkg, &gdir)?;
            println!(
                "  {} ({:.1}s alone, {:.1}s under clprof)",
                verdict(&row),
                row.alone.secs,
                row.under.secs
            );
            rows.push(row);
        }
    }
    let table = table(&rows, &clprof);
    println!("\n{table}\nlogs and reports: {}", util::rel(&dir));
    if write {
        write_benchmarks(&table)?;
        println!("wrote the soak section of BENCHMARKS.md");
    }
    let harmed: Vec<String> = rows
        .iter()
        .filter(|r| r.alone.passed && verdict(r) != "same")
        .map(|r| format!("{} (Go {}): {}", r.package, r.go, verdict(r)))
        .collect();
    if !harmed.is_empty() {
        bail!("harmed under clprof: {}", harmed.join("; "));
    }
    Ok(())
}
