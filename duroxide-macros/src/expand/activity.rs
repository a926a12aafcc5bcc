//! `#[activity]`: the marker type, `Activity` impl, stubs and registration.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::Ident;

use super::{
    arg_tuple, describe_args, doc, doc_at, input_type, local, marker, registered_name,
    result_parts, stub_params,
};
use crate::args::Args;
use crate::ast::DurableFn;

pub fn expand(model: &DurableFn, args: &Args, private: &TokenStream) -> TokenStream {
    let item = &model.item;
    let (vis, ident) = (&item.vis, &item.sig.ident);
    let name = registered_name(model, args);
    let cfgs = &model.cfgs;
    let (ok, err) = result_parts(model);
    let output = &model.output;
    let input = input_type(model);
    let params = stub_params(model);
    let tuple = arg_tuple(model);
    let (ctx, policy, value) = (local("ctx"), local("policy"), local("input"));
    let spread: Vec<Ident> = (0..model.args.len())
        .map(|i| Ident::new(&format!("arg{i}"), Span::mixed_site()))
        .collect();

    let summary = format!(
        "Activity `{}` (`#[activity]`): schedule it from an orchestration with \
         `{ident}::schedule(&ctx, ..)`; it is registered automatically.",
        name.value()
    );
    let marker = marker(model, &summary, private);

    // The body stays in a fn with the user's own signature, named `run`.
    let mut body = item.clone();
    body.sig.ident = Ident::new("run", ident.span());
    body.attrs.clone_from(&model.others);
    // Spanned on the fn, like the body: lints read docs only from the user's code.
    let run_doc = doc_at(
        ident.span(),
        &format!(
            "Runs the body of `{ident}` directly, without the runtime (for unit tests: pass \
         `ActivityContext::for_test(\"{}\")`). Orchestrations use `schedule` instead.\n\n\
         # Errors\n\nThe activity's own `Err`.",
            name.value()
        ),
    );
    let name_doc = doc(&format!("The registered name, `\"{}\"`.", name.value()));
    let schedule_doc = doc(&format!(
        "Schedules activity `{}` with {} and resolves with its result: `Ok` with its value, \
         or its own `Err`. The future is a `DurableFuture`, so it works with `select2` and \
         `join`.",
        name.value(),
        describe_args(model)
    ));
    let retry_doc = doc(&format!(
        "Schedules activity `{}` with retries by `policy` (durable backoff and per-attempt \
         timeouts); resolves with the first `Ok` or the last error.",
        name.value()
    ));

    quote! {
        #marker

        #(#cfgs)*
        const _: () = {
            impl #ident {
                #name_doc
                #vis const NAME: &'static str = #name;

                #run_doc
                // The macro requires `async` (the runtime awaits the body), so a body
                // without `.await` is not the user's mistake.
                #[allow(clippy::unused_async)]
                #body

                #schedule_doc
                #[allow(clippy::too_many_arguments)]
                #vis fn schedule(
                    #ctx: &#private::OrchestrationContext,
                    #(#params),*
                ) -> #private::DurableFuture<#output> {
                    #private::typed::schedule::<Self>(#ctx, #tuple)
                }

                #retry_doc
                #[allow(clippy::too_many_arguments)]
                #vis fn schedule_with_retry(
                    #ctx: &#private::OrchestrationContext,
                    #policy: #private::RetryPolicy,
                    #(#params),*
                ) -> impl #private::Future<Output = #output> + #private::Send + 'static + use<> {
                    #private::typed::schedule_with_retry::<Self>(#ctx, #policy, #tuple)
                }
            }

            impl #private::Activity for #ident {
                const NAME: &'static str = #name;
                type Input = #input;
                type Output = #ok;
                type Error = #err;

                fn run(
                    #ctx: #private::ActivityContext,
                    #value: Self::Input,
                ) -> impl #private::Future<
                    Output = #private::Result<Self::Output, Self::Error>,
                > + #private::Send + 'static {
                    let (#(#spread,)*) = #value;
                    #ident::run(#ctx, #(#spread),*)
                }
            }

            #private::inventory::submit! {
                #private::ActivityRegistration::new::<#ident>(
                    #private::file!(),
                    #private::line!(),
                    #private::module_path!(),
                )
            }
        };
    }
}
