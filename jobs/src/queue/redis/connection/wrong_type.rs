//! Explaining `WRONGTYPE` replies.
//!
//! Redis replies `WRONGTYPE` when a command meets a key that holds another
//! type than the command works on. Under the queue's prefix that means some
//! other program writes keys with the same names, because this crate only
//! writes the types listed in the key table of the queue module. The reply
//! names neither the key nor the prefix, so this module finds the prefix from
//! the keys of the failing command and rewrites the reply's message to name
//! it and say what to do.

use redis::{Arg, Cmd, Pipeline, RedisError, ServerError, Value};

use crate::queue::redis::keys::Keys;

/// The error code of the reply.
const WRONG_TYPE: &str = "WRONGTYPE";

/// Rewrites every `WRONGTYPE` error in `value`, a reply to commands that
/// name `keys`. Only a reply with such an error calls `keys`.
pub(super) fn explain_value(value: &mut Value, keys: &dyn Fn() -> Vec<String>) {
    match value {
        Value::ServerError(error) if error.code() == WRONG_TYPE => *error = explained(error, &keys()),
        Value::Array(items) => {
            for item in items {
                explain_value(item, keys);
            }
        }
        _ => {}
    }
}

/// Rewrites `error` when it is one `WRONGTYPE` error.
pub(super) fn explain_error(error: RedisError, keys: &dyn Fn() -> Vec<String>) -> RedisError {
    if error.code() != Some(WRONG_TYPE) {
        return error;
    }
    match ServerError::try_from(error) {
        Ok(server_error) => explained(&server_error, &keys()).into(),
        Err(other) => other,
    }
}

fn explained(error: &ServerError, keys: &[String]) -> ServerError {
    let place = match keys.iter().find_map(|key| prefix_of(key)) {
        Some(prefix) => format!("a key under the prefix {prefix:?}"),
        None => match keys.first() {
            Some(key) => format!("the key {key:?}"),
            None => "a key of the queue".to_owned(),
        },
    };
    let reply = error.details().unwrap_or_default();
    let detail = format!(
        "{place} holds another type of value than this queue stores there, so another program uses keys under \
         the queue's prefix; give the queue a prefix of its own (JOBS_REDIS_PREFIX) or remove the other \
         program's keys. Redis replied: {reply}"
    );
    let rewritten = redis::make_extension_error(WRONG_TYPE.to_owned(), Some(detail));
    ServerError::try_from(rewritten).expect("an extension error is a server error")
}

/// Lists the keys of every command of a pipeline.
pub(super) fn keys_of_pipeline(pipeline: &Pipeline) -> Vec<String> {
    pipeline.cmd_iter().flat_map(keys_of).collect()
}

/// Lists the keys a command names: the KEYS of `EVAL` and `EVALSHA`, and the
/// first argument of any other command that has one.
pub(super) fn keys_of(command: &Cmd) -> Vec<String> {
    let args: Vec<&[u8]> = command
        .args_iter()
        .filter_map(|arg| match arg {
            Arg::Simple(bytes) => Some(bytes),
            _ => None,
        })
        .collect();
    let Some(name) = args.first() else {
        return Vec::new();
    };
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    if name.eq_ignore_ascii_case(b"EVALSHA") || name.eq_ignore_ascii_case(b"EVAL") {
        let count = args
            .get(2)
            .and_then(|count| std::str::from_utf8(count).ok())
            .and_then(|count| count.parse::<usize>().ok())
            .unwrap_or(0);
        return args.iter().skip(3).take(count).map(|key| text(key)).collect();
    }
    args.get(1).map(|key| vec![text(key)]).unwrap_or_default()
}

/// Finds the prefix of a queue key by its fixed suffix, such as `:ready` or
/// `:job:`. Returns `None` for a key with a variable part, such as a job hash.
fn prefix_of(key: &str) -> Option<&str> {
    let layout = Keys::new("");
    let suffixes = [
        layout.ready,
        layout.processing,
        layout.processing_vt,
        layout.delayed,
        layout.seq,
        layout.dlq,
        layout.job_prefix,
        layout.unique_prefix,
    ];
    suffixes
        .iter()
        .find_map(|suffix| key.strip_suffix(suffix.as_str()))
        .filter(|prefix| !prefix.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_found_from_fixed_keys() {
        assert_eq!(prefix_of("jobs:ready"), Some("jobs"));
        assert_eq!(prefix_of("app:jobs:processing_vt"), Some("app:jobs"));
        assert_eq!(prefix_of("{jobs}:job:"), Some("{jobs}"));
        assert_eq!(prefix_of("jobs:job:17"), None);
        assert_eq!(prefix_of(":ready"), None);
    }

    #[test]
    fn script_keys_read_from_evalsha() {
        let mut command = redis::cmd("EVALSHA");
        command
            .arg("0123abcd")
            .arg(2)
            .arg("q:seq")
            .arg("q:job:")
            .arg("not a key");
        assert_eq!(keys_of(&command), ["q:seq", "q:job:"]);

        let mut command = redis::cmd("HGETALL");
        command.arg("q:job:5");
        assert_eq!(keys_of(&command), ["q:job:5"]);

        assert!(keys_of(&redis::cmd("TIME")).is_empty());
    }

    #[test]
    fn wrong_type_error_names_prefix() {
        let mut command = redis::cmd("LLEN");
        command.arg("app:jobs:ready");
        let reply = redis::make_extension_error(
            WRONG_TYPE.to_owned(),
            Some("Operation against a key holding the wrong kind of value".to_owned()),
        );

        let error = explain_error(reply, &|| keys_of(&command));

        let text = error.to_string();
        assert_eq!(error.code(), Some(WRONG_TYPE));
        assert!(text.contains("under the prefix \"app:jobs\""), "{text}");
        assert!(text.contains("another program"), "{text}");
        assert!(text.contains("Operation against a key"), "{text}");
    }
}
