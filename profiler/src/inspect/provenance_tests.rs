use super::*;

/// Where the test functions start.
const FUNC: u64 = 0x40_1000;
/// `mov 0x100(%rip),%rcx`: 7 bytes, loads the global at FUNC + 7 + 0x100.
const LOAD_RCX: &[u8] = &[0x48, 0x8b, 0x0d, 0x00, 0x01, 0x00, 0x00];
const GLOBAL: u64 = FUNC + 7 + 0x100;
/// `mov 0x18(%rcx),%rdx`.
const ACCESS: &[u8] = &[0x48, 0x8b, 0x51, 0x18];
const RET: &[u8] = &[0xc3];

/// The global behind `%rcx` at the access placed after `between`.
fn at_access(between: &[u8]) -> Option<u64> {
    let code = [LOAD_RCX, between, ACCESS, RET].concat();
    let access = FUNC + (LOAD_RCX.len() + between.len()) as u64;
    loaded_from_global(&code, FUNC, access, AddrReg::Rcx)
}

#[test]
fn a_register_loaded_from_a_global_holds_it_at_the_access() {
    assert_eq!(at_access(&[]), Some(GLOBAL));
    // Another register written between does not matter: `mov $1,%eax`.
    assert_eq!(at_access(&[0xb8, 0x01, 0x00, 0x00, 0x00]), Some(GLOBAL));
}

#[test]
fn a_write_a_call_or_a_jump_target_between_loses_the_global() {
    // `add $8,%rcx`: the register now holds something else.
    assert_eq!(at_access(&[0x48, 0x83, 0xc1, 0x08]), None);
    // `mov $1,%ecx`: a write to part of it clears all of it.
    assert_eq!(at_access(&[0xb9, 0x01, 0x00, 0x00, 0x00]), None);
    // `call` (to the next instruction): no register survives a call in Go's ABI.
    assert_eq!(at_access(&[0xe8, 0x00, 0x00, 0x00, 0x00]), None);
    // `jmp` to the access: another path may reach it with another value.
    assert_eq!(at_access(&[0xeb, 0x00]), None);
}

#[test]
fn other_registers_the_instruction_pointer_and_addresses_elsewhere_have_none() {
    let code = [LOAD_RCX, ACCESS, RET].concat();
    assert_eq!(
        loaded_from_global(&code, FUNC, FUNC + 7, AddrReg::Rdx),
        None
    );
    assert_eq!(loaded_from_global(&code, FUNC, FUNC + 7, AddrReg::Ip), None);
    // Inside an instruction, or past the function.
    assert_eq!(
        loaded_from_global(&code, FUNC, FUNC + 8, AddrReg::Rcx),
        None
    );
    assert_eq!(
        loaded_from_global(&code, FUNC, FUNC + 99, AddrReg::Rcx),
        None
    );
    // A 4-byte load is no pointer: `mov 0x100(%rip),%ecx`.
    let narrow = [&[0x8b, 0x0d, 0x00, 0x01, 0x00, 0x00][..], ACCESS, RET].concat();
    assert_eq!(
        loaded_from_global(&narrow, FUNC, FUNC + 6, AddrReg::Rcx),
        None
    );
}
