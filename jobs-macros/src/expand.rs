//! `#[job]` on a handler: parse, validate, then generate.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Item, ItemFn};

use crate::codegen;
use crate::config::{self, Config};
use crate::errors::Errors;
use crate::keys::Site;
use crate::options::{self, OptionsSpec};
use crate::signature::{self, Handler};

/// Expands `#[job(args)] input`.
///
/// On any error the input is emitted unchanged beside the errors, so code
/// that calls the handler gets no errors of its own.
pub(crate) fn job(args: TokenStream, input: TokenStream) -> TokenStream {
    let function = match syn::parse2::<Item>(input.clone()) {
        Ok(Item::Fn(function)) => function,
        Ok(other) => return with_errors(input, not_a_function(&other)),
        Err(error) => return with_errors(input, error),
    };

    let mut errors = Errors::default();
    let mut config = Config::default();
    config.read_tokens(args, Site::Handler, &mut errors);
    let options = options::build(&config, &mut errors);
    let declared = config.declared.is_written();
    let (handler, fallback_payload) = match signature::analyze(&function, declared) {
        Ok(handler) => {
            let payload = handler.payload;
            (Some(handler), Some(payload))
        }
        Err(rejected) => {
            errors.push(rejected.error);
            (None, rejected.payload)
        }
    };
    let name = if declared {
        // The payload type's `JobPayload` implementation supplies the name.
        Some(String::new())
    } else {
        errors.take(job_name(&config, &function))
    };

    match (errors.finish(), handler, name) {
        (Ok(()), Some(handler), Some(_)) if declared => generate_declared(&handler, &config, &options),
        (Ok(()), Some(handler), Some(name)) => generate(&handler, &name, &options),
        (result, _, _) => {
            let error = result.expect_err("a handler or name is missing only after an error");
            // A fallback implementation keeps uses of the payload type, such
            // as `enqueue`, free of follow-on errors.
            let fallback = fallback_payload.filter(|_| !declared).map(|payload| {
                let name = function.sig.ident.to_string();
                let empty = OptionsSpec::empty();
                codegen::scoped(codegen::payload_impl(payload, &name, &empty))
            });
            let error = error.to_compile_error();
            quote! {
                #function
                #fallback
                #error
            }
        }
    }
}

fn generate(handler: &Handler<'_>, name: &str, options: &OptionsSpec) -> TokenStream {
    let function = handler.function;
    let payload_impl = codegen::payload_impl(handler.payload, name, options);
    let registration = codegen::registration(handler);
    let items = codegen::scoped(quote! {
        #payload_impl
        #registration
    });
    quote! {
        #function
        #items
    }
}

fn generate_declared(handler: &Handler<'_>, config: &Config, options: &OptionsSpec) -> TokenStream {
    let function = handler.function;
    let checks = codegen::declared_checks(handler.payload, config.name.get(), options);
    let registration = codegen::registration(handler);
    let items = codegen::scoped(quote! {
        #checks
        #registration
    });
    quote! {
        #function
        #items
    }
}

/// Picks the job name: the `name` key, else the function's name.
fn job_name(config: &Config, function: &ItemFn) -> syn::Result<String> {
    if let Some(name) = config.name.get() {
        return Ok(name.value.clone());
    }
    if config.name.is_written() {
        // The written name is invalid and already reported.
        return Ok(String::new());
    }
    let ident = &function.sig.ident;
    let name = ident.to_string();
    let name = name.trim_start_matches("r#").to_owned();
    config::check_name(&name).map_err(|problem| {
        syn::Error::new(
            ident.span(),
            format!(
                "the job name defaults to the function name, and {name:?} {problem}; set another with `#[job(name = \"...\")]`"
            ),
        )
    })?;
    Ok(name)
}

fn not_a_function(item: &Item) -> syn::Error {
    let (span, what) = match item {
        Item::Struct(item) => (item.struct_token.span, "a struct"),
        Item::Enum(item) => (item.enum_token.span, "an enum"),
        Item::Const(item) => (item.const_token.span, "a `const`"),
        Item::Static(item) => (item.static_token.span, "a `static`"),
        Item::Impl(item) => (item.impl_token.span, "an `impl` block"),
        other => (other.span(), "this item"),
    };
    let hint = match item {
        Item::Struct(_) | Item::Enum(_) => {
            "; to declare a payload type for a producer, use `#[derive(jobs::JobPayload)]` with `#[job(name = \"...\")]`"
        }
        _ => "",
    };
    syn::Error::new(
        span,
        format!("`#[job]` goes on an `async fn` handler, not on {what}{hint}"),
    )
}

fn with_errors(input: TokenStream, error: syn::Error) -> TokenStream {
    let error = error.to_compile_error();
    quote! {
        #input
        #error
    }
}
