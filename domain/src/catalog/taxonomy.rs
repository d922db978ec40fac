//! The `Taxonomy` aggregate: the catalog's category tree, one aggregate for the whole tree
//! (id [`TAXONOMY_ID`]). One aggregate makes the tree's rules hold under concurrency without
//! locks: a key is unique, a parent exists, a move never makes a cycle, the tree is at most
//! [`MAX_DEPTH`] deep, a category with children is not removed — each decided on the one
//! version of the tree, and two racing edits are ordered by optimistic concurrency. Category
//! edits are rare back-office work, so the single stream is no bottleneck.
//!
//! A category is named by its `key` (`mens-shoes`: lower-case letters and digits joined by
//! `-`), which never changes; products refer to categories by key. Siblings are ordered by
//! `position`, then key.

use std::collections::BTreeMap;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::values::is_category_key;
use crate::error_kind::DomainErrorKind;

/// The id of the one taxonomy aggregate.
pub const TAXONOMY_ID: &str = "catalog";
/// At most this many levels: a root category is at depth 1.
pub const MAX_DEPTH: usize = 8;
/// At most this many categories in the tree.
pub const MAX_CATEGORIES: usize = 5_000;
/// A category name is at most this long.
pub const MAX_CATEGORY_NAME_CHARS: usize = 100;
/// A position is at most this.
pub const MAX_POSITION: u32 = 1_000_000;
/// Schema version of every taxonomy event.
pub const EVENT_SCHEMA_VERSION: &str = "1";

/// One category of the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Category {
    pub key: String,
    pub name: String,
    pub parent: Option<String>,
    pub position: u32,
}

/// The tree, as the commands need it.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Taxonomy {
    pub categories: BTreeMap<String, Category>,
}

/// What a caller may ask of the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum TaxonomyCommand {
    CreateCategory {
        key: String,
        name: String,
        parent: Option<String>,
        position: u32,
    },
    /// Renames and/or re-orders a category among its siblings; `None` leaves a field.
    UpdateCategory {
        key: String,
        name: Option<String>,
        position: Option<u32>,
    },
    /// Moves a category (with its subtree) under another parent, or to the root.
    MoveCategory {
        key: String,
        parent: Option<String>,
        position: u32,
    },
    /// Removes a category without children. Products that name it keep the key.
    RemoveCategory { key: String },
}

/// What happened to the tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TaxonomyEvent {
    #[serde(rename_all = "camelCase")]
    CategoryCreated {
        key: String,
        name: String,
        parent: Option<String>,
        position: u32,
    },
    #[serde(rename_all = "camelCase")]
    CategoryRenamed { key: String, name: String },
    /// A new parent and/or position.
    #[serde(rename_all = "camelCase")]
    CategoryMoved {
        key: String,
        parent: Option<String>,
        position: u32,
    },
    #[serde(rename_all = "camelCase")]
    CategoryRemoved { key: String },
}

impl TaxonomyEvent {
    /// Every event type name, for exhaustive topic and schema maps.
    pub const EVENT_TYPES: &'static [&'static str] = &[
        "CategoryCreated",
        "CategoryRenamed",
        "CategoryMoved",
        "CategoryRemoved",
    ];
}

impl DomainEvent for TaxonomyEvent {
    fn event_type(&self) -> String {
        match self {
            Self::CategoryCreated { .. } => "CategoryCreated",
            Self::CategoryRenamed { .. } => "CategoryRenamed",
            Self::CategoryMoved { .. } => "CategoryMoved",
            Self::CategoryRemoved { .. } => "CategoryRemoved",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        EVENT_SCHEMA_VERSION.to_owned()
    }
}

/// A rejected taxonomy command. Each message names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxonomyError {
    #[error("{field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("key: category {0} already exists")]
    AlreadyExists(String),
    #[error("key: no category {0}")]
    UnknownCategory(String),
    #[error("parent: no category {0}")]
    UnknownParent(String),
    #[error("parent: {0} is the category itself or one of its descendants")]
    Cycle(String),
    #[error("parent: the tree would be deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("key: category {0} has children; move or remove them first")]
    HasChildren(String),
    #[error("the tree has {MAX_CATEGORIES} categories already")]
    Full,
    #[error("the update names no field to change")]
    EmptyUpdate,
}

impl TaxonomyError {
    fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            field,
            reason: reason.into(),
        }
    }

    pub fn kind(&self) -> DomainErrorKind {
        match self {
            Self::InvalidField { .. } | Self::EmptyUpdate => DomainErrorKind::InvalidArgument,
            Self::UnknownCategory(_) => DomainErrorKind::NotFound,
            Self::AlreadyExists(_) => DomainErrorKind::Conflict,
            Self::UnknownParent(_)
            | Self::Cycle(_)
            | Self::TooDeep
            | Self::HasChildren(_)
            | Self::Full => DomainErrorKind::FailedPrecondition,
        }
    }

    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::InvalidField { field, .. } => Some(field),
            Self::AlreadyExists(_) | Self::UnknownCategory(_) | Self::HasChildren(_) => Some("key"),
            Self::UnknownParent(_) | Self::Cycle(_) | Self::TooDeep => Some("parent"),
            Self::Full | Self::EmptyUpdate => None,
        }
    }
}

fn key(raw: &str, field: &'static str) -> Result<String, TaxonomyError> {
    let key = raw.trim().to_ascii_lowercase();
    if is_category_key(&key) {
        Ok(key)
    } else {
        Err(TaxonomyError::invalid(
            field,
            "must be lower-case letters and digits joined by '-', at most 128 characters",
        ))
    }
}

fn name(raw: &str) -> Result<String, TaxonomyError> {
    let name =
        crate::text::clean(raw).map_err(|issue| TaxonomyError::invalid("name", issue.reason()))?;
    if name.is_empty() {
        return Err(TaxonomyError::invalid("name", "must not be empty"));
    }
    if name.chars().count() > MAX_CATEGORY_NAME_CHARS {
        return Err(TaxonomyError::invalid(
            "name",
            format!("must be at most {MAX_CATEGORY_NAME_CHARS} characters"),
        ));
    }
    Ok(name)
}

fn position(position: u32) -> Result<u32, TaxonomyError> {
    if position > MAX_POSITION {
        return Err(TaxonomyError::invalid(
            "position",
            format!("must be at most {MAX_POSITION}"),
        ));
    }
    Ok(position)
}

impl Taxonomy {
    /// Whether the tree has this category.
    pub fn contains(&self, key: &str) -> bool {
        self.categories.contains_key(key)
    }

    /// The keys from the root down to `key` (empty for an unknown key).
    pub fn path(&self, key: &str) -> Vec<String> {
        let mut path = Vec::new();
        let mut at = self.categories.get(key);
        while let Some(category) = at {
            // The tree never has a cycle; the bound guards a corrupt history all the same.
            if path.len() > MAX_DEPTH {
                break;
            }
            path.push(category.key.clone());
            at = category
                .parent
                .as_deref()
                .and_then(|p| self.categories.get(p));
        }
        path.reverse();
        path
    }

    /// Levels below `key`, `key` included (1 for a leaf).
    fn height(&self, key: &str) -> usize {
        1 + self
            .categories
            .values()
            .filter(|c| c.parent.as_deref() == Some(key))
            .map(|c| self.height(&c.key))
            .max()
            .unwrap_or(0)
    }

    /// The parent a category may be placed under, checked.
    fn placement(&self, key: &str, parent: Option<&str>) -> Result<Option<String>, TaxonomyError> {
        let Some(parent) = parent.map(|p| p.trim()).filter(|p| !p.is_empty()) else {
            return Ok(None);
        };
        let parent = self::key(parent, "parent")?;
        if !self.contains(&parent) {
            return Err(TaxonomyError::UnknownParent(parent));
        }
        if self.path(&parent).iter().any(|k| k == key) {
            return Err(TaxonomyError::Cycle(parent));
        }
        let subtree = if self.contains(key) {
            self.height(key)
        } else {
            1
        };
        if self.path(&parent).len() + subtree > MAX_DEPTH {
            return Err(TaxonomyError::TooDeep);
        }
        Ok(Some(parent))
    }

    fn existing(&self, raw: &str) -> Result<&Category, TaxonomyError> {
        let key = key(raw, "key")?;
        self.categories
            .get(&key)
            .ok_or(TaxonomyError::UnknownCategory(key))
    }
}

impl Aggregate for Taxonomy {
    const TYPE: &'static str = "taxonomy";
    type Command = TaxonomyCommand;
    type Event = TaxonomyEvent;
    type Error = TaxonomyError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            TaxonomyCommand::CreateCategory {
                key: raw_key,
                name: raw_name,
                parent,
                position: raw_position,
            } => {
                let key = key(&raw_key, "key")?;
                let name = name(&raw_name)?;
                let position = position(raw_position)?;
                if self.contains(&key) {
                    return Err(TaxonomyError::AlreadyExists(key));
                }
                if self.categories.len() >= MAX_CATEGORIES {
                    return Err(TaxonomyError::Full);
                }
                let parent = self.placement(&key, parent.as_deref())?;
                TaxonomyEvent::CategoryCreated {
                    key,
                    name,
                    parent,
                    position,
                }
            }
            TaxonomyCommand::UpdateCategory {
                key,
                name: new_name,
                position: new_position,
            } => {
                let category = self.existing(&key)?.clone();
                if new_name.is_none() && new_position.is_none() {
                    return Err(TaxonomyError::EmptyUpdate);
                }
                let new_name = new_name.map(|n| name(&n)).transpose()?;
                let new_position = new_position.map(position).transpose()?;
                let mut events = Vec::new();
                if let Some(new_name) = new_name.filter(|n| *n != category.name) {
                    events.push(TaxonomyEvent::CategoryRenamed {
                        key: category.key.clone(),
                        name: new_name,
                    });
                }
                if let Some(new_position) = new_position.filter(|p| *p != category.position) {
                    events.push(TaxonomyEvent::CategoryMoved {
                        key: category.key.clone(),
                        parent: category.parent.clone(),
                        position: new_position,
                    });
                }
                for event in events {
                    sink.write(event, self).await;
                }
                return Ok(());
            }
            TaxonomyCommand::MoveCategory {
                key,
                parent,
                position: raw_position,
            } => {
                let category = self.existing(&key)?.clone();
                let position = position(raw_position)?;
                let parent = self.placement(&category.key, parent.as_deref())?;
                if parent == category.parent && position == category.position {
                    return Ok(());
                }
                TaxonomyEvent::CategoryMoved {
                    key: category.key,
                    parent,
                    position,
                }
            }
            TaxonomyCommand::RemoveCategory { key } => {
                let category = self.existing(&key)?.clone();
                if self
                    .categories
                    .values()
                    .any(|c| c.parent.as_deref() == Some(category.key.as_str()))
                {
                    return Err(TaxonomyError::HasChildren(category.key));
                }
                TaxonomyEvent::CategoryRemoved { key: category.key }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            TaxonomyEvent::CategoryCreated {
                key,
                name,
                parent,
                position,
            } => {
                self.categories.insert(
                    key.clone(),
                    Category {
                        key,
                        name,
                        parent,
                        position,
                    },
                );
            }
            TaxonomyEvent::CategoryRenamed { key, name } => {
                if let Some(category) = self.categories.get_mut(&key) {
                    category.name = name;
                }
            }
            TaxonomyEvent::CategoryMoved {
                key,
                parent,
                position,
            } => {
                if let Some(category) = self.categories.get_mut(&key) {
                    category.parent = parent;
                    category.position = position;
                }
            }
            TaxonomyEvent::CategoryRemoved { key } => {
                self.categories.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;

    fn created(key: &str, parent: Option<&str>) -> TaxonomyEvent {
        TaxonomyEvent::CategoryCreated {
            key: key.into(),
            name: key.to_uppercase(),
            parent: parent.map(str::to_owned),
            position: 0,
        }
    }

    fn create(key: &str, parent: Option<&str>) -> TaxonomyCommand {
        TaxonomyCommand::CreateCategory {
            key: key.into(),
            name: key.to_uppercase(),
            parent: parent.map(str::to_owned),
            position: 0,
        }
    }

    fn error(given: Vec<TaxonomyEvent>, command: TaxonomyCommand) -> TaxonomyError {
        TestFramework::<Taxonomy>::with(())
            .given(given)
            .when(command)
            .inspect_result()
            .expect_err("rejected")
    }

    #[test]
    fn create_checks_key_parent_and_uniqueness() {
        TestFramework::<Taxonomy>::with(())
            .given(vec![created("shoes", None)])
            .when(TaxonomyCommand::CreateCategory {
                key: " Mens-Shoes ".into(),
                name: " Me\u{301}n's shoes ".into(),
                parent: Some("shoes".into()),
                position: 3,
            })
            .then_expect_events(vec![TaxonomyEvent::CategoryCreated {
                key: "mens-shoes".into(),
                name: "Mén's shoes".into(),
                parent: Some("shoes".into()),
                position: 3,
            }]);
        assert_eq!(
            error(vec![created("shoes", None)], create("shoes", None)),
            TaxonomyError::AlreadyExists("shoes".into())
        );
        assert_eq!(
            error(vec![], create("boots", Some("shoes"))),
            TaxonomyError::UnknownParent("shoes".into())
        );
        assert_eq!(
            error(vec![], create("mens shoes", None)).field(),
            Some("key")
        );
        assert_eq!(
            error(vec![], create("shoes\u{200B}", None)).field(),
            Some("key")
        );
    }

    #[test]
    fn moves_never_make_a_cycle_or_a_tree_too_deep() {
        let chain = vec![
            created("a", None),
            created("b", Some("a")),
            created("c", Some("b")),
        ];
        let move_to = |key: &str, parent: &str| TaxonomyCommand::MoveCategory {
            key: key.into(),
            parent: Some(parent.into()),
            position: 0,
        };
        assert_eq!(
            error(chain.clone(), move_to("a", "c")),
            TaxonomyError::Cycle("c".into())
        );
        assert_eq!(
            error(chain.clone(), move_to("a", "a")),
            TaxonomyError::Cycle("a".into())
        );

        let mut deep = vec![created("l1", None)];
        for level in 2..=MAX_DEPTH {
            deep.push(created(
                &format!("l{level}"),
                Some(&format!("l{}", level - 1)),
            ));
        }
        let deepest = format!("l{MAX_DEPTH}");
        assert_eq!(
            error(deep.clone(), create("too-deep", Some(&deepest))),
            TaxonomyError::TooDeep
        );
        // Moving a two-level subtree under level MAX_DEPTH - 1 would also be too deep.
        let mut with_subtree = deep.clone();
        with_subtree.push(created("x", None));
        with_subtree.push(created("y", Some("x")));
        assert_eq!(
            error(with_subtree, move_to("x", &format!("l{}", MAX_DEPTH - 1))),
            TaxonomyError::TooDeep
        );
    }

    #[test]
    fn update_renames_and_reorders_and_remove_needs_a_leaf() {
        TestFramework::<Taxonomy>::with(())
            .given(vec![created("shoes", None)])
            .when(TaxonomyCommand::UpdateCategory {
                key: "shoes".into(),
                name: Some("Footwear".into()),
                position: Some(2),
            })
            .then_expect_events(vec![
                TaxonomyEvent::CategoryRenamed {
                    key: "shoes".into(),
                    name: "Footwear".into(),
                },
                TaxonomyEvent::CategoryMoved {
                    key: "shoes".into(),
                    parent: None,
                    position: 2,
                },
            ]);
        let tree = vec![created("shoes", None), created("boots", Some("shoes"))];
        assert_eq!(
            error(
                tree.clone(),
                TaxonomyCommand::RemoveCategory {
                    key: "shoes".into()
                }
            ),
            TaxonomyError::HasChildren("shoes".into())
        );
        TestFramework::<Taxonomy>::with(())
            .given(tree)
            .when(TaxonomyCommand::RemoveCategory {
                key: "boots".into(),
            })
            .then_expect_events(vec![TaxonomyEvent::CategoryRemoved {
                key: "boots".into(),
            }]);
    }
}
