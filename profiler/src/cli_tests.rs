use super::parse_budget;

#[test]
fn budget_is_a_percentage() {
    assert_eq!(parse_budget("2"), Ok(2.0));
    assert_eq!(parse_budget("0.5%"), Ok(0.5));
    assert_eq!(parse_budget("100"), Ok(100.0));
    for bad in ["0", "-1", "101", "two", ""] {
        assert!(parse_budget(bad).is_err(), "{bad:?} accepted");
    }
}
