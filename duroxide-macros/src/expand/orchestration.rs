//! `#[orchestration]`: the marker type, `Orchestration` impl, stubs and registration.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::LitStr;

use super::{
    arg_tuple, describe_args, doc, input_type, local, marker, registered_name, result_parts,
    stub_params,
};
use crate::args::Args;
use crate::ast::DurableFn;

pub fn expand(model: &DurableFn, args: &Args, private: &TokenStream) -> TokenStream {
    let item = &model.item;
    let (vis, ident) = (&item.vis, &item.sig.ident);
    let name = registered_name(model, args);
    let version = args
        .version
        .clone()
        .unwrap_or_else(|| LitStr::new("1.0.0", Span::call_site()));
    let cfgs = &model.cfgs;
    let others = &model.others;
    let (ok, err) = result_parts(model);
    let output = &model.output;
    let input = input_type(model);
    let params = stub_params(model);
    let tuple = arg_tuple(model);
    let (ctx, client, id, timeout, value) = (
        local("ctx"),
        local("client"),
        local("id"),
        local("timeout"),
        local("input"),
    );
    let (ctx_pat, ctx_ty) = (&model.ctx.pat, &model.ctx.ty);
    let arg_pats = model.args.iter().map(|a| &a.pat);
    let block = &item.block;
    let asyncness = &item.sig.asyncness;

    let (n, v) = (name.value(), version.value());
    let summary = format!(
        "Orchestration `{n}` version `{v}` (`#[orchestration]`): start it with \
         `{ident}::start(&client, id, ..)` and read its result with `{ident}::wait`; \
         run it as a sub-orchestration with `{ident}::schedule(&ctx, ..)`. It is registered \
         automatically."
    );
    let marker = marker(model, &summary, private);
    let args_doc = describe_args(model);
    let name_doc = doc(&format!("The registered name, `\"{n}\"`."));
    let version_doc = doc(&format!("The registered version, `\"{v}\"`."));
    let schedule_doc = doc(&format!(
        "Runs orchestration `{n}` {v} as a sub-orchestration with {args_doc} (child instance \
         id derived from the parent) and resolves with its result."
    ));
    let schedule_id_doc = doc(&format!(
        "Runs orchestration `{n}` {v} as a sub-orchestration under instance id `id` and \
         resolves with its result."
    ));
    let detached_doc = doc(&format!(
        "Starts an independent instance `id` of orchestration `{n}` {v} (fire-and-forget; \
         recorded in history, so replay does not start it twice)."
    ));
    let start_doc = doc(&format!(
        "Starts a new instance `id` of orchestration `{n}` {v} with {args_doc}.\n\n\
         # Errors\n\n`ClientError::InstanceAlreadyExists` if `id` is taken; store and \
         encoding errors."
    ));
    let wait_doc = doc(&format!(
        "Waits up to `timeout` for instance `id` of `{n}` and returns its typed result: \
         `Ok(Ok(value))`, or `Ok(Err(e))` with the orchestration's own error.\n\n\
         # Errors\n\nA `WaitError` for everything else: timeout, cancellation, \
         infrastructure or configuration failure, panic, unknown instance."
    ));

    quote! {
        #marker

        #(#cfgs)*
        const _: () = {
            impl #ident {
                #name_doc
                #vis const NAME: &'static str = #name;
                #version_doc
                #vis const VERSION: &'static str = #version;

                #schedule_doc
                #[allow(clippy::too_many_arguments)]
                #vis fn schedule(
                    #ctx: &#private::OrchestrationContext,
                    #(#params),*
                ) -> #private::DurableFuture<#output> {
                    #private::typed::schedule_orchestration::<Self>(#ctx, #tuple)
                }

                #schedule_id_doc
                #[allow(clippy::too_many_arguments)]
                #vis fn schedule_with_id(
                    #ctx: &#private::OrchestrationContext,
                    #id: impl #private::Into<#private::String>,
                    #(#params),*
                ) -> #private::DurableFuture<#output> {
                    #private::typed::schedule_orchestration_with_id::<Self>(#ctx, #id, #tuple)
                }

                #detached_doc
                #[allow(clippy::too_many_arguments)]
                #vis fn start_detached(
                    #ctx: &#private::OrchestrationContext,
                    #id: impl #private::Into<#private::String>,
                    #(#params),*
                ) {
                    #private::typed::start_detached::<Self>(#ctx, #id, #tuple);
                }

                #start_doc
                #[allow(clippy::too_many_arguments)]
                #vis async fn start(
                    #client: &#private::Client,
                    #id: impl #private::AsRef<#private::str>,
                    #(#params),*
                ) -> #private::Result<(), #private::ClientError> {
                    #private::typed::start::<Self>(#client, #id, #tuple).await
                }

                #wait_doc
                #vis async fn wait(
                    #client: &#private::Client,
                    #id: impl #private::AsRef<#private::str>,
                    #timeout: #private::Duration,
                ) -> #private::Result<#output, #private::WaitError> {
                    #private::typed::wait::<Self>(#client, #id, #timeout).await
                }
            }

            impl #private::Orchestration for #ident {
                const NAME: &'static str = #name;
                const VERSION: &'static str = #version;
                type Input = #input;
                type Output = #ok;
                type Error = #err;

                #(#others)*
                #[allow(clippy::unused_async)]
                #asyncness fn run(#ctx_pat: #ctx_ty, #value: Self::Input) -> #output {
                    let (#(#arg_pats,)*) = #value;
                    #block
                }
            }

            #private::inventory::submit! {
                #private::OrchestrationRegistration::new::<#ident>(
                    #private::file!(),
                    #private::line!(),
                    #private::module_path!(),
                )
            }
        };
    }
}
