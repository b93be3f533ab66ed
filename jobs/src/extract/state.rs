//! Application state shared with handlers, stored by type.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// The state values a registry hands to its handlers, one per type.
#[derive(Clone, Default)]
pub(crate) struct StateMap {
    values: HashMap<TypeId, StateValue>,
}

#[derive(Clone)]
struct StateValue {
    value: Arc<dyn Any + Send + Sync>,
    type_name: &'static str,
}

impl StateMap {
    /// Stores `value` as the state of type `T`. Returns `false`, and keeps the
    /// earlier value, when the map already has a value of that type.
    pub(crate) fn insert<T: Send + Sync + 'static>(&mut self, value: Arc<T>) -> bool {
        if self.values.contains_key(&TypeId::of::<T>()) {
            return false;
        }
        let value = StateValue {
            value,
            type_name: std::any::type_name::<T>(),
        };
        self.values.insert(TypeId::of::<T>(), value);
        true
    }

    /// Returns the state of type `T`, if the map has one.
    pub(crate) fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        let stored = self.values.get(&TypeId::of::<T>())?;
        Arc::clone(&stored.value).downcast::<T>().ok()
    }

    /// Returns whether the map has a value of the type `requirement` names.
    pub(crate) fn satisfies(&self, requirement: &StateRequirement) -> bool {
        self.values.contains_key(&requirement.type_id())
    }
}

impl fmt::Debug for StateMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.values.values().map(|stored| stored.type_name).collect();
        names.sort_unstable();
        f.debug_set().entries(names).finish()
    }
}

/// A state type that an extractor reads from the registry.
///
/// `#[job]` records one for each extractor of a handler, so that
/// [`Registry::builder`](crate::Registry::builder) can report missing state
/// when the registry is built instead of when a job arrives. The fields are
/// function pointers, so a requirement is constant data.
#[derive(Clone, Copy)]
pub struct StateRequirement {
    type_id: fn() -> TypeId,
    type_name: fn() -> &'static str,
}

impl StateRequirement {
    /// Returns the requirement for state of type `T`.
    pub const fn of<T: Send + Sync + 'static>() -> Self {
        Self {
            type_id: TypeId::of::<T>,
            type_name: std::any::type_name::<T>,
        }
    }

    /// Returns the `TypeId` of the required type.
    pub fn type_id(&self) -> TypeId {
        (self.type_id)()
    }

    /// Returns the name of the required type, as `std::any::type_name` gives it.
    pub fn type_name(&self) -> &'static str {
        (self.type_name)()
    }
}

impl fmt::Debug for StateRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StateRequirement").field(&self.type_name()).finish()
    }
}

impl PartialEq for StateRequirement {
    fn eq(&self, other: &Self) -> bool {
        self.type_id() == other.type_id()
    }
}

impl Eq for StateRequirement {}
