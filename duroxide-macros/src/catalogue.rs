//! The determinism catalogue, as data: one entry per lint id of `docs/determinism.md`.
//!
//! To extend it, add a pattern to an entry (or an entry). Pattern kinds, matched against a
//! path after `use` aliases are resolved (see [`crate::paths`]):
//!
//! - `Path("std::time::SystemTime::now")`: the resolved path starts with these segments, or
//!   contains the last two of them (`SystemTime::now`), which catches glob imports, re-exports
//!   and crates we do not know by name. Paths into the user's own crate never match.
//! - `Exact("tokio::sync::Mutex")`: only the resolved path, no two-segment fallback (for names
//!   that are harmless in `std`, like `Mutex::new`).
//! - `Crate("reqwest")`: anything in that crate (a path of two or more segments).
//! - `Name("from_entropy")`: a distinctive last segment, in any path of two or more segments
//!   or a name imported with `use`.
//! - `Macro(..)`/`Prelude(..)`: a macro path (`Prelude` also matches the bare name, as
//!   `println!` is in the prelude); `Method(..)`: a method-call name.
//!
//! D8 (hash-ordered iteration) and D14 (direct calls) are not path patterns: D8 lives in
//! [`crate::lints`], D14 is enforced by the generated code.

/// A path shape that breaks determinism.
#[derive(Debug, Clone, Copy)]
pub enum Pattern {
    Path(&'static str),
    Exact(&'static str),
    Crate(&'static str),
    Name(&'static str),
    Macro(&'static str),
    Prelude(&'static str),
    Method(&'static str),
}

/// One lint of the catalogue.
#[derive(Debug)]
pub struct Lint {
    /// The stable id, `D1`..`D13`.
    pub id: &'static str,
    /// The greppable name, usable in `allow(..)` instead of the id.
    pub slug: &'static str,
    /// What the flagged code does, after the code: "`SystemTime::now()` {does}".
    pub does: &'static str,
    /// Why that breaks replay, after "`checkout` is replayed from history, so it ".
    pub breaks: &'static str,
    /// The durable replacement; `{ctx}` is the context parameter's name.
    pub help: &'static str,
    pub patterns: &'static [Pattern],
}

use Pattern::{Crate, Exact, Macro, Method, Name, Path, Prelude};

pub static CATALOGUE: &[Lint] = &[
    Lint {
        id: "D1",
        slug: "wall_clock",
        does: "reads the host clock",
        breaks: "would see a different time on every replay",
        help: "use `{ctx}.utc_now()`: the time recorded in history, the same on every replay",
        patterns: &[
            Path("std::time::SystemTime::now"),
            Path("std::time::Instant::now"),
            Path("tokio::time::Instant::now"),
            Path("chrono::Utc::now"),
            Path("chrono::Local::now"),
            Path("chrono::Utc::today"),
            Path("chrono::Local::today"),
            Path("time::OffsetDateTime::now_utc"),
            Path("time::OffsetDateTime::now_local"),
            Path("time::UtcDateTime::now"),
            Path("jiff::Timestamp::now"),
            Path("jiff::Zoned::now"),
        ],
    },
    Lint {
        id: "D2",
        slug: "host_timer",
        does: "waits on a host timer",
        breaks: "would wait again on every replay, and a restart forgets the timer",
        help: "use `{ctx}.schedule_timer(duration).await` (a durable timer); for a timeout, race the work against it with `{ctx}.select2(work, {ctx}.schedule_timer(limit))`",
        patterns: &[
            Path("std::thread::sleep"),
            Path("std::thread::sleep_ms"),
            Path("std::thread::park_timeout"),
            Path("tokio::time::sleep"),
            Path("tokio::time::sleep_until"),
            Path("tokio::time::interval"),
            Path("tokio::time::interval_at"),
            Path("tokio::time::timeout"),
            Path("tokio::time::timeout_at"),
            Path("async_std::task::sleep"),
            Path("async_std::future::timeout"),
            Path("futures_timer::Delay::new"),
            Path("smol::Timer::after"),
        ],
    },
    Lint {
        id: "D3",
        slug: "randomness",
        does: "draws host randomness",
        breaks: "would draw different values on every replay",
        help: "derive values from `{ctx}.new_guid()` (deterministic per instance), or draw them in an activity so the result is recorded",
        patterns: &[
            Path("rand::random"),
            Path("rand::random_range"),
            Path("rand::random_bool"),
            Path("rand::random_iter"),
            Path("rand::random_ratio"),
            Path("rand::thread_rng"),
            Path("rand::rng"),
            Path("rand::rngs::OsRng"),
            Path("rand::rngs::ThreadRng"),
            Path("rand_core::OsRng"),
            Name("from_entropy"),
            Name("from_os_rng"),
            Name("thread_rng"),
            Crate("getrandom"),
            Crate("fastrand"),
            Path("std::collections::hash_map::RandomState::new"),
            Path("std::hash::RandomState::new"),
        ],
    },
    Lint {
        id: "D4",
        slug: "random_id",
        does: "makes a random or time-based id",
        breaks: "would make a different id on every replay",
        help: "use `{ctx}.new_guid()`: a UUID derived from the instance, the same on every replay (name-based `Uuid::new_v5` is fine too)",
        patterns: &[
            Path("uuid::Uuid::new_v4"),
            Path("uuid::Uuid::now_v1"),
            Path("uuid::Uuid::now_v6"),
            Path("uuid::Uuid::now_v7"),
            Path("ulid::Ulid::new"),
            Path("ulid::Ulid::generate"),
        ],
    },
    Lint {
        id: "D5",
        slug: "spawn_or_block",
        does: "spawns a task or thread, or blocks the executor",
        breaks: "would start that work again on every replay, and nothing of it is recorded",
        help: "run work concurrently with `{ctx}.join(..)` / `{ctx}.select2(..)` over durable futures, or move it into an activity or a sub-orchestration",
        patterns: &[
            Path("std::thread::spawn"),
            Path("std::thread::scope"),
            Exact("std::thread::Builder"),
            Path("std::thread::park"),
            Path("tokio::spawn"),
            Path("tokio::task::spawn"),
            Path("tokio::task::spawn_local"),
            Path("tokio::task::spawn_blocking"),
            Path("tokio::task::block_in_place"),
            Name("spawn_blocking"),
            Name("block_in_place"),
            Exact("tokio::task::JoinSet"),
            Exact("tokio::runtime"),
            Path("futures::executor::block_on"),
            Exact("futures::executor"),
            Path("async_std::task::spawn"),
            Path("async_std::task::block_on"),
            Path("smol::spawn"),
            Path("smol::block_on"),
            Crate("rayon"),
            Method("block_on"),
            Method("par_iter"),
            Method("par_iter_mut"),
            Method("into_par_iter"),
        ],
    },
    Lint {
        id: "D6",
        slug: "channel_or_lock",
        does: "creates a channel or async lock",
        breaks: "could be woken by something outside history, which a replay cannot reproduce",
        help: "receive outside signals with `{ctx}.schedule_wait(name)` (raised by `Client::raise_event`); keep plain local variables for state",
        patterns: &[
            Path("std::sync::mpsc::channel"),
            Path("std::sync::mpsc::sync_channel"),
            Path("std::sync::Condvar::new"),
            Path("std::sync::Barrier::new"),
            Path("tokio::sync::mpsc::channel"),
            Path("tokio::sync::mpsc::unbounded_channel"),
            Path("tokio::sync::oneshot::channel"),
            Path("tokio::sync::broadcast::channel"),
            Path("tokio::sync::watch::channel"),
            Path("tokio::sync::Notify::new"),
            Exact("tokio::sync::Mutex"),
            Exact("tokio::sync::RwLock"),
            Exact("tokio::sync::Semaphore"),
            Exact("tokio::sync::Barrier"),
            Exact("tokio::sync::OnceCell"),
            Exact("futures::channel"),
            Crate("crossbeam_channel"),
            Crate("flume"),
            Crate("async_channel"),
        ],
    },
    Lint {
        id: "D7",
        slug: "nondeterministic_select",
        does: "picks a winner by poll order",
        breaks: "could pick a different winner on replay",
        help: "use `{ctx}.select2(a, b)`, `{ctx}.select3(a, b, c)` or `{ctx}.select(futures)`: they pick the result that came first in history",
        patterns: &[
            Macro("tokio::select"),
            Macro("futures::select"),
            Path("futures::future::select"),
            Path("futures::future::select_all"),
            Path("futures::future::select_ok"),
            Path("futures::stream::select"),
            Path("futures::stream::select_all"),
            Path("futures::stream::FuturesUnordered::new"),
            Path("futures::stream::FuturesUnordered::from_iter"),
            Exact("futures::stream::FuturesUnordered"),
            Exact("futures::stream::SelectAll"),
        ],
    },
    Lint {
        id: "D8",
        slug: "hash_iteration",
        does: "iterates a hash-ordered collection",
        breaks: "could visit the entries in another order after a restart (hash order is seeded per process) and schedule its work differently",
        help: "use a `BTreeMap`/`BTreeSet`, or collect the entries and sort them before iterating",
        patterns: &[],
    },
    Lint {
        id: "D9",
        slug: "host_environment",
        does: "reads the host environment",
        breaks: "could see a different value on replay (another host, another deployment)",
        help: "pass the value in the orchestration's input, or read it in an activity so it is recorded",
        patterns: &[
            Path("std::env::var"),
            Path("std::env::var_os"),
            Path("std::env::vars"),
            Path("std::env::vars_os"),
            Path("std::env::args"),
            Path("std::env::args_os"),
            Path("std::env::current_dir"),
            Path("std::env::current_exe"),
            Path("std::env::temp_dir"),
            Path("std::env::home_dir"),
            Path("std::env::set_var"),
            Path("std::env::remove_var"),
            Path("std::env::set_current_dir"),
            Path("std::process::id"),
            Path("std::thread::available_parallelism"),
            Path("hostname::get"),
            Path("gethostname::gethostname"),
            Path("num_cpus::get"),
        ],
    },
    Lint {
        id: "D10",
        slug: "file_io",
        does: "does file or console I/O",
        breaks: "would repeat it (or read different data) on every replay",
        help: "do I/O in an activity and use its recorded result",
        patterns: &[
            Exact("std::fs"),
            Path("std::fs::File::open"),
            Path("std::fs::File::create"),
            Path("std::fs::File::create_new"),
            Path("std::fs::File::options"),
            Path("std::fs::OpenOptions::new"),
            Path("std::fs::read_to_string"),
            Path("std::fs::read_dir"),
            Path("std::fs::write"),
            Path("std::fs::remove_file"),
            Path("std::fs::create_dir_all"),
            Path("std::io::stdin"),
            Path("std::io::stdout"),
            Path("std::io::stderr"),
            Exact("tokio::fs"),
            Exact("tokio::io::stdin"),
            Exact("tokio::io::stdout"),
            Exact("tokio::io::stderr"),
            Exact("async_std::fs"),
        ],
    },
    Lint {
        id: "D11",
        slug: "network_or_database",
        does: "talks to the network or a database",
        breaks: "would send the request again (and may get another answer) on every replay",
        help: "call the service or database from an activity and use its recorded result",
        patterns: &[
            Path("std::net::TcpStream::connect"),
            Path("std::net::TcpStream::connect_timeout"),
            Path("std::net::TcpListener::bind"),
            Path("std::net::UdpSocket::bind"),
            Exact("std::net::TcpStream"),
            Exact("std::net::TcpListener"),
            Exact("std::net::UdpSocket"),
            Exact("std::net::ToSocketAddrs"),
            Exact("tokio::net"),
            Crate("reqwest"),
            Crate("sqlx"),
            Crate("tokio_postgres"),
            Crate("postgres"),
            Crate("redis"),
            Crate("hyper"),
            Crate("hyper_util"),
            Crate("ureq"),
            Crate("surf"),
            Crate("isahc"),
            Crate("mongodb"),
            Crate("rusqlite"),
            Crate("diesel"),
            Crate("sea_orm"),
        ],
    },
    Lint {
        id: "D12",
        slug: "process",
        does: "starts or ends a process",
        breaks: "would run (or exit) again on every replay",
        help: "run commands in an activity; to end the orchestration, return from it",
        patterns: &[
            Exact("std::process::Command"),
            Path("std::process::exit"),
            Path("std::process::abort"),
            Exact("tokio::process::Command"),
            Exact("async_process::Command"),
        ],
    },
    Lint {
        id: "D13",
        slug: "replay_output",
        does: "writes output",
        breaks: "would write it again on every replay",
        help: "use `{ctx}.trace_info(..)` (or `trace_warn`/`trace_error`/`trace_debug`): muted while replaying",
        patterns: &[
            Prelude("println"),
            Prelude("eprintln"),
            Prelude("print"),
            Prelude("eprint"),
            Prelude("dbg"),
            Macro("log::trace"),
            Macro("log::debug"),
            Macro("log::info"),
            Macro("log::warn"),
            Macro("log::error"),
            Macro("log::log"),
            Macro("tracing::trace"),
            Macro("tracing::debug"),
            Macro("tracing::info"),
            Macro("tracing::warn"),
            Macro("tracing::error"),
            Macro("tracing::event"),
        ],
    },
];

/// The entry for an id (`D1`) or slug (`wall_clock`), case-insensitive.
pub fn lookup(id: &str) -> Option<&'static Lint> {
    CATALOGUE
        .iter()
        .find(|l| l.id.eq_ignore_ascii_case(id) || l.slug.eq_ignore_ascii_case(id))
}

/// The D8 entry.
pub fn hash_iteration() -> &'static Lint {
    &CATALOGUE[7]
}

/// "known lints: D1 (wall_clock), ..." for messages.
pub fn known_ids() -> String {
    let list: Vec<String> = CATALOGUE
        .iter()
        .map(|l| format!("{} ({})", l.id, l.slug))
        .collect();
    format!("known lints: {}", list.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_ids_are_d1_to_d13_in_order() {
        for (i, lint) in CATALOGUE.iter().enumerate() {
            assert_eq!(lint.id, format!("D{}", i + 1));
            assert_eq!(lookup(lint.slug).map(|l| l.id), Some(lint.id));
        }
        assert_eq!(hash_iteration().id, "D8");
    }
}
