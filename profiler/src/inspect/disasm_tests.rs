use super::*;

/// `push rbp; mov rbp,rsp; mov eax,0xc3c3c3c3; cmp rax,0xc3; jne +1; ret; add rsp,0xc3;
/// pop rbp; ret 8; int3; int3` — RET bytes hide in immediates, only two real RETs.
const CODE: &[u8] = &[
    0x55, // push rbp                       @0
    0x48, 0x89, 0xe5, // mov rbp, rsp       @1
    0xb8, 0xc3, 0xc3, 0xc3, 0xc3, // mov eax, 0xc3c3c3c3  @4
    0x48, 0x3d, 0xc3, 0x00, 0x00, 0x00, // cmp rax, 0xc3  @9
    0x75, 0x01, // jne +1                   @15
    0xc3, // ret                            @17
    0x48, 0x81, 0xc4, 0xc3, 0x00, 0x00, 0x00, // add rsp, 0xc3 @18
    0x5d, // pop rbp                        @25
    0xc2, 0x08, 0x00, // ret 8              @26
    0xcc, 0xcc, // int3 padding             @29
];

#[test]
fn finds_only_real_rets() {
    let base = 0x40_1000;
    let rets = ret_addresses(CODE, base).unwrap();
    assert_eq!(rets, vec![base + 17, base + 26]);
    // The 0xC3 bytes inside immediates are there, and not reported.
    let c3 = CODE.iter().filter(|&&b| b == 0xc3).count();
    assert_eq!(c3, 7);
}

#[test]
fn far_return_and_empty_code() {
    // retf (CB) is not a near return.
    assert_eq!(ret_addresses(&[0xcb, 0xc3], 0).unwrap(), vec![1]);
    assert_eq!(ret_addresses(&[], 0x10).unwrap(), Vec::<u64>::new());
    // `rep ret` (F3 C3, old GCC idiom): the instruction starts at the prefix.
    assert_eq!(ret_addresses(&[0x90, 0xf3, 0xc3], 0).unwrap(), vec![1]);
}

#[test]
fn bad_code_is_an_error() {
    // mov eax, imm32 cut after two immediate bytes.
    assert_eq!(
        ret_addresses(&[0xc3, 0xb8, 0x01, 0x02], 0x100),
        Err(SweepError::Truncated { vaddr: 0x101 })
    );
    // 0x06 (push es) is invalid in 64-bit mode.
    assert_eq!(
        ret_addresses(&[0x90, 0x06, 0xc3], 0x200),
        Err(SweepError::Invalid { vaddr: 0x201 })
    );
    let msg = SweepError::Invalid { vaddr: 0x201 }.to_string();
    assert!(!msg.contains('\n') && msg.contains('('), "{msg}");
}

#[test]
fn direct_calls_are_found_with_their_targets() {
    // call +0x10 @0 (target 0x15); call rax @5 (indirect, not reported); E8 bytes in an
    // immediate @7; call -0x0c @12 (target 0x05); ret @17.
    let code: &[u8] = &[
        0xe8, 0x10, 0x00, 0x00, 0x00, // call rel32 +0x10 @0
        0xff, 0xd0, // call rax @5
        0xb8, 0xe8, 0xe8, 0xe8, 0xe8, // mov eax, 0xe8e8e8e8 @7
        0xe8, 0xf4, 0xff, 0xff, 0xff, // call rel32 -0x0c @12
        0xc3, // ret @17
    ];
    assert_eq!(call_targets(code, 0).unwrap(), vec![0x15, 0x05]);
    assert_eq!(call_targets(code, 0x1000).unwrap(), vec![0x1015, 0x1005]);
    assert!(call_targets(&[0xe8, 0x00], 0).is_err(), "a truncated call");
}
