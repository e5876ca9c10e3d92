use super::*;
use crate::symbolize::Frame;

fn loc(addr: u64, function: &str) -> StackLocation {
    StackLocation {
        addr: crate::report::hex(addr),
        lines: vec![Frame {
            function: function.to_owned(),
            file: None,
            line: None,
        }],
    }
}

#[test]
fn stacks_rank_by_samples_then_frames_and_keep_the_top() {
    let mut by_frames = HashMap::new();
    by_frames.insert(vec![loc(1, "main.main"), loc(2, "main.a")], 3);
    by_frames.insert(vec![loc(1, "main.main"), loc(3, "main.b")], 7);
    by_frames.insert(vec![loc(1, "main.main"), loc(4, "main.c")], 3);
    let by_samples = ranked(by_frames);
    let leaves: Vec<(&str, u64)> = by_samples
        .iter()
        .map(|s| (s.frames[1].lines[0].function.as_str(), s.samples))
        .collect();
    assert_eq!(leaves, [("main.b", 7), ("main.a", 3), ("main.c", 3)]);

    let many: HashMap<Vec<StackLocation>, u64> = (0..100u64)
        .map(|i| (vec![loc(i, "main.f")], i + 1))
        .collect();
    let kept = ranked(many);
    assert_eq!(kept.len(), TOP_STACKS);
    assert_eq!(kept[0].samples, 100);
    assert_eq!(kept[TOP_STACKS - 1].samples, 100 - TOP_STACKS as u64 + 1);
}

#[test]
fn stacks_of_lines_not_reported_or_not_stored_are_left_out() {
    let raw: HashMap<u32, Vec<u64>> = [(5, vec![0x401001, 0x402002])].into();
    let xol = HashMap::new();
    let mut targets = Vec::new();
    let mut stacks = Stacks::new(&raw, &xol, &mut targets);
    let line = LineKey {
        pid: 42,
        _pad: 0,
        line: 0xc000_0040,
    };
    let reported = (line, SampledLine::default());
    let key = |stack_id, line| LineStackKey {
        pid: 42,
        stack_id,
        line,
    };
    // Stack 5 of the reported line, in a process that cannot be symbolized; stack 6 not stored;
    // a line not reported.
    let line_stacks = [
        (key(5, 0xc000_0040), 4),
        (key(6, 0xc000_0040), 2),
        (key(5, 0xc000_0080), 9),
    ];
    let out = stacks_by_line(&line_stacks, &mut stacks, &[&reported]);
    assert!(out.is_empty(), "nothing could be symbolized: {out:?}");
}
