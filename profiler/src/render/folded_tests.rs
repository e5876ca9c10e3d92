use super::*;

#[test]
fn apportion_is_exact_and_proportional() {
    assert_eq!(apportion(10, &[1, 1]), vec![5, 5]);
    assert_eq!(apportion(10, &[1, 2]), vec![3, 7]);
    assert_eq!(apportion(7, &[1, 1, 1]).iter().sum::<u64>(), 7);
    assert_eq!(apportion(0, &[3, 4]), vec![0, 0]);
    assert_eq!(apportion(5, &[0, 0]), vec![0, 0]);
}
