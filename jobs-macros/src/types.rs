//! Recognises, from how a parameter type is written, the types that `#[job]`
//! rejects before rustc sees them, and formats types for messages.
//!
//! A macro sees tokens, not resolved types, so these checks match names:
//! `u64`, `String`, `Vec<_>`, paths under `std::` or `serde_json::`, and the
//! extractors `JobContext` and `Data<_>` under any path. A type that is
//! renamed on import, or a user type that reuses one of these names, is
//! misjudged; rustc's own errors then apply.

use quote::ToTokens;
use syn::{GenericArgument, PathArguments, Type, TypePath, TypeReference};

/// Primitive types, none of which can carry a job name.
const PRIMITIVES: &[&str] = &[
    "bool", "char", "str", "f32", "f64", "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128",
    "usize",
];

/// Standard library types that code names without a path, through the
/// prelude or a `use`.
const STD_TYPES: &[&str] = &[
    "String", "Vec", "Option", "Result", "Box", "Rc", "Arc", "Cow", "HashMap", "HashSet", "BTreeMap", "BTreeSet",
    "VecDeque",
];

/// Crates whose types are often mistaken for a payload.
const FOREIGN_CRATES: &[&str] = &["std", "core", "alloc", "serde", "serde_json"];

/// Returns whether `ty` is written as a type defined outside the handler's
/// crate, or as one that is not a named type at all: a primitive, a standard
/// library type, a type of `serde` or `serde_json`, a tuple, an array, a
/// slice, a pointer or a function pointer.
pub(crate) fn is_foreign(ty: &Type) -> bool {
    match peel_groups(ty) {
        Type::Path(TypePath { qself: None, path }) => {
            let first = path.segments.first().map(|segment| segment.ident.to_string());
            match (path.segments.len(), first) {
                (1, Some(name)) => PRIMITIVES.contains(&name.as_str()) || STD_TYPES.contains(&name.as_str()),
                (_, Some(name)) => FOREIGN_CRATES.contains(&name.as_str()),
                (_, None) => false,
            }
        }
        Type::Tuple(_) | Type::Array(_) | Type::Slice(_) | Type::Ptr(_) | Type::BareFn(_) | Type::Never(_) => true,
        _ => false,
    }
}

/// Returns whether `ty` names one of this crate's extractors: a path ending
/// in `JobContext`, or in `Data` with generic arguments.
pub(crate) fn is_extractor(ty: &Type) -> bool {
    let Type::Path(TypePath { qself: None, path }) = peel_groups(ty) else {
        return false;
    };
    let Some(last) = path.segments.last() else {
        return false;
    };
    match &last.arguments {
        PathArguments::None => last.ident == "JobContext",
        PathArguments::AngleBracketed(_) => last.ident == "Data",
        PathArguments::Parenthesized(_) => false,
    }
}

/// Returns `T` when `ty` is written `Arc<T>`, `std::sync::Arc<T>` or
/// `alloc::sync::Arc<T>`.
pub(crate) fn arc_target(ty: &Type) -> Option<&Type> {
    let Type::Path(TypePath { qself: None, path }) = peel_groups(ty) else {
        return None;
    };
    let names: Vec<String> = path.segments.iter().map(|segment| segment.ident.to_string()).collect();
    let is_arc = match names.as_slice() {
        [arc] => arc == "Arc",
        [krate, sync, arc] => matches!(krate.as_str(), "std" | "alloc") && sync == "sync" && arc == "Arc",
        _ => false,
    };
    if !is_arc {
        return None;
    }
    let PathArguments::AngleBracketed(arguments) = &path.segments.last()?.arguments else {
        return None;
    };
    match arguments.args.first()? {
        GenericArgument::Type(target) if arguments.args.len() == 1 => Some(target),
        _ => None,
    }
}

/// Returns the reference when `ty` is written `&T` or `&mut T`.
pub(crate) fn reference(ty: &Type) -> Option<&TypeReference> {
    match peel_groups(ty) {
        Type::Reference(reference) => Some(reference),
        _ => None,
    }
}

/// Returns the owned type to suggest in place of a borrowed `referent`:
/// `String` for `str`, `Vec<T>` for `[T]`, else the referent as written.
pub(crate) fn owned_text(referent: &Type) -> String {
    match peel_groups(referent) {
        Type::Path(TypePath { qself: None, path }) if path.is_ident("str") => "String".to_owned(),
        Type::Slice(slice) => format!("Vec<{}>", written(&slice.elem)),
        other => written(other),
    }
}

/// Formats tokens as a person writes them, for messages and type names:
/// `Vec<u8>`, not `Vec < u8 >`.
pub(crate) fn written(tokens: &impl ToTokens) -> String {
    let spaced = tokens.to_token_stream().to_string();
    let mut text = String::with_capacity(spaced.len());
    let mut previous = ' ';
    let mut chars = spaced.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied().unwrap_or(' ');
        let around_punct = |other: char| matches!(other, ':' | '<' | '>' | '&' | '(' | ')' | '[' | ']' | ',' | ';');
        let keep = c != ' ' || !(around_punct(previous) || around_punct(next)) || matches!(previous, ',' | ';');
        if keep {
            text.push(c);
        }
        previous = c;
    }
    text
}

/// Converts a function name to the type name it suggests: `send_email` to `SendEmail`.
pub(crate) fn pascal_case(snake: &str) -> String {
    snake
        .trim_start_matches("r#")
        .split('_')
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            first.into_iter().chain(chars).collect::<String>()
        })
        .collect()
}

/// Removes the invisible groups and parentheses a type may be wrapped in.
fn peel_groups(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => peel_groups(&group.elem),
        Type::Paren(paren) => peel_groups(&paren.elem),
        other => other,
    }
}
