//! Generates the code that `#[job]` adds beside the handler.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::config::{BackoffKind, Setting};
use crate::duration;
use crate::options::{BackoffSpec, OptionsSpec};
use crate::signature::Handler;
use crate::types;

/// Generates the `JobPayload` implementation of a payload type.
///
/// The implementation is spanned at the payload type, so rustc's errors about
/// it land there. Two handlers of one payload type get E0119, "conflicting
/// implementations of trait `JobPayload`", with a label at each handler's
/// payload type.
///
/// NOTE: rustc's coherence check reports that conflict in its own words, and
/// no stable attribute adds text to it. A second, explanatory error would
/// need a construct that only fails when two handlers exist, and every one of
/// those (a duplicate inherent item, an ambiguous marker trait) also fails in
/// rustc's own words, so the rule is stated in the `#[job]` documentation.
///
/// NOTE: a payload type without `Serialize` or `Deserialize` fails the
/// supertraits of `JobPayload` here, with serde's messages. An assertion
/// with its own `#[diagnostic::on_unimplemented]` text would add a second
/// error for the same cause: this implementation still fails, and a `where`
/// clause naming the assertion trait either puts serde's bound back through
/// supertrait elaboration or leaves the supertraits unproven.
pub(crate) fn payload_impl(payload: &syn::Type, name: &str, options: &OptionsSpec) -> TokenStream {
    let options = options_expr(options);
    quote_spanned! {payload.span()=>
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
///
/// The payload type and each extractor type are named once, in a slot
/// implementation spanned at the user's type, so a wrong type gets one error
/// there. Generated names are prefixed `__jobs_` so they cannot shadow the
/// handler, whatever it is called.
pub(crate) fn registration(handler: &Handler<'_>) -> TokenStream {
    let function = &handler.function.sig.ident;
    let function_name = function.to_string();
    let function_name = function_name.trim_start_matches("r#");
    let erased = format_ident!("__jobs_handler_{}", function_name);
    let payload = handler.payload;
    let payload_name = types::written(payload);

    let payload_slot = quote_spanned! {payload.span()=>
        impl ::jobs::__private::PayloadSlot for __JobsPayload {
            type Payload = #payload;
        }
    };
    let extractor_slots: Vec<_> = (1..=handler.extractors.len())
        .map(|index| format_ident!("__JobsExtractor{}", index))
        .collect();
    let extractor_slot_impls = handler
        .extractors
        .iter()
        .zip(&extractor_slots)
        .map(|(extractor, slot)| {
            quote_spanned! {extractor.span()=>
                struct #slot;
                impl ::jobs::__private::ExtractorSlot for #slot {
                    type Extractor = #extractor;
                }
            }
        });
    let arguments: Vec<_> = (1..=handler.extractors.len())
        .map(|index| format_ident!("__jobs_argument_{}", index))
        .collect();
    let extractions = extractor_slots.iter().zip(&arguments).map(|(slot, argument)| {
        quote! {
            let #argument = match ::jobs::__private::extract::<#slot>(&__jobs_invocation) {
                ::core::result::Result::Ok(value) => value,
                ::core::result::Result::Err(failure) => return ::core::result::Result::Err(failure),
            };
        }
    });

    // The conversion and the `Send` check are spanned at the user's return
    // type and function name, so their errors land there.
    let output_type = match handler.output {
        Some(output) => quote!(#output),
        None => quote!(()),
    };
    let output_span = handler.output.map_or(function.span(), Spanned::span);
    let convert = quote_spanned! {output_span=>
        ::jobs::__private::into_handler_result::<#output_type>(__jobs_output)
    };
    let call = quote_spanned! {function.span()=>
        ::jobs::__private::require_send(#function(__jobs_payload #(, #arguments)*))
    };
    let location = quote_spanned! {function.span()=>
        ::jobs::Origin {
            path: ::core::concat!(::core::module_path!(), "::", #function_name),
            file: ::core::file!(),
            line: ::core::line!(),
        }
    };

    quote! {
        struct __JobsPayload;
        #payload_slot
        #(#extractor_slot_impls)*

        #[doc(hidden)]
        fn #erased(
            __jobs_invocation: ::jobs::Invocation,
        ) -> ::jobs::__private::BoxFuture<
            ::core::result::Result<::jobs::JobResult, ::jobs::__private::HandlerFailure>,
        > {
            ::std::boxed::Box::pin(async move {
                let __jobs_payload =
                    match ::jobs::__private::decode_payload::<__JobsPayload>(&__jobs_invocation, #payload_name) {
                        ::core::result::Result::Ok(payload) => payload,
                        ::core::result::Result::Err(failure) => return ::core::result::Result::Err(failure),
                    };
                #(#extractions)*
                let __jobs_output = #call.await;
                #convert
            })
        }

        const __JOBS_STATE: &[::core::option::Option<::jobs::StateRequirement>] =
            &[#(::jobs::__private::state_of::<#extractor_slots>()),*];

        ::jobs::__private::inventory::submit! {
            ::jobs::__private::JobRegistration::new(
                ::jobs::__private::name_of::<__JobsPayload>(),
                ::jobs::__private::options_of::<__JobsPayload>(),
                #erased,
                ::jobs::__private::check_payload_of::<__JobsPayload>,
                #payload_name,
                #location,
            )
            .with_state(__JOBS_STATE)
        }
    }
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

/// Generates a `const` assertion for each key written on a
/// `#[job(declared)]` handler, checking that the payload type declares the
/// same value. Each assertion is spanned at the value written on the handler.
pub(crate) fn declared_checks(
    payload: &syn::Type,
    name: Option<&Setting<String>>,
    options: &OptionsSpec,
) -> TokenStream {
    // The registration's `__JobsPayload` slot names the payload type, so
    // these checks add no error of their own when it is not a payload.
    let options_of = quote!(::jobs::__private::options_of::<__JobsPayload>());
    let type_text = types::written(payload);
    let mut checks = Vec::new();

    if let Some(name) = name {
        let value = &name.value;
        checks.push(DeclaredCheck {
            span: name.span,
            written: format!("name = {value:?}"),
            condition: quote!(::jobs::__private::str_eq(::jobs::__private::name_of::<__JobsPayload>(), #value)),
        });
    }
    if let Some(max_attempts) = &options.max_attempts {
        let value = max_attempts.value;
        checks.push(DeclaredCheck {
            span: max_attempts.span,
            written: format!("max_attempts = {value}"),
            condition: quote!(#options_of.max_attempts == #value),
        });
    }
    for (key, setting, field) in [
        ("timeout", &options.timeout, quote!(timeout)),
        (
            "visibility_timeout",
            &options.visibility_timeout,
            quote!(visibility_timeout),
        ),
    ] {
        if let Some(setting) = setting {
            let value = duration::to_tokens(setting.value);
            checks.push(DeclaredCheck {
                span: setting.span,
                written: format!("{key} = \"{}\"", humantime::format_duration(setting.value)),
                condition: quote!(::jobs::__private::duration_is(#options_of.#field, #value)),
            });
        }
    }
    if let Some(backoff) = &options.backoff {
        let declared_backoff = quote!(#options_of.backoff);
        if let Some(kind) = &backoff.kind {
            let (text, condition) = match kind.value {
                BackoffKind::Linear => (
                    "linear",
                    quote!(!::jobs::__private::backoff_is_exponential(#declared_backoff)),
                ),
                BackoffKind::Exponential => (
                    "exponential",
                    quote!(::jobs::__private::backoff_is_exponential(#declared_backoff)),
                ),
            };
            checks.push(DeclaredCheck {
                span: kind.span,
                written: format!("backoff = \"{text}\""),
                condition,
            });
        }
        if let Some(base) = &backoff.base_seconds {
            let value = base.value;
            checks.push(DeclaredCheck {
                span: base.span,
                written: format!("backoff_seconds = {value}"),
                condition: quote!(::jobs::__private::backoff_base_is(#declared_backoff, #value)),
            });
        }
        if let Some(max_delay) = &backoff.max_delay {
            let value = duration::to_tokens(max_delay.value);
            checks.push(DeclaredCheck {
                span: max_delay.span,
                written: format!("max_backoff = \"{}\"", humantime::format_duration(max_delay.value)),
                condition: quote!(::jobs::__private::backoff_max_delay_is(#declared_backoff, #value)),
            });
        }
        if let Some(jitter) = &backoff.jitter {
            let value = jitter.value;
            checks.push(DeclaredCheck {
                span: jitter.span,
                written: format!("jitter = {value}"),
                condition: quote!(::jobs::__private::backoff_jitter_is(#declared_backoff, #value)),
            });
        }
    }

    let assertions = checks.into_iter().map(|check| {
        let message = format!(
            "`{}` on this handler differs from what `{type_text}` declares in its `#[job(...)]`; remove it here or make the two match",
            check.written
        );
        let condition = check.condition;
        quote_spanned! {check.span=>
            const _: () = ::core::assert!(#condition, #message);
        }
    });
    quote!(#(#assertions)*)
}

/// One key of a `#[job(declared)]` handler, compared with the payload's declaration.
struct DeclaredCheck {
    span: proc_macro2::Span,
    written: String,
    condition: TokenStream,
}
