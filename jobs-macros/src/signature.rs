//! Checks the signature of the function under `#[job]` and picks out the
//! payload type, the extractor types and the return type.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, PatType, ReturnType, Type};

use crate::errors::Errors;
use crate::parameters;

/// A handler's signature, reduced to what the generated code needs.
pub(crate) struct Handler<'a> {
    pub(crate) function: &'a ItemFn,
    /// The first parameter's type, decoded from the job's payload.
    pub(crate) payload: &'a Type,
    /// The types of the parameters after the payload, built by `jobs::FromInvocation`.
    pub(crate) extractors: Vec<&'a Type>,
    /// The return type; `None` for `()`.
    pub(crate) output: Option<&'a Type>,
}

/// A signature that cannot be a handler.
pub(crate) struct Rejected<'a> {
    /// Every problem found, combined.
    pub(crate) error: syn::Error,
    /// The payload type to give a fallback `JobPayload` implementation, so
    /// that code enqueueing it gets no errors of its own; `None` when no
    /// type can be named safely.
    pub(crate) payload: Option<&'a Type>,
}

/// Checks that `function` can be a handler, reporting every problem found.
/// `declared` is whether the attribute has the `declared` key.
pub(crate) fn analyze(function: &ItemFn, declared: bool) -> Result<Handler<'_>, Rejected<'_>> {
    let signature = &function.sig;
    let mut errors = Errors::default();

    if let Some(constness) = &signature.constness {
        errors.push_at(
            constness.span,
            "a `#[job]` handler cannot be a `const fn`; remove `const`",
        );
    }
    if signature.asyncness.is_none() {
        errors.push_at(
            signature.fn_token.span,
            "a `#[job]` handler must be an `async fn`; add `async` before `fn` and move blocking work into `tokio::task::spawn_blocking`",
        );
    }
    if let Some(unsafety) = &signature.unsafety {
        errors.push_at(
            unsafety.span,
            "a `#[job]` handler cannot be an `unsafe fn`; remove `unsafe` and use an `unsafe` block inside",
        );
    }
    if let Some(abi) = &signature.abi {
        errors.push_at(
            abi.span(),
            "a `#[job]` handler cannot declare an ABI; remove the `extern` specifier",
        );
    }
    let generic = !signature.generics.params.is_empty() || signature.generics.where_clause.is_some();
    if generic {
        errors.push_at(
            signature.generics.span(),
            "a `#[job]` handler cannot be generic: each job name decodes one concrete payload type; remove the generic parameters",
        );
    }
    if let Some(variadic) = &signature.variadic {
        errors.push_at(variadic.span(), "a `#[job]` handler cannot be variadic; remove `...`");
    }

    let mut method = false;
    let mut parameters: Vec<&PatType> = Vec::new();
    for input in &signature.inputs {
        match input {
            FnArg::Receiver(receiver) => {
                method = true;
                errors.push_at(
                    receiver.self_token.span,
                    "`#[job]` cannot be used on a method; move the handler out of the `impl` block into a free `async fn` and pass what it needs as `jobs::Data<T>` state",
                );
            }
            FnArg::Typed(typed) => parameters.push(typed),
        }
    }

    if parameters.is_empty() {
        let name = &signature.ident;
        errors.push_at(
            parentheses_span(function),
            format!(
                "a `#[job]` handler needs the payload as its first parameter, e.g. `async fn {name}(payload: MyPayload)`"
            ),
        );
    }
    let payload = parameters::check(&signature.ident, &parameters, declared, &mut errors);

    match errors.finish() {
        Ok(()) => Ok(Handler {
            function,
            payload: &parameters[0].ty,
            extractors: parameters[1..].iter().map(|parameter| &*parameter.ty).collect(),
            output: match &signature.output {
                ReturnType::Default => None,
                ReturnType::Type(_, output) => Some(output),
            },
        }),
        Err(error) => Err(Rejected {
            error,
            // Inside an `impl` block the generated items would not parse,
            // and a generic payload type is not in scope outside the function.
            payload: payload.filter(|_| !method && !generic),
        }),
    }
}

/// Returns the span of the handler's name and empty parameter list.
fn parentheses_span(function: &ItemFn) -> Span {
    let name = function.sig.ident.span();
    let parentheses = function.sig.paren_token.span.join();
    name.join(parentheses).unwrap_or(parentheses)
}
