//! Stage 3: the determinism lints, and the removal of `#[duroxide::allow(..)]`.
//!
//! One pass over the body (a `VisitMut`, because it also strips the opt-out attributes)
//! keeps what the checks need: the block scopes (`use` items and item names, for path
//! resolution), the local bindings (a local shadows an imported name; some are known to be
//! a `HashMap`), and the opt-outs in force. It reports only what the tokens prove: a path
//! it cannot resolve is matched by its last two segments at most, and odd syntax is
//! skipped, never turned into an error.

use std::collections::{HashMap, HashSet};

use quote::{quote, ToTokens};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::visit_mut::VisitMut;
use syn::{Attribute, Expr, Pat, Stmt, Token, Type};

use crate::args::{self, Kind};
use crate::catalogue::{self, Lint, Pattern, CATALOGUE};
use crate::fallback::Errors;
use crate::paths::{self, Resolved, Scope};

/// What the lints need to know about the fn.
pub struct Target<'a> {
    pub kind: Kind,
    /// The fn's name, for messages.
    pub fn_name: String,
    /// The context parameter's name, for the suggested replacements.
    pub ctx_name: String,
    /// Lints turned off for the whole fn (`allow(..)` in the attribute).
    pub allowed: &'a [&'static Lint],
    /// The fn's module scope.
    pub scope: Scope,
    /// The parameters, as (pattern, type), to know which are hash maps.
    pub params: Vec<(&'a Pat, &'a Type)>,
}

/// Lints `body` (for orchestrations and deterministic fns) and strips every
/// `#[duroxide::allow(..)]` from it (for all kinds).
pub fn run(target: &Target<'_>, body: &mut syn::Block, errors: &mut Errors) {
    let mut linter = Linter {
        active: target.kind != Kind::Activity,
        target,
        scopes: vec![target.scope.clone()],
        frames: vec![HashMap::new()],
        allow_stack: Vec::new(),
        exempt: HashSet::new(),
        errors,
    };
    for (pat, ty) in &target.params {
        let hash = linter.hash_type(ty);
        for name in paths::bindings(pat) {
            linter.bind(name, hash);
        }
    }
    linter.visit_block_mut(body);
}

struct Linter<'a, 'e> {
    /// False for activities: only strip the opt-outs.
    active: bool,
    target: &'a Target<'a>,
    /// Effective path scopes, innermost last.
    scopes: Vec<Scope>,
    /// Local bindings per block, innermost last: name -> hash collection kind, if known.
    frames: Vec<HashMap<String, Option<&'static str>>>,
    allow_stack: Vec<Vec<&'static Lint>>,
    /// Iteration calls whose result is consumed order-insensitively (`.count()`, ...).
    exempt: HashSet<usize>,
    errors: &'e mut Errors,
}

/// How a flagged path was written, for the message.
enum Form {
    Call {
        no_args: bool,
    },
    Value,
    /// A macro; `biased` when its input starts with `biased;` (a deterministic select).
    Macro {
        biased: bool,
    },
}

const HASH_TYPES: &[&str] = &[
    "HashMap",
    "HashSet",
    "FxHashMap",
    "FxHashSet",
    "AHashMap",
    "AHashSet",
    "DashMap",
    "DashSet",
];
const ITERATE: &[&str] = &[
    "iter",
    "iter_mut",
    "keys",
    "values",
    "values_mut",
    "drain",
    "into_iter",
    "into_keys",
    "into_values",
    "union",
    "intersection",
    "difference",
    "symmetric_difference",
];
/// Consumers whose result does not depend on iteration order.
const ORDER_INSENSITIVE: &[&str] = &["count", "sum", "product", "max", "min", "len"];
/// Collections whose content does not depend on the order they were filled in: collecting
/// a hash iteration into one of these is fine (a hash one is then tracked in turn).
const ORDER_FREE_COLLECTIONS: &[&str] = &["BTreeMap", "BTreeSet"];
/// Methods that sort a `Vec` in place: `let mut v: Vec<_> = m.keys().collect(); v.sort();`.
const SORTS: &[&str] = &[
    "sort",
    "sort_unstable",
    "sort_by",
    "sort_by_key",
    "sort_by_cached_key",
    "sort_unstable_by",
    "sort_unstable_by_key",
];
/// Adapters that keep a chain order-insensitive when the consumer is.
const PURE_ADAPTERS: &[&str] = &["cloned", "copied"];
/// Constructors that make a hash collection: `HashMap::new()`, ...
const HASH_CONSTRUCTORS: &[&str] = &[
    "new",
    "with_capacity",
    "default",
    "from",
    "from_iter",
    "with_hasher",
    "with_capacity_and_hasher",
];

impl Linter<'_, '_> {
    fn scope(&self) -> &Scope {
        // The stack starts with the module scope and is never emptied below it.
        &self.scopes[self.scopes.len() - 1]
    }

    fn bind(&mut self, name: String, hash: Option<&'static str>) {
        if let Some(frame) = self.frames.last_mut() {
            frame.insert(name, hash);
        }
    }

    fn binding(&self, name: &str) -> Option<Option<&'static str>> {
        self.frames
            .iter()
            .rev()
            .find_map(|frame| frame.get(name).copied())
    }

    fn push_block(&mut self, block_scope: Option<Scope>) {
        let mut scope = self.scope().clone();
        if let Some(inner) = block_scope {
            scope.extend(&inner);
        }
        self.scopes.push(scope);
        self.frames.push(HashMap::new());
    }

    fn pop_block(&mut self) {
        self.scopes.pop();
        self.frames.pop();
    }

    fn allowed(&self, lint: &Lint) -> bool {
        self.target.allowed.iter().any(|l| l.id == lint.id)
            || self
                .allow_stack
                .iter()
                .any(|set| set.iter().any(|l| l.id == lint.id))
    }

    /// Removes `#[duroxide::allow(..)]` from `attrs` and returns the lints it names.
    fn take_allows(&mut self, attrs: &mut Vec<Attribute>) -> Vec<&'static Lint> {
        let mut lints = Vec::new();
        let mut kept = Vec::with_capacity(attrs.len());
        for attr in attrs.drain(..) {
            if !is_duroxide_allow(attr.path()) {
                kept.push(attr);
                continue;
            }
            match &attr.meta {
                syn::Meta::List(list) => {
                    lints.extend(args::parse_lint_ids(list.tokens.clone(), self.errors));
                }
                other => self.errors.push(syn::Error::new_spanned(
                    other,
                    format!(
                        "name the lints to allow: `#[duroxide::allow(D1)]`; {}",
                        catalogue::known_ids()
                    ),
                )),
            }
        }
        *attrs = kept;
        lints
    }

    fn report(&mut self, lint: &'static Lint, at: &dyn ToTokens, code: &str, note: Option<String>) {
        if !self.active || self.allowed(lint) {
            return;
        }
        let who = match self.target.kind {
            Kind::Orchestration => format!("orchestration `{}`", self.target.fn_name),
            _ => format!("deterministic fn `{}`", self.target.fn_name),
        };
        let note = note.map(|n| format!(" ({n})")).unwrap_or_default();
        let help = lint.help.replace("{ctx}", &self.target.ctx_name);
        let message = format!(
            "[{id}] `{code}`{note} {does}; {who} is replayed from history, so it {breaks}\n\
             help: {help}\n\
             note: if this is intended, allow it for one statement with `#[duroxide::allow({id})]`",
            id = lint.id,
            does = lint.does,
            breaks = lint.breaks,
        );
        self.errors.push(syn::Error::new_spanned(at, message));
    }

    // ---- paths -------------------------------------------------------------------------

    fn check_path(&mut self, path: &syn::Path, form: &Form) {
        if !self.active {
            return;
        }
        let local = path.segments.len() == 1
            && path.leading_colon.is_none()
            && self.binding(&path.segments[0].ident.to_string()).is_some();
        let Resolved::Foreign { segments, via_use } = self.scope().resolve(path, local) else {
            return;
        };
        let found = find(&segments, via_use, form)
            .map(|lint| (lint, via_use.then(|| segments.clone())))
            .or_else(|| {
                if via_use {
                    return None;
                }
                self.scope()
                    .glob_candidates(&segments)
                    .into_iter()
                    .find_map(|candidate| {
                        find(&candidate, true, form).map(|lint| (lint, Some(candidate)))
                    })
            });
        let Some((lint, resolved)) = found else {
            return;
        };
        if lint.id == "D7" && matches!(form, Form::Macro { biased: true }) {
            // `tokio::select! { biased; .. }` polls in the written order: deterministic.
            return;
        }
        let written = render_path(path);
        let code = match form {
            Form::Call { no_args: true } => format!("{written}()"),
            Form::Call { no_args: false } => format!("{written}(..)"),
            Form::Value => written.clone(),
            Form::Macro { .. } => format!("{written}!"),
        };
        let note = resolved
            .map(|segments| segments.join("::"))
            .filter(|full| *full != written)
            .map(|full| format!("that is `{full}`"));
        self.report(lint, path, &code, note);
    }

    fn check_macro(&mut self, mac: &syn::Macro) {
        if !self.active {
            return;
        }
        let before = self.errors.len();
        if let Some(lint) = self.prelude_macro(&mac.path) {
            let code = format!("{}!", render_path(&mac.path));
            let (path, bang) = (&mac.path, &mac.bang_token);
            self.report(lint, &quote!(#path #bang), &code, None);
        } else {
            let biased = starts_with_biased(&mac.tokens);
            self.check_path(&mac.path, &Form::Macro { biased });
        }
        if self.errors.len() != before {
            return;
        }
        // Look inside macros whose arguments are expressions (`format!`, `vec!`, `assert!`,
        // `tokio::join!`, ...). Anything else is left alone.
        let parser = Punctuated::<Expr, Token![,]>::parse_terminated;
        if let Ok(exprs) = parser.parse2(mac.tokens.clone()) {
            for mut expr in exprs {
                self.visit_expr_mut(&mut expr);
            }
        } else if let Ok((mut a, mut b)) = (|input: syn::parse::ParseStream<'_>| {
            let a: Expr = input.parse()?;
            input.parse::<Token![;]>()?;
            let b: Expr = input.parse()?;
            Ok((a, b))
        })
        .parse2(mac.tokens.clone())
        {
            self.visit_expr_mut(&mut a);
            self.visit_expr_mut(&mut b);
        }
    }

    /// `println!`, `dbg!`, ...: the bare name (unless the user defines or imports a macro of
    /// that name) or `std::`/`core::` paths.
    fn prelude_macro(&self, path: &syn::Path) -> Option<&'static Lint> {
        let Resolved::Foreign { segments, via_use } = self.scope().resolve(path, false) else {
            return None;
        };
        let last = segments.last()?;
        let lint = CATALOGUE.iter().find(|lint| {
            lint.patterns
                .iter()
                .any(|p| matches!(p, Pattern::Prelude(name) if name == last))
        })?;
        // The bare prelude name (not imported from elsewhere), or `std::`/`core::` paths.
        let bare = segments.len() == 1 && !via_use;
        let std_path = segments.len() == 2 && matches!(segments[0].as_str(), "std" | "core");
        (bare || std_path).then_some(lint)
    }

    // ---- D8: hash-ordered iteration -----------------------------------------------------

    fn hash_type(&self, ty: &Type) -> Option<&'static str> {
        match ty {
            Type::Reference(r) => self.hash_type(&r.elem),
            Type::Paren(p) => self.hash_type(&p.elem),
            Type::Group(g) => self.hash_type(&g.elem),
            Type::Path(p) if p.qself.is_none() => self.hash_path(&p.path, 0),
            _ => None,
        }
    }

    /// Whether `path` (minus `skip_last` trailing segments) names a hash collection type.
    fn hash_path(&self, path: &syn::Path, skip_last: usize) -> Option<&'static str> {
        let keep = path.segments.len().checked_sub(skip_last)?;
        if keep == 0 {
            return None;
        }
        let mut path = path.clone();
        path.segments = path.segments.iter().take(keep).cloned().collect();
        let Resolved::Foreign { segments, .. } = self.scope().resolve(&path, false) else {
            return None;
        };
        let last = segments.last()?;
        HASH_TYPES.iter().find(|t| **t == last.as_str()).copied()
    }

    /// Whether `expr` makes a hash collection: `HashMap::new()`, `x.collect::<HashSet<_>>()`,
    /// `other_hash_map.clone()`.
    fn hash_expr(&self, expr: &Expr) -> Option<&'static str> {
        match expr {
            Expr::Call(call) => match &*call.func {
                Expr::Path(p) if p.path.segments.len() >= 2 => {
                    let ctor = p.path.segments.last()?.ident.to_string();
                    if HASH_CONSTRUCTORS.contains(&ctor.as_str()) {
                        self.hash_path(&p.path, 1)
                    } else {
                        None
                    }
                }
                _ => None,
            },
            Expr::MethodCall(mc) if mc.method == "collect" => {
                let turbofish = mc.turbofish.as_ref()?;
                match turbofish.args.first()? {
                    syn::GenericArgument::Type(ty) => self.hash_type(ty),
                    _ => None,
                }
            }
            Expr::MethodCall(mc) if mc.method == "clone" => self.hash_variable(&mc.receiver),
            Expr::Paren(p) => self.hash_expr(&p.expr),
            _ => None,
        }
    }

    /// If `expr` is (a reference to) a local hash collection: its name and kind.
    fn hash_variable(&self, expr: &Expr) -> Option<&'static str> {
        self.hash_variable_named(expr).map(|(_, kind)| kind)
    }

    fn hash_variable_named(&self, expr: &Expr) -> Option<(String, &'static str)> {
        match expr {
            Expr::Reference(r) => self.hash_variable_named(&r.expr),
            Expr::Paren(p) => self.hash_variable_named(&p.expr),
            Expr::Group(g) => self.hash_variable_named(&g.expr),
            Expr::MethodCall(mc) if mc.method == "clone" && mc.args.is_empty() => {
                self.hash_variable_named(&mc.receiver)
            }
            Expr::Path(p) if p.qself.is_none() => {
                let ident = p.path.get_ident()?.to_string();
                let kind = self.binding(&ident)??;
                Some((ident, kind))
            }
            _ => None,
        }
    }

    fn check_iteration_call(&mut self, call: &syn::ExprMethodCall) {
        let method = call.method.to_string();
        if !ITERATE.contains(&method.as_str()) || self.exempt.contains(&address(call)) {
            return;
        }
        if let Some((name, kind)) = self.hash_variable_named(&call.receiver) {
            let code = format!("{name}.{method}()");
            self.report(
                catalogue::hash_iteration(),
                &call.method,
                &code,
                Some(format!("`{name}` is a `{kind}`")),
            );
        }
    }

    /// `x.iter().cloned().count()`, `m.into_iter().collect::<BTreeMap<_, _>>()`: the
    /// iteration under an order-insensitive consumer is fine.
    fn exempt_consumed(&mut self, call: &syn::ExprMethodCall) {
        let method = call.method.to_string();
        let insensitive = if method == "collect" {
            matches!(
                call.turbofish.as_ref().and_then(|t| t.args.first()),
                Some(syn::GenericArgument::Type(ty)) if self.order_free(ty)
            )
        } else {
            ORDER_INSENSITIVE.contains(&method.as_str())
        };
        if insensitive {
            self.exempt_chain(&call.receiver);
        }
    }

    /// Whether `ty` is a collection whose content does not depend on insertion order.
    fn order_free(&self, ty: &Type) -> bool {
        if self.hash_type(ty).is_some() {
            return true;
        }
        let Type::Path(p) = ty else {
            return false;
        };
        p.path
            .segments
            .last()
            .is_some_and(|last| ORDER_FREE_COLLECTIONS.contains(&last.ident.to_string().as_str()))
    }

    /// `let v: BTreeSet<_> = m.keys().collect();`, or
    /// `let mut v: Vec<_> = m.keys().collect();` followed in the same block by `v.sort();`:
    /// the collected iteration is order-insensitive. `later` are the block's statements
    /// after the `let`.
    fn exempt_sorted_collect(&mut self, local: &syn::Local, later: &[Stmt]) {
        let Some(init) = &local.init else {
            return;
        };
        let Expr::MethodCall(collect) = &*init.expr else {
            return;
        };
        if collect.method != "collect" {
            return;
        }
        let (pat, declared) = match &local.pat {
            Pat::Type(typed) => (&*typed.pat, Some(&*typed.ty)),
            other => (other, None),
        };
        let order_free = declared.is_some_and(|ty| self.order_free(ty));
        let sorted = match pat {
            Pat::Ident(ident) => later.iter().any(|stmt| sorts(stmt, &ident.ident)),
            _ => false,
        };
        if order_free || sorted {
            self.exempt_chain(&collect.receiver);
        }
    }

    /// Exempts the iteration call at the head of `receiver`, seen through pure adapters.
    fn exempt_chain(&mut self, receiver: &Expr) {
        let mut receiver = receiver;
        while let Expr::MethodCall(inner) = receiver {
            let method = inner.method.to_string();
            if PURE_ADAPTERS.contains(&method.as_str()) {
                receiver = &inner.receiver;
                continue;
            }
            if ITERATE.contains(&method.as_str()) {
                self.exempt.insert(address(inner));
            }
            break;
        }
    }

    fn bind_pattern(&mut self, pat: &Pat, hash: Option<&'static str>) {
        for name in paths::bindings(pat) {
            self.bind(name, hash);
        }
    }
}

/// Whether `stmt` is `name.sort()` (or another in-place sort of `name`).
fn sorts(stmt: &Stmt, name: &syn::Ident) -> bool {
    let Stmt::Expr(Expr::MethodCall(call), _) = stmt else {
        return false;
    };
    SORTS.contains(&call.method.to_string().as_str())
        && matches!(&*call.receiver, Expr::Path(p) if p.path.is_ident(name))
}

fn address(call: &syn::ExprMethodCall) -> usize {
    std::ptr::from_ref(call) as usize
}

/// Finds the first lint (not allowed or allowed: the caller decides) whose patterns match.
fn find(segments: &[String], via_use: bool, form: &Form) -> Option<&'static Lint> {
    CATALOGUE.iter().find(|lint| {
        lint.patterns
            .iter()
            .any(|pattern| pattern_matches(*pattern, segments, via_use, form))
    })
}

fn pattern_matches(pattern: Pattern, segments: &[String], via_use: bool, form: &Form) -> bool {
    let is_macro = matches!(form, Form::Macro { .. });
    match pattern {
        Pattern::Path(p) if !is_macro => path_match(p, segments, true),
        Pattern::Exact(p) if !is_macro => path_match(p, segments, false),
        Pattern::Macro(p) if is_macro => path_match(p, segments, true),
        Pattern::Crate(name) if !is_macro => segments.len() >= 2 && segments[0] == name,
        Pattern::Name(name) if !is_macro => {
            segments.last().is_some_and(|last| last == name) && (segments.len() >= 2 || via_use)
        }
        _ => false,
    }
}

fn path_match(pattern: &str, segments: &[String], fallback: bool) -> bool {
    let wanted: Vec<&str> = pattern.split("::").collect();
    if segments.len() >= wanted.len() && segments.iter().zip(&wanted).all(|(a, b)| a == b) {
        return true;
    }
    if !fallback || wanted.len() < 2 || segments.len() < 2 {
        return false;
    }
    let tail = &wanted[wanted.len() - 2..];
    segments
        .windows(2)
        .any(|window| window[0] == tail[0] && window[1] == tail[1])
}

fn is_duroxide_allow(path: &syn::Path) -> bool {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    segments == ["duroxide", "allow"]
}

fn starts_with_biased(tokens: &proc_macro2::TokenStream) -> bool {
    let mut iter = tokens.clone().into_iter();
    matches!(
        (iter.next(), iter.next()),
        (Some(proc_macro2::TokenTree::Ident(i)), Some(proc_macro2::TokenTree::Punct(p)))
            if i == "biased" && p.as_char() == ';'
    )
}

fn render_path(path: &syn::Path) -> String {
    let mut out = String::new();
    if path.leading_colon.is_some() {
        out.push_str("::");
    }
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    out.push_str(&segments.join("::"));
    out
}

/// The attributes of any expression (all but `Verbatim` have some).
fn expr_attrs_mut(expr: &mut Expr) -> Option<&mut Vec<Attribute>> {
    Some(match expr {
        Expr::Array(e) => &mut e.attrs,
        Expr::Assign(e) => &mut e.attrs,
        Expr::Async(e) => &mut e.attrs,
        Expr::Await(e) => &mut e.attrs,
        Expr::Binary(e) => &mut e.attrs,
        Expr::Block(e) => &mut e.attrs,
        Expr::Break(e) => &mut e.attrs,
        Expr::Call(e) => &mut e.attrs,
        Expr::Cast(e) => &mut e.attrs,
        Expr::Closure(e) => &mut e.attrs,
        Expr::Const(e) => &mut e.attrs,
        Expr::Continue(e) => &mut e.attrs,
        Expr::Field(e) => &mut e.attrs,
        Expr::ForLoop(e) => &mut e.attrs,
        Expr::Group(e) => &mut e.attrs,
        Expr::If(e) => &mut e.attrs,
        Expr::Index(e) => &mut e.attrs,
        Expr::Infer(e) => &mut e.attrs,
        Expr::Let(e) => &mut e.attrs,
        Expr::Lit(e) => &mut e.attrs,
        Expr::Loop(e) => &mut e.attrs,
        Expr::Macro(e) => &mut e.attrs,
        Expr::Match(e) => &mut e.attrs,
        Expr::MethodCall(e) => &mut e.attrs,
        Expr::Paren(e) => &mut e.attrs,
        Expr::Path(e) => &mut e.attrs,
        Expr::Range(e) => &mut e.attrs,
        Expr::RawAddr(e) => &mut e.attrs,
        Expr::Reference(e) => &mut e.attrs,
        Expr::Repeat(e) => &mut e.attrs,
        Expr::Return(e) => &mut e.attrs,
        Expr::Struct(e) => &mut e.attrs,
        Expr::Try(e) => &mut e.attrs,
        Expr::TryBlock(e) => &mut e.attrs,
        Expr::Tuple(e) => &mut e.attrs,
        Expr::Unary(e) => &mut e.attrs,
        Expr::Unsafe(e) => &mut e.attrs,
        Expr::While(e) => &mut e.attrs,
        Expr::Yield(e) => &mut e.attrs,
        _ => return None,
    })
}

impl VisitMut for Linter<'_, '_> {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        self.push_block(Some(paths::block_scope(block)));
        for i in 0..block.stmts.len() {
            if let (true, Stmt::Local(local)) = (self.active, &block.stmts[i]) {
                self.exempt_sorted_collect(local, &block.stmts[i + 1..]);
            }
            self.visit_stmt_mut(&mut block.stmts[i]);
        }
        self.pop_block();
    }

    fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
        match stmt {
            Stmt::Local(local) => {
                let allows = self.take_allows(&mut local.attrs);
                self.allow_stack.push(allows);
                let mut hash = None;
                if let Some(init) = &mut local.init {
                    self.visit_expr_mut(&mut init.expr);
                    if let Some((_, diverge)) = &mut init.diverge {
                        self.visit_expr_mut(diverge);
                    }
                    hash = self.hash_expr(&init.expr);
                }
                if let Pat::Type(typed) = &local.pat {
                    hash = self.hash_type(&typed.ty);
                }
                let pat = local.pat.clone();
                self.bind_pattern(&pat, hash);
                self.allow_stack.pop();
            }
            Stmt::Macro(m) => {
                let allows = self.take_allows(&mut m.attrs);
                self.allow_stack.push(allows);
                let mac = m.mac.clone();
                self.check_macro(&mac);
                self.allow_stack.pop();
            }
            Stmt::Expr(expr, _) => self.visit_expr_mut(expr),
            Stmt::Item(item) => self.visit_nested_item(item),
        }
    }

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        let allows = expr_attrs_mut(expr)
            .map(|attrs| self.take_allows(attrs))
            .unwrap_or_default();
        self.allow_stack.push(allows);
        match expr {
            Expr::Call(call) => {
                if let Expr::Path(p) = &*call.func {
                    let path = p.path.clone();
                    self.check_path(
                        &path,
                        &Form::Call {
                            no_args: call.args.is_empty(),
                        },
                    );
                } else {
                    self.visit_expr_mut(&mut call.func);
                }
                for arg in &mut call.args {
                    self.visit_expr_mut(arg);
                }
            }
            Expr::Path(p) => {
                let path = p.path.clone();
                self.check_path(&path, &Form::Value);
            }
            Expr::Macro(m) => {
                let mac = m.mac.clone();
                self.check_macro(&mac);
            }
            Expr::MethodCall(call) => {
                if self.active {
                    let method = call.method.to_string();
                    let by_method = CATALOGUE.iter().find(|l| {
                        l.patterns
                            .iter()
                            .any(|p| matches!(p, Pattern::Method(m) if *m == method))
                    });
                    if let Some(lint) = by_method {
                        self.report(lint, &call.method, &format!(".{method}(..)"), None);
                    }
                    self.exempt_consumed(call);
                    self.check_iteration_call(call);
                }
                self.visit_expr_mut(&mut call.receiver);
                for arg in &mut call.args {
                    self.visit_expr_mut(arg);
                }
            }
            Expr::ForLoop(for_loop) => {
                if self.active {
                    if let Some((name, kind)) = self.hash_variable_named(&for_loop.expr) {
                        // `for x in m.iter()` is reported at `.iter()` instead.
                        let reported_at_call = matches!(&*for_loop.expr,
                            Expr::MethodCall(mc) if ITERATE.contains(&mc.method.to_string().as_str()));
                        if !reported_at_call {
                            self.report(
                                catalogue::hash_iteration(),
                                &for_loop.expr,
                                &format!("for .. in {}", render_expr_short(&for_loop.expr)),
                                Some(format!("`{name}` is a `{kind}`")),
                            );
                        }
                    }
                }
                self.visit_expr_mut(&mut for_loop.expr);
                self.push_block(None);
                let pat = (*for_loop.pat).clone();
                self.bind_pattern(&pat, None);
                self.visit_block_mut(&mut for_loop.body);
                self.pop_block();
            }
            Expr::Closure(closure) => {
                self.push_block(None);
                for input in &closure.inputs {
                    let hash = match input {
                        Pat::Type(t) => self.hash_type(&t.ty),
                        _ => None,
                    };
                    self.bind_pattern(input, hash);
                }
                self.visit_expr_mut(&mut closure.body);
                self.pop_block();
            }
            Expr::Match(m) => {
                self.visit_expr_mut(&mut m.expr);
                for arm in &mut m.arms {
                    let allows = self.take_allows(&mut arm.attrs);
                    self.allow_stack.push(allows);
                    self.push_block(None);
                    self.bind_pattern(&arm.pat, None);
                    if let Some((_, guard)) = &mut arm.guard {
                        self.visit_expr_mut(guard);
                    }
                    self.visit_expr_mut(&mut arm.body);
                    self.pop_block();
                    self.allow_stack.pop();
                }
            }
            Expr::Let(l) => {
                self.visit_expr_mut(&mut l.expr);
                let pat = (*l.pat).clone();
                self.bind_pattern(&pat, None);
            }
            _ => syn::visit_mut::visit_expr_mut(self, expr),
        }
        self.allow_stack.pop();
    }

    fn visit_field_value_mut(&mut self, field: &mut syn::FieldValue) {
        let allows = self.take_allows(&mut field.attrs);
        self.allow_stack.push(allows);
        self.visit_expr_mut(&mut field.expr);
        self.allow_stack.pop();
    }
}

impl Linter<'_, '_> {
    /// A fn declared inside the body is only reachable from it: lint it too (unless it is
    /// itself annotated). Other nested items are the user's business.
    fn visit_nested_item(&mut self, item: &mut syn::Item) {
        let attrs = match item {
            syn::Item::Fn(f) => &mut f.attrs,
            syn::Item::Const(c) => &mut c.attrs,
            syn::Item::Static(s) => &mut s.attrs,
            _ => return,
        };
        let allows = self.take_allows(attrs);
        let annotated = attrs.iter().any(|a| {
            a.path().segments.last().is_some_and(|s| {
                matches!(
                    s.ident.to_string().as_str(),
                    "activity" | "orchestration" | "deterministic"
                )
            })
        });
        if annotated {
            return;
        }
        self.allow_stack.push(allows);
        match item {
            syn::Item::Fn(f) => {
                // A nested fn sees the items around it but not the enclosing locals.
                let saved = std::mem::replace(&mut self.frames, vec![HashMap::new()]);
                for input in &f.sig.inputs {
                    if let syn::FnArg::Typed(t) = input {
                        let hash = self.hash_type(&t.ty);
                        let pat = (*t.pat).clone();
                        self.bind_pattern(&pat, hash);
                    }
                }
                self.visit_block_mut(&mut f.block);
                self.frames = saved;
            }
            syn::Item::Const(c) => self.visit_expr_mut(&mut c.expr),
            syn::Item::Static(s) => self.visit_expr_mut(&mut s.expr),
            _ => {}
        }
        self.allow_stack.pop();
    }
}

fn render_expr_short(expr: &Expr) -> String {
    match expr {
        Expr::Reference(r) => {
            let mutability = if r.mutability.is_some() { "mut " } else { "" };
            format!("&{mutability}{}", render_expr_short(&r.expr))
        }
        Expr::Paren(p) => format!("({})", render_expr_short(&p.expr)),
        Expr::Path(p) => render_path(&p.path),
        Expr::MethodCall(mc) => format!("{}.{}()", render_expr_short(&mc.receiver), mc.method),
        _ => "..".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(source: &str, body: &str) -> Vec<String> {
        let module = Scope::for_fn(Some(source), "flow");
        let mut block: syn::Block = syn::parse_str(body).unwrap();
        let ctx_pat: Pat = syn::parse_quote!(ctx);
        let ctx_ty: Type = syn::parse_quote!(OrchestrationContext);
        let map_pat: Pat = syn::parse_quote!(counts);
        let map_ty: Type = syn::parse_quote!(&HashMap<String, u32>);
        let target = Target {
            kind: Kind::Orchestration,
            fn_name: "flow".into(),
            ctx_name: "ctx".into(),
            allowed: &[],
            scope: module,
            params: vec![(&ctx_pat, &ctx_ty), (&map_pat, &map_ty)],
        };
        let mut errors = Errors::default();
        run(&target, &mut block, &mut errors);
        errors
            .into_vec()
            .into_iter()
            .map(|e| {
                e.to_string()
                    .split(']')
                    .next()
                    .unwrap_or("")
                    .trim_start_matches('[')
                    .to_string()
            })
            .collect()
    }

    const MODULE: &str = r"
        use std::time::SystemTime as Clock;
        use std::collections::{HashMap, BTreeMap};
        use tokio::time::*;
        fn now() -> u64 { 0 }
        async fn flow() {}
    ";

    #[test]
    fn lints_flag_each_catalogue_shape() {
        let cases = [
            ("{ let t = std::time::SystemTime::now(); }", "D1"),
            ("{ let t = Clock::now(); }", "D1"),
            ("{ let t = chrono::Utc::now(); }", "D1"),
            ("{ sleep(d).await; }", "D2"),
            ("{ std::thread::sleep(d); }", "D2"),
            ("{ let x: u8 = rand::random(); }", "D3"),
            ("{ let id = uuid::Uuid::new_v4(); }", "D4"),
            ("{ tokio::spawn(async {}); }", "D5"),
            ("{ let (tx, rx) = tokio::sync::mpsc::channel(1); }", "D6"),
            ("{ tokio::select! { _ = a => {} } }", "D7"),
            ("{ for (k, v) in counts { } }", "D8"),
            ("{ let m: HashMap<u8, u8> = HashMap::new(); let v: Vec<_> = m.keys().map(|k| k).collect(); }", "D8"),
            ("{ let home = std::env::var(\"HOME\"); }", "D9"),
            ("{ let s = std::fs::read_to_string(\"x\"); }", "D10"),
            ("{ let r = reqwest::get(\"http://x\"); }", "D11"),
            ("{ std::process::exit(1); }", "D12"),
            ("{ println!(\"hi\"); }", "D13"),
            ("{ let s = format!(\"{:?}\", std::time::Instant::now()); }", "D1"),
            ("{ use std::thread::sleep as nap; nap(d); }", "D2"),
            ("{ let a: std::collections::HashSet<u8> = b.collect(); for x in a.union(&c) {} }", "D8"),
            ("{ let x = tracing::info!(\"x\"); }", "D13"),
            ("{ use std::println as say; say!(\"x\"); }", "D13"),
            ("{ use tokio::select as race; race! { _ = a => {} } }", "D7"),
        ];
        for (body, id) in cases {
            assert_eq!(lint(MODULE, body), vec![id.to_string()], "{body}");
        }
    }

    #[test]
    fn lints_stay_silent_on_deterministic_code() {
        let silent = [
            "{ let t = ctx.utc_now(); let n = now(); }",
            "{ let m: BTreeMap<u8, u8> = BTreeMap::new(); for (k, v) in &m {} }",
            "{ let n = counts.get(\"a\"); let k = counts.len(); let total: u32 = counts.values().sum(); }",
            "{ let mut keys: Vec<_> = counts.keys().cloned().collect(); keys.sort(); }",
            "{ tokio::select! { biased; _ = a => {} } }",
            "{ use tokio::select as race; race! { biased; _ = a => {} } }",
            "{ macro_rules! println { () => {} } println!(); }",
            "{ let d = std::time::Duration::from_secs(1); let e = std::time::SystemTime::UNIX_EPOCH; }",
            "{ let sleep = |d: u64| d; sleep(3); }",
            "{ #[duroxide::allow(D1)] let t = Clock::now(); }",
            "{ let counts = vec![1]; for c in &counts {} }",
            "{ let id = uuid::Uuid::new_v5(&ns, b\"x\"); }",
        ];
        for body in silent {
            assert!(
                lint(MODULE, body).is_empty(),
                "{body}: {:?}",
                lint(MODULE, body)
            );
        }
    }
}
