//! A second chance for payloads with the non-standard tokens `NaN`,
//! `Infinity` and `-Infinity`, which Python's `json.dumps` writes for
//! non-finite floats by default (`allow_nan=True`) and which JSON does not
//! allow.
//!
//! They are read as `null`, the value JavaScript's `JSON.stringify` and
//! `serde_json` write for a non-finite float. A field that accepts null, such
//! as `Option<f64>`, then receives `None`, and any other field fails to
//! decode with an error that names the tokens.

use serde::de::Error as _;

/// The explanation appended to errors from decoding rewritten text.
const NOTE: &str = "the payload contains NaN, Infinity or -Infinity, which JSON does not allow and which \
                    decode as null, so only a field that accepts null, such as Option<f64>, can receive them";

/// JSON text with every `NaN`, `Infinity` and `-Infinity` outside a string
/// replaced by `null`.
pub(super) struct Rewritten {
    /// The rewritten text. `Infinity` and `-Infinity` become `null` after
    /// enough spaces to keep their length, so only a `NaN`, one byte shorter
    /// than `null`, moves the text after it.
    pub(super) text: String,
    /// The byte offset in `text` just after each `null` that replaced a `NaN`.
    nan_ends: Vec<usize>,
}

/// Rewrites `json` if it contains `NaN`, `Infinity` or `-Infinity` outside
/// its strings. Returns `None` when it contains none.
///
/// Text inside strings is copied unchanged, escapes included, so a string
/// such as `"NaN"` keeps its value.
pub(super) fn rewrite(json: &str) -> Option<Rewritten> {
    let bytes = json.as_bytes();
    let mut text = String::with_capacity(json.len() + 8);
    let mut nan_ends = Vec::new();
    let mut replaced = false;
    let mut copied_up_to = 0;
    let mut in_string = false;
    let mut escaped = false;
    let mut index = 0;

    while index < bytes.len() {
        let byte = bytes[index];
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            index += 1;
            continue;
        }
        if byte == b'"' {
            in_string = true;
            index += 1;
            continue;
        }

        let rest = &bytes[index..];
        let (token_len, replacement) = if rest.starts_with(b"-Infinity") {
            (9, "     null")
        } else if rest.starts_with(b"Infinity") {
            (8, "    null")
        } else if rest.starts_with(b"NaN") {
            (3, "null")
        } else {
            index += 1;
            continue;
        };
        // Every token starts and ends on an ASCII byte, so these slices fall
        // on character boundaries.
        text.push_str(&json[copied_up_to..index]);
        text.push_str(replacement);
        if token_len == 3 {
            nan_ends.push(text.len());
        }
        index += token_len;
        copied_up_to = index;
        replaced = true;
    }

    if !replaced {
        return None;
    }
    text.push_str(&json[copied_up_to..]);
    Some(Rewritten { text, nan_ends })
}

impl Rewritten {
    /// Turns an error from decoding the rewritten text into one that explains
    /// the rewrite, with the line and column of the original text.
    pub(super) fn explain(&self, error: serde_json::Error) -> serde_json::Error {
        let message = error.to_string();
        if error.line() == 0 {
            return serde_json::Error::custom(format!("{message}; {NOTE}"));
        }

        // serde_json ends its messages with " at line L column C", where the
        // column is the byte offset from the start of the line.
        let position = format!(" at line {} column {}", error.line(), error.column());
        let message = message.strip_suffix(&position).unwrap_or(&message);
        let line_start = self.line_start(error.line());
        let offset = line_start + error.column();
        let shift = self
            .nan_ends
            .iter()
            .filter(|&&end| end > line_start && end <= offset)
            .count();
        serde_json::Error::custom(format!(
            "{message} at line {} column {}; {NOTE}",
            error.line(),
            error.column() - shift,
        ))
    }

    /// Returns the byte offset in `text` where line `line` (from 1) starts.
    fn line_start(&self, line: usize) -> usize {
        self.text
            .match_indices('\n')
            .nth(line.saturating_sub(2))
            .filter(|_| line > 1)
            .map_or(0, |(newline, _)| newline + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(json: &str) -> Option<String> {
        rewrite(json).map(|rewritten| rewritten.text)
    }

    #[test]
    fn tokens_become_null() {
        assert_eq!(
            rewritten(r#"{"a": NaN, "b": Infinity, "c": -Infinity}"#).as_deref(),
            Some(r#"{"a": null, "b":     null, "c":      null}"#)
        );
        assert_eq!(rewritten("[NaN,NaN]").as_deref(), Some("[null,null]"));
    }

    #[test]
    fn strings_are_untouched() {
        assert_eq!(rewritten(r#"{"NaN": "Infinity", "s": "-Infinity \" NaN"}"#), None);
        assert_eq!(
            rewritten(r#"{"s": "a\\", "v": NaN, "t": "\"NaN\""}"#).as_deref(),
            Some(r#"{"s": "a\\", "v": null, "t": "\"NaN\""}"#)
        );
    }

    #[test]
    fn text_without_tokens_is_not_rewritten() {
        assert_eq!(rewritten(r#"{"a": 1.5e300, "b": null}"#), None);
        assert_eq!(rewritten(""), None);
    }

    #[test]
    fn non_ascii_text_is_copied() {
        assert_eq!(
            rewritten(r#"{"é": "😀", "v": NaN, "w": "日本"}"#).as_deref(),
            Some(r#"{"é": "😀", "v": null, "w": "日本"}"#)
        );
    }

    #[test]
    fn error_column_points_into_original_text() {
        let original = "{\"a\": NaN, \"b\": NaN, \"c\": Infinity}";
        let rewritten = rewrite(original).unwrap();
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code, reason = "only the decode error is tested")]
        struct Strict {
            a: Option<f64>,
            b: Option<f64>,
            c: f64,
        }

        let error = serde_json::from_str::<Strict>(&rewritten.text).unwrap_err();
        let explained = rewritten.explain(error).to_string();

        // The original text has `Infinity` at columns 27 to 34, and serde_json
        // reports the column of the last byte of the value it rejected.
        assert!(
            explained.starts_with("invalid type: null, expected f64 at line 1 column 34;"),
            "{explained}"
        );
        assert!(explained.contains("Option<f64>"), "{explained}");
    }

    #[test]
    fn error_on_second_line_counts_only_that_line() {
        let original = "{\"a\": NaN,\n \"b\": NaN, \"c\": -Infinity}";
        let rewritten = rewrite(original).unwrap();
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code, reason = "only the decode error is tested")]
        struct Strict {
            a: Option<f64>,
            b: Option<f64>,
            c: f64,
        }

        let error = serde_json::from_str::<Strict>(&rewritten.text).unwrap_err();
        let explained = rewritten.explain(error).to_string();

        // On line 2, ` "b": NaN, "c": -Infinity` puts `-Infinity` at columns 17 to 25.
        assert!(
            explained.starts_with("invalid type: null, expected f64 at line 2 column 25;"),
            "{explained}"
        );
    }
}
