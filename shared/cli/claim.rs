//! Claims as `git issue` prints them: the `claim` field of a listed issue. Who holds what, and
//! taking and releasing claims, are operations (`ops::locks`, `ops::issues`).

use std::collections::HashMap;

use super::CommandError;
use crate::event::Id;
use crate::store::Store;

pub use crate::ops::locks::Claim;

/// Active claims by issue, from the locks this clone knows of.
pub fn claims(store: &Store) -> Result<HashMap<Id, Claim>, CommandError> {
    Ok(crate::ops::locks::claims(store)?)
}
