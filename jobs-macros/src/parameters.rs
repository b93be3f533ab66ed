//! Checks the parameters of a handler: the payload first and by value, then
//! extractors. Each rejected parameter gets an error at its own tokens.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Ident, Pat, PatType, Type, TypeImplTrait};

use crate::errors::Errors;
use crate::types;

const IMPL_TRAIT_MESSAGE: &str = "a `#[job]` handler parameter cannot use `impl Trait`; name a concrete type";

/// Checks `parameters`, the typed parameters of the handler `function`, in
/// order. Returns the payload type to give a fallback `JobPayload`
/// implementation: the first parameter when it passed, or the type the
/// handler most likely meant when it did not.
pub(crate) fn check<'a>(
    function: &Ident,
    parameters: &[&'a PatType],
    declared: bool,
    errors: &mut Errors,
) -> Option<&'a Type> {
    let (first, rest) = parameters.split_first()?;

    // An extractor written first is one mistake, whatever the other
    // parameters are, so it is the only error reported.
    if types::is_extractor(peel_reference(&first.ty)) {
        errors.push(syn::Error::new_spanned(
            first,
            extractor_first_message(function, parameters),
        ));
        return rest
            .iter()
            .map(|parameter| &*parameter.ty)
            .find(|ty| is_payload_candidate(ty));
    }

    for extractor in rest {
        check_extractor(extractor, errors);
    }
    check_payload(function, first, declared, errors)
}

/// Checks the first parameter, the payload, and returns its type when a
/// fallback `JobPayload` implementation can name it.
fn check_payload<'a>(function: &Ident, payload: &'a PatType, declared: bool, errors: &mut Errors) -> Option<&'a Type> {
    if let Some(span) = impl_trait_span(&payload.ty) {
        errors.push_at(span, IMPL_TRAIT_MESSAGE);
        return None;
    }
    if let Some(reference) = types::reference(&payload.ty) {
        let referent = &*reference.elem;
        if types::is_foreign(referent) {
            let owned = types::owned_text(referent);
            let message = foreign_payload_message(function, payload, &owned, declared);
            errors.push(syn::Error::new_spanned(reference, message));
            return None;
        }
        errors.push_at(
            reference.and_token.span,
            format!(
                "the payload is decoded fresh for each attempt, so take it by value: `{}: {}`",
                types::written(&payload.pat),
                types::written(referent),
            ),
        );
        return Some(referent);
    }
    if types::is_foreign(&payload.ty) {
        let written = types::written(&payload.ty);
        let message = foreign_payload_message(function, payload, &written, declared);
        errors.push(syn::Error::new_spanned(&payload.ty, message));
        return None;
    }
    Some(&payload.ty)
}

/// Checks one parameter after the payload.
fn check_extractor(parameter: &PatType, errors: &mut Errors) {
    if let Some(span) = impl_trait_span(&parameter.ty) {
        errors.push_at(span, IMPL_TRAIT_MESSAGE);
        return;
    }
    if let Some(target) = types::arc_target(&parameter.ty) {
        let target = types::written(target);
        let message = format!(
            "`Data<T>` already holds its state in an `Arc`, so take `Data<{target}>` instead of `Arc<{target}>`; give the registry the value with `Registry::builder().state(value)`, or an `Arc` you already have with `.shared_state(arc)`"
        );
        errors.push(syn::Error::new_spanned(&parameter.ty, message));
        return;
    }
    let Some(reference) = types::reference(&parameter.ty) else {
        return;
    };
    let pattern = types::written(&parameter.pat);
    let referent = &*reference.elem;
    let message = if types::is_extractor(referent) {
        format!(
            "extractors are built for each attempt and passed by value: `{pattern}: {}`",
            types::written(referent)
        )
    } else {
        format!(
            "a handler cannot take a reference to shared state; take `{pattern}: Data<{}>`, which shares the value given to `Registry::builder().state(value)`",
            types::written(referent)
        )
    };
    errors.push_at(reference.and_token.span, message);
}

/// Builds the message for a handler whose first parameter is an extractor,
/// with the parameters reordered when one of them can be the payload.
fn extractor_first_message(function: &Ident, parameters: &[&PatType]) -> String {
    let name = function_name(function);
    let (payloads, extractors): (Vec<&PatType>, Vec<&PatType>) = parameters
        .iter()
        .partition(|parameter| !types::is_extractor(peel_reference(&parameter.ty)));
    let rule = "the payload comes first, then extractors such as `JobContext` or `Data<T>`";
    if payloads.is_empty() {
        let listed: Vec<String> = extractors
            .iter()
            .map(|parameter| written_parameter(parameter))
            .collect();
        return format!(
            "{rule}; add the payload as the first parameter, e.g. `async fn {name}(payload: MyPayload, {})`",
            listed.join(", ")
        );
    }
    let reordered: Vec<String> = payloads
        .iter()
        .chain(&extractors)
        .map(|parameter| written_parameter(parameter))
        .collect();
    format!("{rule}; write `async fn {name}({})`", reordered.join(", "))
}

/// Builds the message for a payload type that no crate but its own can
/// give a job name, with a struct to wrap it in.
fn foreign_payload_message(function: &Ident, parameter: &PatType, field_type: &str, declared: bool) -> String {
    let wrapper = format!(
        "struct {} {{ {}: {field_type} }}",
        types::pascal_case(&function_name(function)),
        field_name(&parameter.pat)
    );
    if declared {
        return format!(
            "the payload of a `#[job(declared)]` handler must be a struct or enum that declares its job with `#[derive(JobPayload)]`; wrap `{field_type}` in one, such as `{wrapper}`"
        );
    }
    format!(
        "the payload must be a struct or enum defined in this crate, because it carries the job's name; wrap `{field_type}` in a struct such as `{wrapper}`, or declare a shared payload type with `#[derive(JobPayload)]`"
    )
}

/// Returns whether `ty` can be the payload that an extractor was written before.
fn is_payload_candidate(ty: &Type) -> bool {
    !types::is_extractor(ty)
        && types::reference(ty).is_none()
        && !types::is_foreign(ty)
        && impl_trait_span(ty).is_none()
}

fn peel_reference(ty: &Type) -> &Type {
    types::reference(ty).map_or(ty, |reference| &reference.elem)
}

fn written_parameter(parameter: &PatType) -> String {
    format!("{}: {}", types::written(&parameter.pat), types::written(&parameter.ty))
}

fn function_name(function: &Ident) -> String {
    function.to_string().trim_start_matches("r#").to_owned()
}

/// Names the field of a suggested wrapper after the parameter: `_id` gives `id`.
fn field_name(pattern: &Pat) -> String {
    let name = match pattern {
        Pat::Ident(binding) => binding.ident.to_string(),
        _ => String::new(),
    };
    let name = name.trim_start_matches("r#").trim_start_matches('_');
    if name.is_empty() {
        "value".to_owned()
    } else {
        name.to_owned()
    }
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
