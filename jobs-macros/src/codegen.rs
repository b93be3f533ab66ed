//! Generates the code that `#[job]` adds beside the handler.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::config::BackoffKind;
use crate::duration;
use crate::options::{BackoffSpec, OptionsSpec};
use crate::signature::Handler;

/// Generates the `JobPayload` implementation of a payload type.
pub(crate) fn payload_impl(payload: &syn::Type, name: &str, options: &OptionsSpec) -> TokenStream {
    let options = options_expr(options);
    quote! {
        impl ::jobs::JobPayload for #payload {
            const NAME: &'static ::core::primitive::str = #name;
            const OPTIONS: ::jobs::JobOptions = #options;
        }
    }
}

/// Builds `JobOptions::DEFAULT` with a builder call for each key that was written.
pub(crate) fn options_expr(options: &OptionsSpec) -> TokenStream {
    let mut expr = quote!(::jobs::JobOptions::DEFAULT);
    if let Some(max_attempts) = &options.max_attempts {
        let value = max_attempts.value;
        expr = quote!(#expr.max_attempts(#value));
    }
    if let Some(backoff) = &options.backoff {
        let backoff = backoff_expr(backoff);
        expr = quote!(#expr.backoff(#backoff));
    }
    if let Some(timeout) = &options.timeout {
        let value = duration::to_tokens(timeout.value);
        expr = quote!(#expr.timeout(#value));
    }
    if let Some(visibility_timeout) = &options.visibility_timeout {
        let value = duration::to_tokens(visibility_timeout.value);
        expr = quote!(#expr.visibility_timeout(#value));
    }
    expr
}

fn backoff_expr(backoff: &BackoffSpec) -> TokenStream {
    let base_seconds = backoff.base_seconds();
    let base = quote!(::core::time::Duration::from_secs(#base_seconds));
    match backoff.kind() {
        BackoffKind::Linear => quote!(::jobs::Backoff::linear(#base)),
        BackoffKind::Exponential => {
            let max_delay = duration::to_tokens(backoff.max_delay());
            let jitter = backoff.jitter();
            quote!(::jobs::Backoff::exponential(#base, #max_delay, #jitter))
        }
    }
}

/// Generates the type-erased handler function and its `inventory` registration.
pub(crate) fn registration(handler: &Handler<'_>) -> TokenStream {
    let function = &handler.function.sig.ident;
    let function_name = function.to_string();
    let function_name = function_name.trim_start_matches("r#");
    let erased = format_ident!("__jobs_handler_{}", function_name);
    let payload = handler.payload;
    let payload_name = type_name(payload);

    // Each check is spanned at the user's code, so a type error lands there.
    let decode = quote_spanned! {payload.span()=>
        ::jobs::__private::decode_payload::<#payload>(&invocation, #payload_name)
    };
    let output_type = match handler.output {
        Some(output) => quote!(#output),
        None => quote!(()),
    };
    let output_span = handler.output.map_or(function.span(), Spanned::span);
    let convert = quote_spanned! {output_span=>
        ::jobs::__private::into_handler_result::<#output_type>(output)
    };
    let call = quote_spanned! {function.span()=>
        ::jobs::__private::require_send(#function(payload))
    };
    let location = quote_spanned! {function.span()=>
        ::jobs::Origin {
            path: ::core::concat!(::core::module_path!(), "::", #function_name),
            file: ::core::file!(),
            line: ::core::line!(),
        }
    };

    quote! {
        #[doc(hidden)]
        fn #erased(
            invocation: ::jobs::Invocation,
        ) -> ::jobs::__private::BoxFuture<
            ::core::result::Result<::jobs::JobResult, ::jobs::__private::HandlerFailure>,
        > {
            ::std::boxed::Box::pin(async move {
                let payload = match #decode {
                    ::core::result::Result::Ok(payload) => payload,
                    ::core::result::Result::Err(failure) => {
                        return ::core::result::Result::Err(failure);
                    }
                };
                let output = #call.await;
                #convert
            })
        }

        ::jobs::__private::inventory::submit! {
            ::jobs::__private::JobRegistration::new(
                <#payload as ::jobs::JobPayload>::NAME,
                <#payload as ::jobs::JobPayload>::OPTIONS,
                #erased,
                ::jobs::__private::check_payload::<#payload>,
                #payload_name,
                #location,
            )
        }
    }
}

/// Formats the payload type as written, for messages: `Vec<u8>`, not `Vec < u8 >`.
fn type_name(ty: &syn::Type) -> String {
    let spaced = quote!(#ty).to_string();
    let mut name = String::with_capacity(spaced.len());
    let mut previous = ' ';
    let mut chars = spaced.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied().unwrap_or(' ');
        let around_punct = |other: char| matches!(other, ':' | '<' | '>' | '&' | '(' | ')' | '[' | ']' | ',');
        let keep = c != ' ' || !(around_punct(previous) || around_punct(next)) || previous == ',';
        if keep {
            name.push(c);
        }
        previous = c;
    }
    name
}

/// Wraps `items` in an anonymous constant, so nothing generated can clash with
/// a name in the user's module.
pub(crate) fn scoped(items: TokenStream) -> TokenStream {
    quote! {
        #[doc(hidden)]
        const _: () = {
            #items
        };
    }
}
