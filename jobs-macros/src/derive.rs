//! `#[derive(JobPayload)]`: a payload type that declares its job name and
//! options itself, for crates that enqueue jobs without linking the handlers.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{DeriveInput, Meta};

use crate::codegen;
use crate::config::Config;
use crate::errors::Errors;
use crate::keys::Site;
use crate::options::{self, OptionsSpec};

/// Expands `#[derive(JobPayload)]` with its `#[job(...)]` attributes.
pub(crate) fn job_payload(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let ident = &input.ident;
    let mut errors = Errors::default();

    let mut config = Config::default();
    for attribute in input.attrs.iter().filter(|attribute| attribute.path().is_ident("job")) {
        match &attribute.meta {
            Meta::List(list) => config.read_tokens(list.tokens.clone(), Site::PayloadType, &mut errors),
            Meta::Path(_) | Meta::NameValue(_) => errors.push(syn::Error::new_spanned(
                attribute,
                format!(
                    "write the job name and options as `#[job(name = \"...\")]` (valid keys: {})",
                    Site::PayloadType.valid_keys()
                ),
            )),
        }
    }
    let options = options::build(&config, &mut errors);

    let generic = !input.generics.params.is_empty() || input.generics.where_clause.is_some();
    if generic {
        errors.push_at(
            input.generics.span(),
            "`JobPayload` cannot be derived for a generic type: a job name stands for one concrete payload type; derive it for a type without generic parameters",
        );
    }
    let name = match config.name.get() {
        Some(name) => name.value.clone(),
        None => {
            if !config.name.is_written() {
                errors.push_at(
                    ident.span(),
                    format!(
                        "missing job name for `{ident}`; add `#[job(name = \"...\")]` with the name its handler is registered under"
                    ),
                );
            }
            ident.to_string()
        }
    };

    let payload: syn::Type = syn::parse_quote!(#ident);
    match errors.finish() {
        Ok(()) => codegen::scoped(codegen::payload_impl(&payload, &name, &options)),
        Err(error) => {
            // The fallback implementation keeps uses of the type, such as
            // `enqueue`, free of follow-on errors. A generic type gets none,
            // because an implementation for it would need the parameters.
            let fallback =
                (!generic).then(|| codegen::scoped(codegen::payload_impl(&payload, &name, &OptionsSpec::empty())));
            let error = error.to_compile_error();
            quote! {
                #fallback
                #error
            }
        }
    }
}
