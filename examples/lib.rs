//! Holder crate for the runnable examples in this folder; it has no code of its own.
