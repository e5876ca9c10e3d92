//! The table's rows of what a line's data samples saw: samples by access kind, the words each
//! thread touched and wrote, their names, and the code that touched the line.

use std::fmt::Write as _;

use crate::report::{LineReport, Report, ThreadWords};

use super::numbers::thousands;

/// The header line saying where data addresses came from and what became of them; nothing
/// without data-address sampling.
pub fn data_address_header(s: &mut String, report: &Report) {
    let Some(d) = &report.sources.data_addresses else {
        return;
    };
    let what = match report.sources.perf.as_str() {
        "cpu-clock" => "cpu-clock samples decoded at their instruction",
        "pebs-l1-miss" | "ibs-op" => "hardware data addresses",
        "page-faults" => "page-fault addresses from the kernel",
        other => other,
    };
    let _ = writeln!(
        s,
        "data addresses: {what}: {} sample(s) with an address; instructions decoded {}, without \
         a followed access {}, unreadable {}",
        thousands(d.operand_samples + d.address_samples),
        thousands(d.decoded_ips),
        thousands(d.ips_without_access),
        thousands(d.unreadable_ips)
    );
}

/// The rows of `line`'s data samples: nothing where none fell in it.
pub fn data_rows(s: &mut String, line: &LineReport) {
    let Some(data) = &line.data_samples else {
        return;
    };
    let threads = if data.threads_exact {
        data.threads.to_string()
    } else {
        format!("~{}", data.threads)
    };
    let _ = writeln!(
        s,
        "       data samples: {} ({:.1}% of the target's), {}: locked {}, updates {}, stores {}, \
         loads {}; {threads} thread(s) on {} CPU(s)",
        thousands(data.samples),
        100.0 * data.share,
        data.sharing.as_str(),
        thousands(data.locked),
        thousands(data.updates),
        thousands(data.stores),
        thousands(data.loads),
        data.cpus
    );
    if !data.names.is_empty() {
        let names: Vec<String> = data
            .names
            .iter()
            .map(|n| format!("{} {}", n.word, n.name))
            .collect();
        let _ = writeln!(s, "       words hold: {}", names.join(", "));
    }
    if !data.words.is_empty() {
        let words: Vec<String> = data.words.iter().map(words_text).collect();
        let _ = writeln!(s, "       words by thread: {}", words.join(" | "));
    }
    for site in &data.accesses {
        let f = &site.frame;
        let at = match (&f.file, f.line) {
            (Some(file), Some(n)) => format!("{file}:{n}"),
            (Some(file), None) => file.clone(),
            _ => "?".to_owned(),
        };
        let object = site
            .object
            .as_ref()
            .map_or(String::new(), |o| format!("  ({o})"));
        let _ = writeln!(
            s,
            "       {:>8}  {}  {at}{object}",
            thousands(site.samples),
            f.function
        );
    }
}

/// One thread's words: those written, then those only read in parentheses.
fn words_text(t: &ThreadWords) -> String {
    let list = |w: &[u8]| {
        w.iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let read: Vec<u8> = t
        .touched
        .iter()
        .copied()
        .filter(|w| !t.written.contains(w))
        .collect();
    match (t.written.is_empty(), read.is_empty()) {
        (false, true) => format!("wrote {}", list(&t.written)),
        (true, false) => format!("read {}", list(&read)),
        _ => format!("wrote {} read {}", list(&t.written), list(&read)),
    }
}
