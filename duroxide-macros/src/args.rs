//! Stage 1: the attribute's arguments.
//!
//! `#[activity(name = "..", crate = "..")]`, `#[orchestration(name = "..", version = "..",
//! allow(D8, ..), crate = "..")]`, `#[deterministic(allow(..))]`. Every mistake is reported
//! (unknown key with a suggestion, duplicate key, wrong value) and parsing goes on with
//! the defaults, so the fn is still expanded and callers see no secondary errors.

use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Lit, LitStr, Meta, Token};

use crate::catalogue::{self, Lint};
use crate::fallback::Errors;

/// Which macro is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Activity,
    Orchestration,
    Deterministic,
}

impl Kind {
    /// The attribute as the user writes it.
    pub fn attr(self) -> &'static str {
        match self {
            Kind::Activity => "#[activity]",
            Kind::Orchestration => "#[orchestration]",
            Kind::Deterministic => "#[duroxide::deterministic]",
        }
    }

    /// The keys this macro accepts, for messages.
    fn accepted(self) -> &'static str {
        match self {
            Kind::Activity => "`name = \"..\"`, `crate = \"..\"`",
            Kind::Orchestration => {
                "`name = \"..\"`, `version = \"MAJOR.MINOR.PATCH\"`, `allow(D1, ..)`, `crate = \"..\"`"
            }
            Kind::Deterministic => "`allow(D1, ..)`",
        }
    }

    fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Activity => &["name", "crate"],
            Kind::Orchestration => &["name", "version", "allow", "crate"],
            Kind::Deterministic => &["allow"],
        }
    }
}

/// The parsed arguments.
#[derive(Default)]
pub struct Args {
    pub name: Option<LitStr>,
    pub version: Option<LitStr>,
    /// Lints turned off for the whole fn.
    pub allow: Vec<&'static Lint>,
    /// `crate = ..`: where `duroxide` is, for a crate that re-exports it.
    pub krate: Option<syn::Path>,
}

/// One `key = value` or `key(..)` argument, kept as a `Meta`.
struct MetaList(Punctuated<Meta, Token![,]>);

impl Parse for MetaList {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        Punctuated::parse_terminated(input).map(MetaList)
    }
}

pub fn parse(kind: Kind, tokens: TokenStream, errors: &mut Errors) -> Args {
    let mut args = Args::default();
    let metas = match MetaList::parse.parse2(tokens) {
        Ok(list) => list.0,
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!(
                    "{}: {e}; accepted arguments: {}",
                    kind.attr(),
                    kind.accepted()
                ),
            ));
            return args;
        }
    };
    let mut seen: Vec<String> = Vec::new();
    for meta in metas {
        let path = meta.path();
        let key = match path.get_ident() {
            Some(ident) => ident.to_string(),
            None if path.is_ident("crate") => "crate".to_string(),
            None => quote::quote!(#path).to_string().replace(' ', ""),
        };
        if !kind.keys().contains(&key.as_str()) {
            errors.push(unknown_key(kind, &key, path));
            continue;
        }
        if seen.contains(&key) {
            errors.push(syn::Error::new_spanned(
                path,
                format!("`{key}` is given twice in {}; keep one", kind.attr()),
            ));
            continue;
        }
        seen.push(key.clone());
        match key.as_str() {
            "name" => {
                args.name = string_value(kind, &meta, errors).filter(|s| check_name(s, errors))
            }
            "version" => {
                args.version =
                    string_value(kind, &meta, errors).filter(|s| check_version(s, errors))
            }
            "crate" => args.krate = crate_value(&meta, errors),
            "allow" => args.allow = allow_list(kind, &meta, errors),
            _ => {}
        }
    }
    args
}

fn unknown_key(kind: Kind, key: &str, path: &syn::Path) -> syn::Error {
    let mut message = format!(
        "unknown argument `{key}` in {}; accepted: {}",
        kind.attr(),
        kind.accepted()
    );
    let candidates: &[&str] = &["name", "version", "allow", "crate"];
    if let Some(best) = candidates
        .iter()
        .filter(|c| distance(c, key) <= 2)
        .min_by_key(|c| distance(c, key))
    {
        if kind.keys().contains(best) {
            message.push_str(&format!("\nhelp: did you mean `{best}`?"));
        }
    }
    match (kind, key) {
        (Kind::Activity, "version") => message.push_str(
            "\nnote: activities are not versioned: deploy a new activity under a new name instead",
        ),
        (Kind::Activity, "allow") => message.push_str(
            "\nnote: activities are never linted, so there is nothing to allow (they run once and may do I/O)",
        ),
        _ => {}
    }
    syn::Error::new_spanned(path, message)
}

fn string_value(kind: Kind, meta: &Meta, errors: &mut Errors) -> Option<LitStr> {
    let key = meta
        .path()
        .get_ident()
        .map(ToString::to_string)
        .unwrap_or_default();
    match meta {
        Meta::NameValue(nv) => match &nv.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Some(s.clone()),
            other => {
                errors.push(syn::Error::new_spanned(
                    other,
                    format!("`{key}` takes a string literal: `{key} = \"..\"`"),
                ));
                None
            }
        },
        _ => {
            errors.push(syn::Error::new_spanned(
                meta,
                format!("`{key}` takes a value in {}: `{key} = \"..\"`", kind.attr()),
            ));
            None
        }
    }
}

fn check_name(name: &LitStr, errors: &mut Errors) -> bool {
    let value = name.value();
    if value.trim().is_empty() || value.trim() != value {
        errors.push(syn::Error::new_spanned(
            name,
            "the registered name must be non-empty, without leading or trailing spaces",
        ));
        return false;
    }
    true
}

/// `MAJOR.MINOR.PATCH`, optionally with `-pre` and `+build` (semantic versioning).
fn check_version(version: &LitStr, errors: &mut Errors) -> bool {
    if is_semver(&version.value()) {
        return true;
    }
    errors.push(syn::Error::new_spanned(
        version,
        format!(
            "`{}` is not a semantic version; write `MAJOR.MINOR.PATCH`, e.g. `version = \"1.0.0\"`",
            version.value()
        ),
    ));
    false
}

pub fn is_semver(version: &str) -> bool {
    let (core, build) = match version.split_once('+') {
        Some((core, build)) => (core, Some(build)),
        None => (version, None),
    };
    let (core, pre) = match core.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (core, None),
    };
    let numbers: Vec<&str> = core.split('.').collect();
    let number_ok = |n: &&str| {
        !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && (n.len() == 1 || !n.starts_with('0'))
    };
    let ident_ok = |s: &str| {
        !s.is_empty()
            && s.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    };
    numbers.len() == 3
        && numbers.iter().all(number_ok)
        && pre.is_none_or(ident_ok)
        && build.is_none_or(ident_ok)
}

fn crate_value(meta: &Meta, errors: &mut Errors) -> Option<syn::Path> {
    let Meta::NameValue(nv) = meta else {
        errors.push(syn::Error::new_spanned(
            meta,
            "`crate` takes the path of the duroxide crate: `crate = \"::my_reexport::duroxide\"`",
        ));
        return None;
    };
    let parsed = match &nv.value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => s.parse::<syn::Path>(),
        Expr::Path(p) => Ok(p.path.clone()),
        other => Err(syn::Error::new_spanned(other, "expected a path")),
    };
    match parsed {
        Ok(path) => Some(path),
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                "`crate` takes the path of the duroxide crate: `crate = \"::my_reexport::duroxide\"`",
            ));
            None
        }
    }
}

fn allow_list(kind: Kind, meta: &Meta, errors: &mut Errors) -> Vec<&'static Lint> {
    let Meta::List(list) = meta else {
        errors.push(syn::Error::new_spanned(
            meta,
            format!(
                "`allow` takes lint ids in {}: `allow(D8)` or `allow(D1, D13)`",
                kind.attr()
            ),
        ));
        return Vec::new();
    };
    parse_lint_ids(list.tokens.clone(), errors)
}

/// Parses `D1, D8, wall_clock` into catalogue entries, reporting unknown ids.
pub fn parse_lint_ids(tokens: TokenStream, errors: &mut Errors) -> Vec<&'static Lint> {
    let parser = Punctuated::<syn::Ident, Token![,]>::parse_terminated;
    let ids = match parser.parse2(tokens.clone()) {
        Ok(ids) => ids,
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!(
                    "expected lint ids such as `D1, D8`; {}",
                    catalogue::known_ids()
                ),
            ));
            return Vec::new();
        }
    };
    if ids.is_empty() {
        errors.push(syn::Error::new(
            first_span(&tokens),
            format!(
                "name at least one lint to allow; {}",
                catalogue::known_ids()
            ),
        ));
    }
    let mut lints = Vec::new();
    for id in ids {
        let text = id.to_string();
        if text == "D14" {
            errors.push(syn::Error::new_spanned(
                &id,
                "D14 cannot be allowed: an annotated fn is never callable as a plain fn (use its `schedule` stub)",
            ));
            continue;
        }
        match catalogue::lookup(&text) {
            Some(lint) => lints.push(lint),
            None => errors.push(syn::Error::new_spanned(
                &id,
                format!(
                    "unknown determinism lint `{text}`; {}",
                    catalogue::known_ids()
                ),
            )),
        }
    }
    lints
}

fn first_span(tokens: &TokenStream) -> Span {
    tokens
        .clone()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |t| t.span())
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(row[j + 1])
            };
            prev = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_versions_follow_semver() {
        for ok in [
            "1.0.0",
            "0.1.2",
            "10.20.30",
            "1.0.0-alpha.1",
            "1.0.0+build.5",
        ] {
            assert!(is_semver(ok), "{ok}");
        }
        for bad in ["1.0", "1", "01.0.0", "1.0.0-", "v1.0.0", "1.0.0.0", ""] {
            assert!(!is_semver(bad), "{bad}");
        }
    }

    #[test]
    fn args_unknown_keys_suggest_the_closest() {
        assert_eq!(distance("nmae", "name"), 2);
        assert_eq!(distance("versoin", "version"), 2);
        let mut errors = Errors::default();
        parse(Kind::Activity, quote::quote!(nmae = "x"), &mut errors);
        let message = errors.into_vec()[0].to_string();
        assert!(message.contains("did you mean `name`"), "{message}");
    }
}
