//! Stage 4: generating code, and the pipeline that runs the stages in order.
//!
//! For `#[activity] async fn charge(..)` / `#[orchestration] async fn checkout(..)` the
//! expansion is, in the user's module:
//!
//! - `struct charge {}`: a marker type (type namespace only, so `let charge = ..` still
//!   works) carrying the fn's docs, with the typed stubs as associated items and an
//!   implementation of `duroxide::Activity` / `duroxide::Orchestration`;
//! - `fn charge<C: DirectCall<charge>>(..)`: a stand-in in the value namespace that can never
//!   be called (D14), so `charge(ctx, ..)` fails with a message naming the stub to use;
//! - inside `const _: () = { .. }`: the impls and the `inventory::submit!` registration, so
//!   no helper name reaches the user's namespace.
//!
//! Generated code names only `#private::..` (by default `::duroxide::__private`).

mod activity;
mod orchestration;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ItemFn, LitStr, Pat, Type};

use crate::args::{self, Args, Kind};
use crate::ast::{self, DurableFn};
use crate::fallback::{self, Errors};
use crate::lints::{self, Target};
use crate::paths::Scope;

/// Runs the stages for one annotated item.
pub fn run(
    kind: Kind,
    args: TokenStream,
    item: TokenStream,
    source: Option<String>,
) -> TokenStream {
    let mut errors = Errors::default();
    let args = args::parse(kind, args, &mut errors);
    let mut item: ItemFn = match syn::parse2(item.clone()) {
        Ok(item) => item,
        Err(_) => {
            let at = item
                .clone()
                .into_iter()
                .find(|t| !matches!(t, proc_macro2::TokenTree::Punct(p) if p.as_char() == '#'))
                .map_or_else(Span::call_site, |t| t.span());
            errors.push(syn::Error::new(
                at,
                format!(
                    "{} goes on a fn: `async fn name(ctx: {}, ..) -> Result<T, E>`",
                    kind.attr(),
                    if kind == Kind::Activity {
                        "ActivityContext"
                    } else {
                        "OrchestrationContext"
                    }
                ),
            ));
            return fallback::untouched(item, &errors);
        }
    };

    check_and_strip(kind, &args, &mut item, source.as_deref(), &mut errors);
    if kind == Kind::Deterministic {
        let errors = errors.to_compile_errors();
        return quote! { #item #errors };
    }

    let private = private_path(&args);
    let Some(model) = ast::parse(kind, item.clone(), &private, &mut errors) else {
        return fallback::user_item(&item, &errors);
    };
    let expansion = match kind {
        Kind::Activity => activity::expand(&model, &args, &private),
        _ => orchestration::expand(&model, &args, &private),
    };
    let errors = errors.to_compile_errors();
    quote! { #expansion #errors }
}

/// Lints the body (orchestrations and deterministic fns) and strips `#[duroxide::allow]`.
fn check_and_strip(
    kind: Kind,
    args: &Args,
    item: &mut ItemFn,
    source: Option<&str>,
    errors: &mut Errors,
) {
    let scope = if kind == Kind::Activity {
        Scope::default()
    } else {
        Scope::for_fn(source, &item.sig.ident.to_string())
    };
    let params: Vec<(&Pat, &Type)> = item
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(t) => Some((&*t.pat, &*t.ty)),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let ctx_name = params
        .iter()
        .find(|(_, ty)| {
            matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident.to_string().ends_with("Context")))
        })
        .and_then(|(pat, _)| match pat {
            // `_ctx` is unused so far; the suggestion shows it in use.
            Pat::Ident(p) => Some(p.ident.to_string().trim_start_matches('_').to_string()),
            _ => None,
        })
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "ctx".to_string());
    let target = Target {
        kind,
        fn_name: item.sig.ident.to_string(),
        ctx_name,
        allowed: &args.allow,
        scope,
        params,
    };
    let mut body = (*item.block).clone();
    lints::run(&target, &mut body, errors);
    *item.block = body;
}

fn private_path(args: &Args) -> TokenStream {
    match &args.krate {
        Some(krate) => quote!(#krate::__private),
        None => quote!(::duroxide::__private),
    }
}

/// The registered name: `name = ".."` or the fn's name.
fn registered_name(model: &DurableFn, args: &Args) -> LitStr {
    args.name
        .clone()
        .unwrap_or_else(|| LitStr::new(&model.ident().to_string(), model.ident().span()))
}

/// A hygienic name for a generated local (invisible to the user's code).
fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// `name: Type` for each argument, as the stubs declare them.
fn stub_params(model: &DurableFn) -> Vec<TokenStream> {
    model
        .args
        .iter()
        .map(|a| {
            let (name, ty) = (&a.name, &a.ty);
            quote!(#name: #ty)
        })
        .collect()
}

/// `(a, b,)`: the argument tuple built from the stub parameters.
fn arg_tuple(model: &DurableFn) -> TokenStream {
    let names = model.args.iter().map(|a| &a.name);
    quote!((#(#names,)*))
}

/// The `Input` type: the argument types as a tuple, spanned on the parameter list so a
/// non-serde argument is reported there.
fn input_type(model: &DurableFn) -> TokenStream {
    let span = model.item.sig.paren_token.span.join();
    let types = model.args.iter().map(|a| &a.ty);
    quote_spanned!(span=> (#(#types,)*))
}

/// The `Output`/`Error` associated types, spanned on the return type.
fn result_parts(model: &DurableFn) -> (TokenStream, TokenStream) {
    let span = model.output.span();
    let (ok, err) = (&model.ok, &model.err);
    (quote_spanned!(span=> #ok), quote_spanned!(span=> #err))
}

/// The marker type and the never-callable stand-in (D14). The stand-in returns a future
/// of the declared output, so `f(ctx, ..).await?` reports the direct call and nothing else.
fn marker(model: &DurableFn, summary: &str, private: &TokenStream) -> TokenStream {
    let item = &model.item;
    let (vis, ident) = (&item.vis, &item.sig.ident);
    let (docs, cfgs) = (&model.docs, &model.cfgs);
    let separator = if docs.is_empty() {
        quote!()
    } else {
        quote!(#[doc = ""])
    };
    let summary = LitStr::new(summary, Span::call_site());
    let arg_types = model.args.iter().map(|a| &a.ty);
    let output = &model.output;
    let context = format_ident!("DuroxideContext");
    let value = local("context");
    quote! {
        #(#cfgs)*
        #(#docs)*
        #separator
        #[doc = #summary]
        #[allow(non_camel_case_types, dead_code)]
        #[derive(Debug, Clone, Copy)]
        #vis struct #ident {}

        #(#cfgs)*
        #[doc(hidden)]
        #[allow(dead_code, clippy::too_many_arguments, clippy::needless_pass_by_value)]
        #vis fn #ident<#context: #private::DirectCall<#ident>>(
            #value: #context,
            #(_: #arg_types),*
        ) -> #private::Pending<#output> {
            match <#context as #private::DirectCall<#ident>>::unreachable(#value) {}
        }
    }
}

/// A `#[doc = ".."]` attribute.
fn doc(text: &str) -> TokenStream {
    doc_at(Span::call_site(), text)
}

/// A `#[doc = ".."]` attribute with the given span.
fn doc_at(span: Span, text: &str) -> TokenStream {
    let text = LitStr::new(text, span);
    quote_spanned!(span=> #[doc = #text])
}

/// "`a`, `b`" for docs, or "no arguments".
fn describe_args(model: &DurableFn) -> String {
    if model.args.is_empty() {
        return "no arguments".to_string();
    }
    let names: Vec<String> = model.args.iter().map(|a| format!("`{}`", a.name)).collect();
    names.join(", ")
}
