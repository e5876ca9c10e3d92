use super::*;

/// Registers holding `0x1000 × (perf number + 1)`, the IP `0x40_0000`.
fn regs(r: AddrReg) -> u64 {
    match r {
        AddrReg::Ip => 0x40_0000,
        r => 0x1000 * (r as u64 + 1),
    }
}

#[test]
fn the_address_adds_base_scaled_index_and_displacement() {
    let op = DataOperand {
        base: AddrReg::Rbx as u8,
        index: AddrReg::R9 as u8,
        scale: 8,
        disp: -16,
        ..DataOperand::default()
    };
    assert_eq!(op.address(regs), 0x2000 + 8 * 0x12000 - 16);
}

#[test]
fn a_missing_register_counts_as_zero() {
    let op = DataOperand {
        base: NO_REG,
        index: NO_REG,
        scale: 1,
        disp: 0x5000,
        ..DataOperand::default()
    };
    assert_eq!(op.address(regs), 0x5000);
}

#[test]
fn an_ip_relative_operand_counts_from_the_sampled_ip() {
    let op = DataOperand {
        base: AddrReg::Ip as u8,
        index: NO_REG,
        scale: 1,
        disp: 0x1234,
        ..DataOperand::default()
    };
    assert_eq!(op.address(regs), 0x40_1234);
}

#[test]
fn addresses_wrap_instead_of_overflowing() {
    let op = DataOperand {
        base: AddrReg::Rax as u8,
        index: NO_REG,
        scale: 1,
        disp: -0x2000,
        ..DataOperand::default()
    };
    assert_eq!(op.address(regs), 0u64.wrapping_sub(0x1000));
}

#[test]
fn every_register_round_trips_through_its_perf_number() {
    for r in AddrReg::ALL {
        assert_eq!(AddrReg::from_perf(r as u8), Some(r), "{r:?}");
    }
    for n in [9u8, 10, 15, 24, NO_REG] {
        assert_eq!(AddrReg::from_perf(n), None, "perf register {n}");
    }
}

#[test]
fn only_loads_leave_the_line_where_it_is() {
    for (n, kind, writes) in [
        (1, DataAccessKind::Load, false),
        (2, DataAccessKind::Store, true),
        (3, DataAccessKind::Update, true),
        (4, DataAccessKind::Locked, true),
    ] {
        assert_eq!(DataAccessKind::from_u8(n), Some(kind));
        assert_eq!(kind.writes(), writes, "{kind:?}");
    }
    assert_eq!(DataAccessKind::from_u8(0), None);
}
