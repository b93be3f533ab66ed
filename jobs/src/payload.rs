//! The JSON payload carried by a job.

mod non_finite;

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A job's payload: the JSON text exactly as the producer wrote it.
///
/// The text is kept as written instead of as a parsed `serde_json::Value`, so a
/// handler's payload type decodes straight from the original bytes, and each
/// job is parsed once, by the handler that reads it.
///
/// A payload read back from a queue may be text that is not valid JSON (another
/// producer wrote it); it then fails to [`decode`](Payload::decode) and the
/// worker dead-letters the job with the decode error. So does a payload whose
/// stored bytes are not valid UTF-8 (see [`Payload::from_stored_bytes`]).
///
/// # Payloads written by Python
///
/// svc-infra 1.22 stores payloads written by Python's `json.dumps` with its
/// defaults, which go beyond JSON in two ways:
///
/// - **`NaN`, `Infinity` and `-Infinity`** (non-finite floats) are not valid
///   JSON. [`decode`](Payload::decode) and [`to_value`](Payload::to_value) read
///   them as `null`, which is what `serde_json` and JavaScript's
///   `JSON.stringify` write for such a float. An `Option<f64>` field receives
///   `None`. A plain `f64` field fails to decode, so the worker dead-letters the
///   job with an error that names the tokens, rather than invent a number.
///   Text inside JSON strings, such as `"NaN"`, is never changed.
/// - **Integers wider than 64 bits** are valid JSON. A `u128` or `i128` field
///   receives them intact. A `u64` or `i64` field fails to decode, because
///   `serde_json` reads the number as a float. An `f64` field or a
///   `serde_json::Value` receives the nearest float, which loses digits. An
///   integer wider than 128 bits fails to decode into any integer type. Serde
///   buffers the input of `#[serde(flatten)]` fields and untagged enums, and
///   that buffer rejects 128-bit integers.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Payload {
    text: Arc<str>,
    /// The first invalid byte of stored bytes that are not UTF-8. `text` then
    /// holds those bytes with U+FFFD in place of each invalid sequence.
    invalid_utf8: Option<InvalidUtf8>,
}

/// Where stored payload bytes stop being UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct InvalidUtf8 {
    offset: usize,
    byte: u8,
}

impl Payload {
    /// Serializes `value` into a payload.
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_string(value).map(Self::text)
    }

    /// Checks that `json` is one valid JSON value and wraps it unchanged.
    pub fn from_json(json: impl Into<String>) -> Result<Self, serde_json::Error> {
        let json = json.into();
        serde_json::from_str::<serde::de::IgnoredAny>(&json)?;
        Ok(Self::text(json))
    }

    /// Wraps text as stored by a queue, without checking that it is JSON.
    pub fn from_stored(text: impl Into<Arc<str>>) -> Self {
        Self::text(text)
    }

    /// Wraps bytes as stored by a queue, without checking that they are JSON.
    ///
    /// Bytes that are not valid UTF-8 cannot be JSON text. The payload then
    /// keeps them readable through [`as_str`](Payload::as_str), with U+FFFD in
    /// place of each invalid sequence, but [`decode`](Payload::decode) fails
    /// with an error that says the stored payload is not valid UTF-8. So the
    /// worker dead-letters such a job instead of running its handler on
    /// altered data.
    pub fn from_stored_bytes(bytes: Vec<u8>) -> Self {
        match String::from_utf8(bytes) {
            Ok(text) => Self::text(text),
            Err(error) => {
                let offset = error.utf8_error().valid_up_to();
                let bytes = error.into_bytes();
                Self {
                    invalid_utf8: Some(InvalidUtf8 {
                        offset,
                        byte: bytes[offset],
                    }),
                    text: String::from_utf8_lossy(&bytes).into(),
                }
            }
        }
    }

    fn text(text: impl Into<Arc<str>>) -> Self {
        Self {
            text: text.into(),
            invalid_utf8: None,
        }
    }

    /// The payload's JSON text. For a payload stored as bytes that are not
    /// UTF-8, the text has U+FFFD in place of each invalid sequence; see
    /// [`from_stored_bytes`](Payload::from_stored_bytes).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the payload was stored as valid UTF-8. When it was not,
    /// [`as_str`](Payload::as_str) returns altered text and decoding fails.
    pub fn is_utf8(&self) -> bool {
        self.invalid_utf8.is_none()
    }

    /// Decodes the payload into `T`, reading `NaN`, `Infinity` and
    /// `-Infinity` as `null` (see [Payloads written by Python](Payload#payloads-written-by-python)).
    ///
    /// # Errors
    ///
    /// When the text is not JSON or does not match `T`, or the stored bytes
    /// were not UTF-8. When the text contains one of those tokens, the error
    /// message explains that they decode as null.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        if let Some(invalid) = self.invalid_utf8 {
            return Err(serde::de::Error::custom(format!(
                "the stored payload is not valid UTF-8 (byte 0x{:02X} at offset {} is invalid), so it is not \
                 JSON text; the producer must write UTF-8 JSON",
                invalid.byte, invalid.offset
            )));
        }
        serde_json::from_str(&self.text).or_else(|error| self.decode_non_finite_as_null(error))
    }

    /// Parses the payload into a `serde_json::Value`, reading `NaN`,
    /// `Infinity` and `-Infinity` as `Value::Null`.
    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        self.decode()
    }

    /// Decodes the payload again with its non-finite tokens read as `null`.
    /// Runs only after a failed decode, so valid payloads pay nothing for it.
    #[cold]
    fn decode_non_finite_as_null<T: DeserializeOwned>(&self, error: serde_json::Error) -> Result<T, serde_json::Error> {
        let Some(rewritten) = non_finite::rewrite(&self.text) else {
            return Err(error);
        };
        serde_json::from_str(&rewritten.text).map_err(|error| rewritten.explain(error))
    }
}

impl From<serde_json::Value> for Payload {
    fn from(value: serde_json::Value) -> Self {
        Self::text(value.to_string())
    }
}

impl Default for Payload {
    /// An empty JSON object, the payload svc-infra assumes when a job has none.
    fn default() -> Self {
        Self::text("{}")
    }
}

/// The most bytes of a payload that its `Debug` output shows. Errors that
/// hand a job back carry its payload, and `main` returning such an error
/// prints it with `Debug`, so a 100 MB payload must not reach the terminal
/// or a log whole.
const DEBUG_LIMIT: usize = 1024;

impl fmt::Debug for Payload {
    /// Writes the JSON text, cut after [`DEBUG_LIMIT`] bytes with a note of
    /// the full length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.text.len() <= DEBUG_LIMIT {
            return f.write_str(&self.text);
        }
        let mut end = DEBUG_LIMIT;
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        write!(f, "{}... ({} bytes in all)", &self.text[..end], self.text.len())
    }
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_json_rejects_invalid_text() {
        assert!(Payload::from_json("{\"a\": ").is_err());
        assert!(Payload::from_json("{} {}").is_err());
    }

    #[test]
    fn wide_integer_decodes_intact() {
        let payload = Payload::from_json("{\"n\": 340282366920938463463374607431768211455}").unwrap();
        #[derive(serde::Deserialize)]
        struct Wide {
            n: u128,
        }
        assert_eq!(payload.decode::<Wide>().unwrap().n, u128::MAX);
    }

    #[derive(Debug, serde::Deserialize)]
    struct Reading {
        value: Option<f64>,
        label: String,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code, reason = "only the decode error is tested")]
    struct StrictReading {
        value: f64,
    }

    #[test]
    fn non_finite_decodes_as_none() {
        for token in ["NaN", "Infinity", "-Infinity"] {
            let payload = Payload::from_stored(format!("{{\"value\": {token}, \"label\": \"NaN\"}}"));
            let reading: Reading = payload.decode().unwrap();
            assert_eq!(reading.value, None, "{token}");
            assert_eq!(reading.label, "NaN", "{token}: the string must stay as written");
        }
    }

    #[test]
    fn non_finite_into_f64_names_the_tokens() {
        let payload = Payload::from_stored("{\"value\": Infinity}");
        let error = payload.decode::<StrictReading>().unwrap_err().to_string();
        assert!(
            error.starts_with("invalid type: null, expected f64 at line 1 column 18;"),
            "{error}"
        );
        assert!(error.contains("NaN, Infinity or -Infinity"), "{error}");
        assert!(error.contains("Option<f64>"), "{error}");
    }

    #[test]
    fn non_finite_in_value_is_null() {
        let payload = Payload::from_stored("{\"a\": [NaN, 1.5, -Infinity], \"b\": \"Infinity\"}");
        assert_eq!(
            payload.to_value().unwrap(),
            serde_json::json!({"a": [null, 1.5, null], "b": "Infinity"})
        );
    }

    #[test]
    fn invalid_text_keeps_its_error() {
        let error = Payload::from_stored("{\"a\": ").to_value().unwrap_err();
        assert_eq!(error.to_string(), "EOF while parsing a value at line 1 column 6");
        assert!(error.is_eof());
    }

    #[test]
    fn non_finite_with_other_error_explains_both() {
        let payload = Payload::from_stored("{\"value\": NaN, \"label\": 7}");
        let error = payload.decode::<Reading>().unwrap_err().to_string();
        assert!(
            error.starts_with("invalid type: integer `7`, expected a string at line 1 column 25;"),
            "{error}"
        );
        assert!(error.contains("decode as null"), "{error}");
    }

    #[test]
    fn invalid_utf8_fails_to_decode() {
        let payload = Payload::from_stored_bytes(b"{\"to\": \"a\xffb\"}".to_vec());

        assert!(!payload.is_utf8());
        assert_eq!(payload.as_str(), "{\"to\": \"a\u{fffd}b\"}");
        let error = payload.to_value().unwrap_err().to_string();
        assert!(error.contains("not valid UTF-8"), "{error}");
        assert!(error.contains("byte 0xFF at offset 9"), "{error}");
    }

    #[test]
    fn utf8_bytes_decode() {
        let payload = Payload::from_stored_bytes("{\"to\": \"é\"}".as_bytes().to_vec());

        assert!(payload.is_utf8());
        assert_eq!(payload, Payload::from_stored("{\"to\": \"é\"}"));
        assert_eq!(payload.to_value().unwrap(), serde_json::json!({"to": "é"}));
    }

    #[test]
    fn debug_of_large_payload_is_cut() {
        let text = format!("\"{}\"", "é".repeat(600_000));
        let payload = Payload::from_json(text.as_str()).unwrap();

        let debug = format!("{payload:?}");

        assert!(debug.len() < DEBUG_LIMIT + 40, "{} bytes", debug.len());
        assert!(debug.starts_with("\"éé"), "{debug}");
        assert!(
            debug.ends_with(&format!("... ({} bytes in all)", text.len())),
            "{debug}"
        );
        assert_eq!(format!("{:?}", Payload::default()), "{}");
    }

    #[test]
    fn from_json_still_rejects_non_finite() {
        assert!(Payload::from_json("{\"value\": NaN}").is_err());
    }
}
