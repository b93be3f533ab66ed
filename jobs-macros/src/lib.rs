//! The `#[job]` attribute. (Being built.)

use proc_macro::TokenStream;

/// Placeholder.
#[proc_macro_attribute]
pub fn job(_args: TokenStream, input: TokenStream) -> TokenStream {
    input
}
