//! Stage 2: the fn as a model, with its signature checked.
//!
//! Accepted: `[pub] async fn name(ctx: <Context>, arg: T, ..) -> Result<T, E>` where the
//! context is `ActivityContext` for `#[activity]` and `OrchestrationContext` for
//! `#[orchestration]`, taken by value as the first parameter; at most 16 more parameters
//! of owned serde types; no generics, `self`, `const`, `unsafe` or `extern`. Every
//! violation is reported on its own tokens and the checks go on, so all of them show at
//! once. (`#[deterministic]` accepts any fn and is only linted.)

use proc_macro2::{Span, TokenStream};
use quote::format_ident;
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, Ident, ItemFn, Pat, ReturnType, Type};

use crate::args::Kind;
use crate::fallback::Errors;

/// Tuples implement serde's traits up to 16 elements.
pub const MAX_ARGS: usize = 16;

/// An annotated activity or orchestration.
pub struct DurableFn {
    pub item: ItemFn,
    /// Doc comments (they document the generated type).
    pub docs: Vec<Attribute>,
    /// `#[cfg(..)]` attributes (they apply to everything generated).
    pub cfgs: Vec<Attribute>,
    /// Every other attribute (it stays on the fn that holds the body).
    pub others: Vec<Attribute>,
    pub ctx: Param,
    pub args: Vec<Param>,
    /// The declared return type, and its `Ok`/`Err` types (written out, or projections).
    pub output: Type,
    pub ok: Type,
    pub err: Type,
}

/// One parameter.
pub struct Param {
    pub pat: Box<Pat>,
    pub ty: Box<Type>,
    /// The name the stubs give it: the user's, for a plain `name` (or `mut name`) pattern.
    pub name: Ident,
}

impl DurableFn {
    pub fn ident(&self) -> &Ident {
        &self.item.sig.ident
    }
}

/// The context type each kind takes.
fn context_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Activity => "ActivityContext",
        _ => "OrchestrationContext",
    }
}

fn shape(kind: Kind) -> String {
    format!(
        "expected `async fn name(ctx: {}, arg: T, ..) -> Result<T, E>`",
        context_type(kind)
    )
}

/// Builds the model, or reports why it cannot (returning `None` only when the signature is
/// wrong; attribute mistakes are reported by `args` and do not stop the model).
pub fn parse(
    kind: Kind,
    item: ItemFn,
    private: &TokenStream,
    errors: &mut Errors,
) -> Option<DurableFn> {
    let before = errors.len();
    let sig = &item.sig;
    let attr = kind.attr();
    if let Some(token) = &sig.constness {
        errors.push(syn::Error::new_spanned(
            token,
            format!("{attr} fns cannot be `const`; {}", shape(kind)),
        ));
    }
    if let Some(token) = &sig.unsafety {
        errors.push(syn::Error::new_spanned(
            token,
            format!("{attr} fns cannot be `unsafe`; {}", shape(kind)),
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new_spanned(
            abi,
            format!("{attr} fns cannot be `extern`; {}", shape(kind)),
        ));
    }
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            format!(
                "{attr} needs an `async fn` (the runtime awaits it): write `async fn {}`",
                sig.ident
            ),
        ));
    }
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            format!(
                "{attr} fns cannot be generic: the runtime calls them by name with JSON input, so every type must be concrete"
            ),
        ));
    } else if let Some(clause) = &sig.generics.where_clause {
        errors.push(syn::Error::new_spanned(
            clause,
            format!("{attr} fns cannot have a `where` clause: every type must be concrete"),
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            variadic,
            format!("{attr} fns cannot be variadic; {}", shape(kind)),
        ));
    }

    let mut params = Vec::new();
    for (position, input) in sig.inputs.iter().enumerate() {
        match input {
            FnArg::Receiver(receiver) => errors.push(syn::Error::new_spanned(
                receiver,
                format!(
                    "{attr} must be a free fn, not a method: remove `self` (it is called by name, not on a value); {}",
                    shape(kind)
                ),
            )),
            FnArg::Typed(typed) => {
                let name = match &*typed.pat {
                    Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => p.ident.clone(),
                    _ => format_ident!("arg{}", position, span = Span::mixed_site()),
                };
                params.push(Param {
                    pat: typed.pat.clone(),
                    ty: typed.ty.clone(),
                    name,
                });
            }
        }
    }

    let ctx = take_context(kind, &mut params, sig, errors);
    for param in &params {
        check_argument(kind, &param.ty, errors);
    }
    if params.len() > MAX_ARGS {
        errors.push(syn::Error::new_spanned(
            &params[MAX_ARGS].pat,
            format!(
                "{attr} fns take at most {MAX_ARGS} arguments after the context (they travel as a tuple); group them in a struct"
            ),
        ));
    }
    let (output, ok, err) = result_types(kind, &sig.output, sig, private, errors)?;

    if errors.len() != before {
        return None;
    }
    let ctx = ctx?;
    let (docs, rest): (Vec<_>, Vec<_>) = item
        .attrs
        .iter()
        .cloned()
        .partition(|a| a.path().is_ident("doc"));
    let (cfgs, others): (Vec<_>, Vec<_>) = rest.into_iter().partition(|a| a.path().is_ident("cfg"));
    Some(DurableFn {
        item,
        docs,
        cfgs,
        others,
        ctx,
        args: params,
        output,
        ok,
        err,
    })
}

/// The last path segment of a type, seen through references and parentheses.
fn type_name(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.to_string()),
        Type::Paren(p) => type_name(&p.elem),
        Type::Group(g) => type_name(&g.elem),
        _ => None,
    }
}

fn is_context(ty: &Type) -> Option<String> {
    let ty = match ty {
        Type::Reference(r) => &*r.elem,
        other => other,
    };
    type_name(ty).filter(|n| n == "ActivityContext" || n == "OrchestrationContext")
}

/// Removes and returns the context parameter, reporting a missing, misplaced, borrowed or
/// wrong-kind one.
fn take_context(
    kind: Kind,
    params: &mut Vec<Param>,
    sig: &syn::Signature,
    errors: &mut Errors,
) -> Option<Param> {
    let attr = kind.attr();
    let wanted = context_type(kind);
    let first_is_context = params.first().is_some_and(|p| is_context(&p.ty).is_some());
    // Any context after the first parameter is misplaced (or a second one).
    for (position, param) in params.iter().enumerate().skip(1) {
        if is_context(&param.ty).is_some() {
            let message = if first_is_context {
                format!("{attr} fns take one context parameter, the first")
            } else {
                format!(
                    "the context must be the first parameter of an {attr} fn (found it at position {}); {}",
                    position + 1,
                    shape(kind)
                )
            };
            errors.push(syn::Error::new_spanned(&param.ty, message));
        }
    }
    if !first_is_context {
        if !params.iter().any(|p| is_context(&p.ty).is_some()) {
            let span = sig.paren_token.span.join();
            errors.push(syn::Error::new(
                span,
                format!(
                    "{attr} fns take the context as their first parameter: add `ctx: {wanted}`; {}",
                    shape(kind)
                ),
            ));
        }
        return None;
    }
    let ctx = params.remove(0);
    let name = is_context(&ctx.ty).unwrap_or_default();
    if let Type::Reference(_) = &*ctx.ty {
        errors.push(syn::Error::new_spanned(
            &ctx.ty,
            format!("take the context by value: `ctx: {wanted}` (it is cheap to clone)"),
        ));
    } else if name != wanted {
        let why = match kind {
            Kind::Activity => "an activity runs once, outside replay, and receives an `ActivityContext`; `OrchestrationContext` belongs to `#[orchestration]` fns",
            _ => "an orchestration receives an `OrchestrationContext` to schedule work; `ActivityContext` belongs to `#[activity]` fns",
        };
        errors.push(syn::Error::new_spanned(
            &ctx.ty,
            format!("{attr} fns take `{wanted}`, not `{name}`: {why}"),
        ));
    }
    Some(ctx)
}

/// Arguments are decoded from JSON: they must own their data and be concrete.
fn check_argument(kind: Kind, ty: &Type, errors: &mut Errors) {
    let attr = kind.attr();
    match ty {
        Type::Reference(r) => {
            let suggestion = match type_name(&r.elem).as_deref() {
                Some("str") => "`String`".to_string(),
                _ => "an owned type".to_string(),
            };
            errors.push(syn::Error::new_spanned(
                ty,
                format!(
                    "{attr} arguments are decoded from JSON, so they must own their data: use {suggestion} instead of a reference"
                ),
            ));
        }
        Type::ImplTrait(_) => errors.push(syn::Error::new_spanned(
            ty,
            format!("{attr} fns cannot be generic (`impl Trait` is a generic parameter): use a concrete serde type"),
        )),
        Type::Infer(_) | Type::Never(_) | Type::TraitObject(_) | Type::Slice(_) => {
            errors.push(syn::Error::new_spanned(
                ty,
                format!("{attr} arguments must be concrete, owned serde types"),
            ));
        }
        _ => {}
    }
}

/// Type names that are certainly not a `Result` (anything else is checked by the compiler,
/// so that aliases such as `type Res<T> = Result<T, MyError>` work).
const NOT_RESULT: &[&str] = &[
    "Option", "String", "Vec", "Box", "bool", "char", "str", "u8", "u16", "u32", "u64", "u128",
    "usize", "i8", "i16", "i32", "i64", "i128", "isize", "f32", "f64", "HashMap", "BTreeMap",
];

fn result_types(
    kind: Kind,
    output: &ReturnType,
    sig: &syn::Signature,
    private: &TokenStream,
    errors: &mut Errors,
) -> Option<(Type, Type, Type)> {
    let attr = kind.attr();
    let explain = format!(
        "{attr} fns must return `Result<T, E>` (T and E serde types; `Result<T, String>` if you have no error type): the `Err` travels back to the caller"
    );
    let ty = match output {
        ReturnType::Default => {
            let span = sig.paren_token.span.close();
            errors.push(syn::Error::new(
                span,
                format!("missing return type; {explain}"),
            ));
            return None;
        }
        ReturnType::Type(_, ty) => ty,
    };
    let certainly_not = match &**ty {
        Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?;
            NOT_RESULT.contains(&last.ident.to_string().as_str())
        }
        Type::Tuple(_)
        | Type::Reference(_)
        | Type::Array(_)
        | Type::Slice(_)
        | Type::Never(_)
        | Type::ImplTrait(_)
        | Type::TraitObject(_)
        | Type::Ptr(_)
        | Type::BareFn(_)
        | Type::Infer(_) => true,
        _ => false,
    };
    if certainly_not {
        errors.push(syn::Error::new_spanned(ty, explain));
        return None;
    }
    let last = match &**ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        _ => None,
    };
    let Some(last) = last.filter(|last| last.ident == "Result") else {
        // A differently named alias cannot be told from any other type by its tokens.
        errors.push(syn::Error::new_spanned(
            ty,
            format!("{explain}\nnote: a type alias works if it is named `Result` (e.g. `io::Result<T>`)"),
        ));
        return None;
    };
    if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
        let types: Vec<&Type> = args
            .args
            .iter()
            .filter_map(|a| match a {
                syn::GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect();
        if let [ok, err] = types.as_slice() {
            return Some(((**ty).clone(), (*ok).clone(), (*err).clone()));
        }
    }
    // An alias such as `io::Result<T>`: let the compiler find T and E.
    let span = ty.span();
    let ok: Type = syn::parse_quote_spanned!(span=> <#ty as #private::ResultParts>::Ok);
    let err: Type = syn::parse_quote_spanned!(span=> <#ty as #private::ResultParts>::Err);
    Some(((**ty).clone(), ok, err))
}
