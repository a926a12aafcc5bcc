//! Holder crate for the trybuild UI tests in `tests/`.
