//! `RegistryBuilder`: a registry with shared state for its handlers.

use std::sync::Arc;

use super::error::RegistryError;
use super::registration::JobRegistration;
use super::{Call, Handler, Registry, default_timeout_from_env};
use crate::extract::state::StateMap;

/// Builds a [`Registry`] whose handlers take shared state as `Data<T>`.
///
/// ```standalone_crate
/// use jobs::{Data, Registry, job};
/// use serde::{Deserialize, Serialize};
///
/// struct Database { url: String }
///
/// #[derive(Serialize, Deserialize)]
/// struct Archive { id: u64 }
///
/// #[job(name = "archive")]
/// async fn archive(job: Archive, db: Data<Database>) {
///     println!("archiving {} in {}", job.id, db.url);
/// }
///
/// # fn main() -> Result<(), jobs::RegistryError> {
/// // Without the state, building the registry fails and names what is missing.
/// let error = Registry::from_inventory().unwrap_err();
/// assert!(error.to_string().contains("Database"));
///
/// let registry = Registry::builder()
///     .state(Database { url: "postgres://localhost/app".into() })
///     .from_inventory()?;
/// assert!(registry.has_handler("archive"));
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct RegistryBuilder {
    state: StateMap,
    duplicate_state: Option<&'static str>,
}

impl RegistryBuilder {
    /// Adds `value` as the state of type `T`, which handlers take as `Data<T>`.
    ///
    /// Each type is given once: a second value of the same type makes
    /// [`from_inventory`](Self::from_inventory) fail. Wrap values that share a
    /// type, such as two HTTP clients, in newtypes.
    pub fn state<T: Send + Sync + 'static>(self, value: T) -> Self {
        self.shared_state(Arc::new(value))
    }

    /// Adds state that is already behind an `Arc`, which handlers then share
    /// with the rest of the program.
    pub fn shared_state<T: Send + Sync + 'static>(mut self, value: Arc<T>) -> Self {
        if !self.state.insert(value) && self.duplicate_state.is_none() {
            self.duplicate_state = Some(std::any::type_name::<T>());
        }
        self
    }

    /// Collects every `#[job]` handler linked into the binary, as
    /// [`Registry::from_inventory`] does, and checks that the registry has
    /// the state each handler takes.
    ///
    /// Fails when a state type was given twice, when a handler takes
    /// `Data<T>` for a `T` that was not given (naming the handler and `T`),
    /// when two handlers share a name, or when `JOB_DEFAULT_TIMEOUT_SECONDS`
    /// is invalid.
    pub fn from_inventory(self) -> Result<Registry, RegistryError> {
        if let Some(type_name) = self.duplicate_state {
            return Err(RegistryError::DuplicateState { type_name });
        }

        let mut registry = Registry::new();
        registry.default_timeout = default_timeout_from_env()?;
        let mut records: Vec<&JobRegistration> = inventory::iter::<JobRegistration>().collect();
        // Link order is not stable; sorting makes the duplicate report stable.
        records.sort_by_key(|record| (record.name, record.origin.path, record.origin.file, record.origin.line));
        for record in records {
            check_state(record, &self.state)?;
            let handler = Handler {
                options: record.options,
                call: Call::Static(record.handler),
                check: Some(record.check),
                payload_type: record.payload_type,
                origin: record.origin,
            };
            registry.insert(record.name, handler)?;
        }
        registry.state = Arc::new(self.state);
        Ok(registry)
    }
}

fn check_state(record: &JobRegistration, state: &StateMap) -> Result<(), RegistryError> {
    let missing = record
        .state
        .iter()
        .flatten()
        .find(|requirement| !state.satisfies(requirement));
    match missing {
        Some(requirement) => Err(RegistryError::MissingState {
            name: record.name.to_owned(),
            handler: record.origin.to_string(),
            type_name: requirement.type_name(),
        }),
        None => Ok(()),
    }
}
