//! Procedural macros for duroxide (filled in by the macros issue).
