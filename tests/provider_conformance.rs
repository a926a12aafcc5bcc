//! The provider conformance suite (`duroxide::provider_tests`) run against the sled store,
//! in memory and on disk.

mod in_memory {
    duroxide::provider_conformance_tests!(|| async {
        std::sync::Arc::new(
            duroxide::providers::sled::SledProvider::new_in_memory()
                .await
                .expect("open in-memory store"),
        ) as std::sync::Arc<dyn duroxide::providers::Provider>
    });
}

mod on_disk {
    duroxide::provider_conformance_tests!(|| async {
        // Each test gets its own directory under target/tmp (cleaned by `cargo clean`).
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("temp dir")
            .keep();
        std::sync::Arc::new(
            duroxide::providers::sled::SledProvider::new(dir, None)
                .await
                .expect("open store"),
        ) as std::sync::Arc<dyn duroxide::providers::Provider>
    });
}
