//! Detects whether `proc_macro::Span::local_file` is available (Rust 1.88+). With it, the
//! determinism lints resolve `use` aliases declared anywhere in the annotated fn's module;
//! without it, only `use` items inside the fn body are seen (plus the last-two-segments
//! fallback), so a few aliased calls go unreported: never a false positive.

use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(duroxide_local_file)");
    println!("cargo::rerun-if-changed=build.rs");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let minor = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|version| {
            // "rustc 1.95.0 (...)"
            let number = version.split_whitespace().nth(1)?;
            number.split('.').nth(1)?.parse::<u32>().ok()
        });
    if minor.is_some_and(|minor| minor >= 88) {
        println!("cargo::rustc-cfg=duroxide_local_file");
    }
}
