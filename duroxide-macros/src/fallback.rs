//! Stage 5: what to emit when something went wrong.
//!
//! Every stage pushes its errors into one [`Errors`] and carries on, so one compile reports
//! every mistake (serde_derive's habit). What is emitted then depends on how far the model
//! got: with a valid signature, the full expansion plus the errors (callers of the stubs
//! see no secondary errors); without one, the user's fn unchanged (minus our attributes) so
//! its body is still checked and the IDE keeps working (tokio's habit).

use proc_macro2::TokenStream;
use quote::quote;

/// The errors of one macro invocation.
#[derive(Default)]
pub struct Errors(Vec<syn::Error>);

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        self.0.push(error);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    #[cfg(test)]
    pub fn into_vec(self) -> Vec<syn::Error> {
        self.0
    }

    /// One `compile_error!` per error, each on its own span.
    pub fn to_compile_errors(&self) -> TokenStream {
        self.0.iter().map(syn::Error::to_compile_error).collect()
    }
}

/// The user's fn, emitted as written (our attribute is already gone, `#[duroxide::allow]`
/// stripped from its body), with the errors. `dead_code` is allowed so the errors stand
/// alone.
pub fn user_item(item: &syn::ItemFn, errors: &Errors) -> TokenStream {
    let errors = errors.to_compile_errors();
    quote! {
        #[allow(dead_code)]
        #item
        #errors
    }
}

/// The item did not even parse as a fn: emit it untouched with the errors.
pub fn untouched(item: TokenStream, errors: &Errors) -> TokenStream {
    let errors = errors.to_compile_errors();
    quote! { #item #errors }
}
