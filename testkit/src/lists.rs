//! Comparing a loaded list with the expected one, for tests whose lists run to hundreds of items.

use std::fmt::Debug;

/// Compares two lists item by item, naming the first difference instead of dumping both.
#[track_caller]
pub fn assert_same_list<T: PartialEq + Debug>(what: &str, got: &[T], expected: &[T]) {
    if let Some(i) = (0..got.len().min(expected.len())).find(|&i| got[i] != expected[i]) {
        panic!(
            "{what}: item {i} is wrong.\n expected: {:?}\n      got: {:?}",
            expected[i], got[i]
        );
    }
    assert_eq!(
        got.len(),
        expected.len(),
        "{what}: expected {} items, got {} (the first {} match)",
        expected.len(),
        got.len(),
        got.len().min(expected.len())
    );
}
