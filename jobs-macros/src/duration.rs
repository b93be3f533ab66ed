//! Human-readable durations such as `"90s"` or `"1h 30m"`, read at expansion time.

use std::time::Duration;

use proc_macro2::TokenStream;
use quote::quote;
use syn::LitStr;

/// Parses the duration in `literal`, the value of `key`. Zero is rejected
/// with `zero_hint` appended to the message.
pub(crate) fn parse_positive(literal: &LitStr, key: &str, zero_hint: &str) -> syn::Result<Duration> {
    let text = literal.value();
    let duration = humantime::parse_duration(text.trim()).map_err(|error| {
        syn::Error::new(
            literal.span(),
            format!(
                "invalid duration {text:?} for `{key}`: {error}; write a value such as \"500ms\", \"90s\", \"5m\" or \"1h 30m\""
            ),
        )
    })?;
    if duration.is_zero() {
        return Err(syn::Error::new(
            literal.span(),
            format!("`{key}` must be greater than zero; {zero_hint}"),
        ));
    }
    Ok(duration)
}

/// Builds the expression that rebuilds `duration`: `from_millis` when it is a whole
/// number of milliseconds that fits in a `u64`, as it is for every unit from
/// `ms` up, else `Duration::new` with seconds and nanoseconds.
pub(crate) fn to_tokens(duration: Duration) -> TokenStream {
    let nanos = duration.subsec_nanos();
    match u64::try_from(duration.as_millis()) {
        Ok(millis) if nanos % 1_000_000 == 0 => {
            quote!(::core::time::Duration::from_millis(#millis))
        }
        _ => {
            let seconds = duration.as_secs();
            quote!(::core::time::Duration::new(#seconds, #nanos))
        }
    }
}
