use super::*;

#[test]
fn member_offset_forms() {
    assert_eq!(member_offset(AttributeValue::Udata(34)), Some(34));
    assert_eq!(member_offset(AttributeValue::Data1(8)), Some(8));
    let expr = [gimli::DW_OP_plus_uconst.0, 0x96, 0x01];
    let v = AttributeValue::Exprloc(gimli::Expression(EndianSlice::new(
        &expr,
        RunTimeEndian::Little,
    )));
    assert_eq!(member_offset(v), Some(150));
    let bad = [gimli::DW_OP_lit0.0];
    let v = AttributeValue::Exprloc(gimli::Expression(EndianSlice::new(
        &bad,
        RunTimeEndian::Little,
    )));
    assert_eq!(member_offset(v), None);
}
