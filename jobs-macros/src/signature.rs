//! Checks the signature of the function under `#[job]` and picks out the
//! payload type, the extractor types and the return type.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{FnArg, ItemFn, ReturnType, Type, TypeImplTrait};

use crate::errors::Errors;

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

/// Checks that `function` can be a handler, reporting every problem found.
pub(crate) fn analyze(function: &ItemFn) -> syn::Result<Handler<'_>> {
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
    if !signature.generics.params.is_empty() || signature.generics.where_clause.is_some() {
        errors.push_at(
            signature.generics.span(),
            "a `#[job]` handler cannot be generic: each job name decodes one concrete payload type; remove the generic parameters",
        );
    }
    if let Some(variadic) = &signature.variadic {
        errors.push_at(variadic.span(), "a `#[job]` handler cannot be variadic; remove `...`");
    }

    let mut parameter_types = Vec::new();
    for input in &signature.inputs {
        match input {
            FnArg::Receiver(receiver) => errors.push_at(
                receiver.self_token.span,
                "`#[job]` cannot be used on a method; move the handler out of the `impl` block into a free `async fn` and pass what it needs as `jobs::Data<T>` state",
            ),
            FnArg::Typed(typed) => {
                if let Some(span) = impl_trait_span(&typed.ty) {
                    errors.push_at(
                        span,
                        "a `#[job]` handler parameter cannot use `impl Trait`; name a concrete type",
                    );
                }
                parameter_types.push(&*typed.ty);
            }
        }
    }

    let Some((payload, extractors)) = parameter_types.split_first() else {
        let name = &signature.ident;
        errors.push_at(
            parentheses_span(function),
            format!(
                "a `#[job]` handler needs the payload as its first parameter, e.g. `async fn {name}(payload: MyPayload)`"
            ),
        );
        return Err(errors.finish().expect_err("an error was pushed just before"));
    };

    errors.finish()?;
    Ok(Handler {
        function,
        payload,
        extractors: extractors.to_vec(),
        output: match &signature.output {
            ReturnType::Default => None,
            ReturnType::Type(_, output) => Some(output),
        },
    })
}

/// Returns the span of the handler's name and empty parameter list.
fn parentheses_span(function: &ItemFn) -> Span {
    let name = function.sig.ident.span();
    let parentheses = function.sig.paren_token.span.join();
    name.join(parentheses).unwrap_or(parentheses)
}

/// Finds the span of the first `impl Trait` inside `ty`, if any.
fn impl_trait_span(ty: &Type) -> Option<Span> {
    struct FindImplTrait(Option<Span>);

    impl<'ast> Visit<'ast> for FindImplTrait {
        fn visit_type_impl_trait(&mut self, node: &'ast TypeImplTrait) {
            self.0.get_or_insert(node.span());
        }
    }

    let mut finder = FindImplTrait(None);
    finder.visit_type(ty);
    finder.0
}
