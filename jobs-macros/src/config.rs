//! Reads the keys of `#[job(...)]` into a [`Config`] whose settings keep the
//! span of their value, so later checks can point at the literal.

use std::str::FromStr;
use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, LitInt, LitStr, Meta, Token, UnOp};

use crate::duration;
use crate::errors::Errors;
use crate::keys::{self, Site};

/// A value read from the attribute and the span of the literal it came from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Setting<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

/// One key of the attribute, which may be written once.
pub(crate) struct Slot<T> {
    key_span: Option<Span>,
    setting: Option<Setting<T>>,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self {
            key_span: None,
            setting: None,
        }
    }
}

impl<T> Slot<T> {
    /// Stores the value read for `key`, or records why it is invalid.
    ///
    /// A key written a second time is an error at its second occurrence,
    /// whatever either value is, so `max_attempts = 0, max_attempts = 3`
    /// reports both mistakes.
    fn set(&mut self, key: &Ident, value: syn::Result<Setting<T>>, site: Site, errors: &mut Errors) {
        if self.key_span.is_some() {
            errors.push_at(
                key.span(),
                format!(
                    "`{key}` is set more than once; keep one (valid keys: {})",
                    site.valid_keys()
                ),
            );
            return;
        }
        self.key_span = Some(key.span());
        self.setting = errors.take(value);
    }

    /// Returns the valid value written for this key, if any.
    pub(crate) fn get(&self) -> Option<&Setting<T>> {
        self.setting.as_ref()
    }

    /// Returns the span of the key when it was written, valid or not.
    pub(crate) fn key_span(&self) -> Option<Span> {
        self.key_span
    }

    /// Returns whether the key was written, valid or not.
    pub(crate) fn is_written(&self) -> bool {
        self.key_span.is_some()
    }
}

/// The retry strategy named by `backoff = "..."`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BackoffKind {
    Linear,
    Exponential,
}

/// Everything written in the attribute, key by key, before the rules that
/// span several keys are checked.
#[derive(Default)]
pub(crate) struct Config {
    pub(crate) name: Slot<String>,
    pub(crate) max_attempts: Slot<u32>,
    pub(crate) timeout: Slot<Duration>,
    pub(crate) backoff: Slot<BackoffKind>,
    pub(crate) backoff_seconds: Slot<u64>,
    pub(crate) max_backoff: Slot<Duration>,
    pub(crate) jitter: Slot<bool>,
    pub(crate) visibility_timeout: Slot<Duration>,
    pub(crate) declared: Slot<()>,
}

impl Config {
    /// Reads the comma-separated keys in `args` into this config.
    pub(crate) fn read_tokens(&mut self, args: TokenStream, site: Site, errors: &mut Errors) {
        let parser = Punctuated::<Meta, Token![,]>::parse_terminated;
        match parser.parse2(args) {
            Ok(metas) => {
                for meta in metas {
                    self.read(&meta, site, errors);
                }
            }
            Err(error) => errors.push(error),
        }
    }

    fn read(&mut self, meta: &Meta, site: Site, errors: &mut Errors) {
        let Some(key) = meta.path().get_ident().filter(|key| site.accepts(&key.to_string())) else {
            let path = meta.path();
            let written = quote::quote!(#path).to_string().replace(' ', "");
            errors.push_at(
                path.span(),
                format!("unknown key `{written}`; valid keys: {}", site.valid_keys()),
            );
            return;
        };
        let text = key.to_string();
        match text.as_str() {
            keys::NAME => self.name.set(key, read_name(meta, key), site, errors),
            keys::MAX_ATTEMPTS => {
                let value = read_unsigned::<u32>(meta, key, "max_attempts = 5").and_then(|setting| {
                    if setting.value == 0 {
                        Err(syn::Error::new(
                            setting.span,
                            "`max_attempts` must be at least 1; 1 runs the job once with no retry",
                        ))
                    } else {
                        Ok(setting)
                    }
                });
                self.max_attempts.set(key, value, site, errors);
            }
            keys::TIMEOUT => {
                let value = read_duration(
                    meta,
                    key,
                    "timeout = \"60s\"",
                    "remove `timeout` to use the registry's default time limit",
                );
                self.timeout.set(key, value, site, errors);
            }
            keys::BACKOFF => self.backoff.set(key, read_backoff(meta, key), site, errors),
            keys::BACKOFF_SECONDS => {
                let value = read_unsigned::<u64>(meta, key, "backoff_seconds = 30");
                self.backoff_seconds.set(key, value, site, errors);
            }
            keys::MAX_BACKOFF => {
                let value = read_duration(
                    meta,
                    key,
                    "max_backoff = \"1h\"",
                    "remove `max_backoff` to use the default cap of 1h",
                );
                self.max_backoff.set(key, value, site, errors);
            }
            keys::JITTER => self.jitter.set(key, read_flag_or_bool(meta, key), site, errors),
            keys::VISIBILITY_TIMEOUT => {
                let value = read_duration(
                    meta,
                    key,
                    "visibility_timeout = \"5m\"",
                    "remove `visibility_timeout` to use the queue's lease length",
                );
                self.visibility_timeout.set(key, value, site, errors);
            }
            keys::DECLARED => self.declared.set(key, read_flag(meta, key), site, errors),
            _ => unreachable!("`Site::accepts` lists only the keys matched above"),
        }
    }
}

/// Checks a job name with the rule of `jobs::validate_name`, returning what is
/// wrong with it.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("is empty; use ASCII letters, digits, `_`, `-`, `.` or `:`".to_owned());
    }
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':');
    match name.chars().find(|&c| !valid(c)) {
        Some(bad) => Err(format!(
            "contains {bad:?}; use only ASCII letters, digits, `_`, `-`, `.` or `:`"
        )),
        None => Ok(()),
    }
}

/// Returns the expression after `key =`, or an error that shows `example`.
fn value_of<'a>(meta: &'a Meta, key: &Ident, example: &str) -> syn::Result<&'a Expr> {
    match meta {
        Meta::NameValue(name_value) => Ok(&name_value.value),
        Meta::Path(_) | Meta::List(_) => Err(syn::Error::new_spanned(
            meta,
            format!("`{key}` needs a value, e.g. `{example}`"),
        )),
    }
}

fn string_of(meta: &Meta, key: &Ident, example: &str) -> syn::Result<LitStr> {
    match value_of(meta, key, example)? {
        Expr::Lit(ExprLit {
            lit: Lit::Str(literal), ..
        }) => Ok(literal.clone()),
        other => Err(syn::Error::new_spanned(
            other,
            format!("`{key}` takes a string literal, e.g. `{example}`"),
        )),
    }
}

fn read_name(meta: &Meta, key: &Ident) -> syn::Result<Setting<String>> {
    let literal = string_of(meta, key, "name = \"send_email\"")?;
    let name = literal.value();
    check_name(&name).map_err(|problem| syn::Error::new(literal.span(), format!("`name` {name:?} {problem}")))?;
    Ok(Setting {
        value: name,
        span: literal.span(),
    })
}

/// Reads an unsigned integer literal, with messages for negative numbers,
/// other literals and values out of range.
fn read_unsigned<T>(meta: &Meta, key: &Ident, example: &str) -> syn::Result<Setting<T>>
where
    T: FromStr + std::fmt::Display + Bounded,
    T::Err: std::fmt::Display,
{
    let value = value_of(meta, key, example)?;
    let literal: &LitInt = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(literal), ..
        }) => literal,
        Expr::Unary(ExprUnary { op: UnOp::Neg(_), .. }) => {
            let written = quote::quote!(#value).to_string().replace(' ', "");
            return Err(syn::Error::new_spanned(
                value,
                format!("`{key}` cannot be negative, found `{written}`; write e.g. `{example}`"),
            ));
        }
        other => {
            return Err(syn::Error::new_spanned(
                other,
                format!("`{key}` takes an integer literal, e.g. `{example}`"),
            ));
        }
    };
    // syn reads `-2` as one negative literal, not as a negation.
    if literal.base10_digits().starts_with('-') {
        return Err(syn::Error::new_spanned(
            literal,
            format!("`{key}` cannot be negative, found `{literal}`; write e.g. `{example}`"),
        ));
    }
    let parsed = literal.base10_parse::<T>().map_err(|_| {
        syn::Error::new(
            literal.span(),
            format!("`{key}` is too large; the maximum is {}", T::MAX_TEXT),
        )
    })?;
    Ok(Setting {
        value: parsed,
        span: literal.span(),
    })
}

/// The largest value of an integer type, for "too large" messages.
trait Bounded {
    const MAX_TEXT: &'static str;
}

impl Bounded for u32 {
    const MAX_TEXT: &'static str = "4294967295";
}

impl Bounded for u64 {
    const MAX_TEXT: &'static str = "18446744073709551615";
}

fn read_duration(meta: &Meta, key: &Ident, example: &str, zero_hint: &str) -> syn::Result<Setting<Duration>> {
    let literal = string_of(meta, key, example)?;
    let value = duration::parse_positive(&literal, &key.to_string(), zero_hint)?;
    Ok(Setting {
        value,
        span: literal.span(),
    })
}

fn read_backoff(meta: &Meta, key: &Ident) -> syn::Result<Setting<BackoffKind>> {
    let literal = string_of(meta, key, "backoff = \"exponential\"")?;
    let value = match literal.value().as_str() {
        "linear" => BackoffKind::Linear,
        "exponential" => BackoffKind::Exponential,
        other => {
            return Err(syn::Error::new(
                literal.span(),
                format!("unknown `backoff` {other:?}; use \"linear\" or \"exponential\""),
            ));
        }
    };
    Ok(Setting {
        value,
        span: literal.span(),
    })
}

/// Reads `jitter` or `jitter = true` / `jitter = false`.
fn read_flag_or_bool(meta: &Meta, key: &Ident) -> syn::Result<Setting<bool>> {
    match meta {
        Meta::Path(path) => Ok(Setting {
            value: true,
            span: path.span(),
        }),
        Meta::NameValue(name_value) => match &name_value.value {
            Expr::Lit(ExprLit {
                lit: Lit::Bool(literal),
                ..
            }) => Ok(Setting {
                value: literal.value,
                span: literal.span(),
            }),
            other => Err(syn::Error::new_spanned(
                other,
                format!("`{key}` takes `true` or `false`, e.g. `{key} = true`"),
            )),
        },
        Meta::List(_) => Err(syn::Error::new_spanned(
            meta,
            format!("`{key}` takes `true` or `false`, e.g. `{key} = true`"),
        )),
    }
}

/// Reads a key that takes no value, such as `declared`.
fn read_flag(meta: &Meta, key: &Ident) -> syn::Result<Setting<()>> {
    match meta {
        Meta::Path(path) => Ok(Setting {
            value: (),
            span: path.span(),
        }),
        Meta::NameValue(_) | Meta::List(_) => Err(syn::Error::new_spanned(
            meta,
            format!("`{key}` takes no value; write `#[job({key})]`"),
        )),
    }
}
