//! Deterministic combinators over [`DurableFuture`]s: `select*` and `join*`.
//!
//! They resolve by *history order*: when several results are available, the one recorded
//! earliest in history wins, whatever order the futures were polled in. Replaying the same
//! history therefore always takes the same branch.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::future::DurableFuture;

/// The result of [`select2`](crate::OrchestrationContext::select2): which future won.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Either2<A, B> {
    /// The first future's result arrived first.
    First(A),
    /// The second future's result arrived first.
    Second(B),
}

/// The result of [`select3`](crate::OrchestrationContext::select3): which future won.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Either3<A, B, C> {
    /// The first future's result arrived first.
    First(A),
    /// The second future's result arrived first.
    Second(B),
    /// The third future's result arrived first.
    Third(C),
}

/// Picks the earliest of the given history indices; ties go to the lowest position.
fn earliest(indices: &[Option<u64>]) -> Option<usize> {
    indices
        .iter()
        .enumerate()
        .filter_map(|(pos, index)| index.map(|i| (i, pos)))
        .min()
        .map(|(_, pos)| pos)
}

/// Future of [`select2`](crate::OrchestrationContext::select2).
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Select2<A, B> {
    a: DurableFuture<A>,
    b: DurableFuture<B>,
}

impl<A, B> Select2<A, B> {
    pub(crate) fn new(a: DurableFuture<A>, b: DurableFuture<B>) -> Self {
        Select2 { a, b }
    }
}

impl<A, B> Future for Select2<A, B> {
    type Output = Either2<A, B>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let shared = Arc::clone(this.a.shared());
        let mut st = shared.lock();
        let winner = earliest(&[this.a.peek(&st), this.b.peek(&st)]);
        let out = match winner {
            Some(0) => this.a.take(&mut st).map(Either2::First),
            Some(_) => this.b.take(&mut st).map(Either2::Second),
            None => None,
        };
        match out {
            Some(v) => Poll::Ready(v),
            None => {
                this.a.register(&mut st, cx);
                this.b.register(&mut st, cx);
                Poll::Pending
            }
        }
    }
}

/// Future of [`select3`](crate::OrchestrationContext::select3).
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Select3<A, B, C> {
    a: DurableFuture<A>,
    b: DurableFuture<B>,
    c: DurableFuture<C>,
}

impl<A, B, C> Select3<A, B, C> {
    pub(crate) fn new(a: DurableFuture<A>, b: DurableFuture<B>, c: DurableFuture<C>) -> Self {
        Select3 { a, b, c }
    }
}

impl<A, B, C> Future for Select3<A, B, C> {
    type Output = Either3<A, B, C>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let shared = Arc::clone(this.a.shared());
        let mut st = shared.lock();
        let winner = earliest(&[this.a.peek(&st), this.b.peek(&st), this.c.peek(&st)]);
        let out = match winner {
            Some(0) => this.a.take(&mut st).map(Either3::First),
            Some(1) => this.b.take(&mut st).map(Either3::Second),
            Some(_) => this.c.take(&mut st).map(Either3::Third),
            None => None,
        };
        match out {
            Some(v) => Poll::Ready(v),
            None => {
                this.a.register(&mut st, cx);
                this.b.register(&mut st, cx);
                this.c.register(&mut st, cx);
                Poll::Pending
            }
        }
    }
}

/// Future of [`select`](crate::OrchestrationContext::select): resolves with the position
/// and result of the future whose result is earliest in history.
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct SelectAll<T> {
    futures: Vec<DurableFuture<T>>,
}

impl<T> SelectAll<T> {
    pub(crate) fn new(futures: Vec<DurableFuture<T>>) -> Self {
        SelectAll { futures }
    }
}

impl<T> Future for SelectAll<T> {
    type Output = (usize, T);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(first) = this.futures.first() else {
            // Selecting over nothing never resolves, like `futures::future::select_all`
            // would refuse to; documented on `OrchestrationContext::select`.
            return Poll::Pending;
        };
        let shared = Arc::clone(first.shared());
        let mut st = shared.lock();
        let indices: Vec<Option<u64>> = this.futures.iter().map(|f| f.peek(&st)).collect();
        if let Some(pos) = earliest(&indices) {
            if let Some(v) = this.futures[pos].take(&mut st) {
                return Poll::Ready((pos, v));
            }
        }
        for f in &this.futures {
            f.register(&mut st, cx);
        }
        Poll::Pending
    }
}

/// Future of [`join`](crate::OrchestrationContext::join): resolves when every future has,
/// with the results in the order the futures were given.
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct JoinAll<T> {
    futures: Vec<DurableFuture<T>>,
    results: Vec<Option<T>>,
}

// The collected results are never pinned (only the durable futures are polled, and they are
// `Unpin`), so the joins are `Unpin` whatever their output types.
impl<T> Unpin for JoinAll<T> {}
impl<A, B> Unpin for Join2<A, B> {}
impl<A, B, C> Unpin for Join3<A, B, C> {}

impl<T> JoinAll<T> {
    pub(crate) fn new(futures: Vec<DurableFuture<T>>) -> Self {
        let results = futures.iter().map(|_| None).collect();
        JoinAll { futures, results }
    }
}

impl<T> Future for JoinAll<T> {
    type Output = Vec<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(first) = this.futures.first() else {
            return Poll::Ready(Vec::new());
        };
        let shared = Arc::clone(first.shared());
        let mut st = shared.lock();
        // Consume available results in history order (this matters when two waits share an
        // event name: the earlier-arrived event goes to the earlier wait in the list).
        loop {
            let indices: Vec<Option<u64>> = this
                .futures
                .iter()
                .zip(&this.results)
                .map(|(f, r)| if r.is_some() { None } else { f.peek(&st) })
                .collect();
            let Some(pos) = earliest(&indices) else { break };
            match this.futures[pos].take(&mut st) {
                Some(v) => this.results[pos] = Some(v),
                None => break,
            }
        }
        if this.results.iter().all(Option::is_some) {
            let results = std::mem::take(&mut this.results);
            return Poll::Ready(results.into_iter().flatten().collect());
        }
        for (f, r) in this.futures.iter().zip(&this.results) {
            if r.is_none() {
                f.register(&mut st, cx);
            }
        }
        Poll::Pending
    }
}

/// Future of [`join2`](crate::OrchestrationContext::join2).
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Join2<A, B> {
    a: DurableFuture<A>,
    b: DurableFuture<B>,
    ra: Option<A>,
    rb: Option<B>,
}

impl<A, B> Join2<A, B> {
    pub(crate) fn new(a: DurableFuture<A>, b: DurableFuture<B>) -> Self {
        Join2 {
            a,
            b,
            ra: None,
            rb: None,
        }
    }
}

impl<A, B> Future for Join2<A, B> {
    type Output = (A, B);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let shared = Arc::clone(this.a.shared());
        let mut st = shared.lock();
        loop {
            let ia = if this.ra.is_none() {
                this.a.peek(&st)
            } else {
                None
            };
            let ib = if this.rb.is_none() {
                this.b.peek(&st)
            } else {
                None
            };
            match earliest(&[ia, ib]) {
                Some(0) => this.ra = this.a.take(&mut st),
                Some(_) => this.rb = this.b.take(&mut st),
                None => break,
            }
        }
        if this.ra.is_some() && this.rb.is_some() {
            if let (Some(a), Some(b)) = (this.ra.take(), this.rb.take()) {
                return Poll::Ready((a, b));
            }
        }
        this.a.register(&mut st, cx);
        this.b.register(&mut st, cx);
        Poll::Pending
    }
}

/// Future of [`join3`](crate::OrchestrationContext::join3).
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Join3<A, B, C> {
    a: DurableFuture<A>,
    b: DurableFuture<B>,
    c: DurableFuture<C>,
    ra: Option<A>,
    rb: Option<B>,
    rc: Option<C>,
}

impl<A, B, C> Join3<A, B, C> {
    pub(crate) fn new(a: DurableFuture<A>, b: DurableFuture<B>, c: DurableFuture<C>) -> Self {
        Join3 {
            a,
            b,
            c,
            ra: None,
            rb: None,
            rc: None,
        }
    }
}

impl<A, B, C> Future for Join3<A, B, C> {
    type Output = (A, B, C);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let shared = Arc::clone(this.a.shared());
        let mut st = shared.lock();
        loop {
            let ia = if this.ra.is_none() {
                this.a.peek(&st)
            } else {
                None
            };
            let ib = if this.rb.is_none() {
                this.b.peek(&st)
            } else {
                None
            };
            let ic = if this.rc.is_none() {
                this.c.peek(&st)
            } else {
                None
            };
            match earliest(&[ia, ib, ic]) {
                Some(0) => this.ra = this.a.take(&mut st),
                Some(1) => this.rb = this.b.take(&mut st),
                Some(_) => this.rc = this.c.take(&mut st),
                None => break,
            }
        }
        if this.ra.is_some() && this.rb.is_some() && this.rc.is_some() {
            if let (Some(a), Some(b), Some(c)) = (this.ra.take(), this.rb.take(), this.rc.take()) {
                return Poll::Ready((a, b, c));
            }
        }
        this.a.register(&mut st, cx);
        this.b.register(&mut st, cx);
        this.c.register(&mut st, cx);
        Poll::Pending
    }
}
