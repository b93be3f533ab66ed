//! `Data<T>`: shared state that a handler takes as a parameter.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// Shared application state of type `T`, such as a database pool or an HTTP
/// client, given to the registry once and to handlers as a parameter.
///
/// Give the value to [`Registry::builder`](crate::Registry::builder) with
/// `.state(value)`; a `#[job]` handler then takes `Data<T>` after its payload.
/// `Data<T>` is an `Arc<T>`, so cloning it is cheap, and it dereferences to `T`.
///
/// ```standalone_crate
/// use jobs::{Data, Registry, job};
/// use serde::{Deserialize, Serialize};
///
/// struct Mailer { sender: String }
///
/// #[derive(Serialize, Deserialize)]
/// struct Welcome { to: String }
///
/// #[job(name = "welcome")]
/// async fn welcome(email: Welcome, mailer: Data<Mailer>) {
///     println!("{} writes to {}", mailer.sender, email.to);
/// }
///
/// # fn main() -> Result<(), jobs::RegistryError> {
/// let registry = Registry::builder()
///     .state(Mailer { sender: "hello@example.com".into() })
///     .from_inventory()?;
/// assert!(registry.has_handler("welcome"));
/// # Ok(()) }
/// ```
pub struct Data<T>(Arc<T>);

impl<T> Data<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self(Arc::new(value))
    }

    /// Returns the shared pointer to the state.
    pub fn into_inner(self) -> Arc<T> {
        self.0
    }
}

impl<T> Deref for Data<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> AsRef<T> for Data<T> {
    fn as_ref(&self) -> &T {
        &self.0
    }
}

impl<T> Clone for Data<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> From<Arc<T>> for Data<T> {
    fn from(value: Arc<T>) -> Self {
        Self(value)
    }
}

impl<T: fmt::Debug> fmt::Debug for Data<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Data").field(&self.0).finish()
    }
}
