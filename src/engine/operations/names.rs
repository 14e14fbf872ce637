//! Names of the groups and assignment filters that targets refer to, looked up by id (never by
//! listing every group of a tenant) and remembered for the rest of the run.

use crate::backups::{target_filter, target_group, Assignment, TargetView};
use crate::provider::{ProviderError, ProviderSession};
use std::collections::HashMap;

/// Looks names up through one session. A lookup the app registration may not make (403)
/// leaves names unknown instead of failing the run; the first such refusal is kept to say so.
pub(super) struct Names<'a> {
    session: &'a ProviderSession,
    groups: HashMap<String, Option<String>>,
    filters: HashMap<String, Option<String>>,
    pub refused: Option<ProviderError>,
}

impl<'a> Names<'a> {
    pub fn new(session: &'a ProviderSession) -> Names<'a> {
        Names { session, groups: HashMap::new(), filters: HashMap::new(), refused: None }
    }

    /// Knows these filter names already (a tenant's whole, short, list of filters).
    pub fn with_filters(mut self, filters: impl IntoIterator<Item = (String, String)>) -> Names<'a> {
        self.filters.extend(filters.into_iter().map(|(id, name)| (id, Some(name))));
        self
    }

    fn unknown_after(&mut self, error: ProviderError) -> Result<Option<String>, ProviderError> {
        if error.status == Some(403) {
            self.refused.get_or_insert(error);
            Ok(None)
        } else {
            Err(error)
        }
    }

    pub async fn group(&mut self, id: &str) -> Result<Option<String>, ProviderError> {
        if let Some(name) = self.groups.get(id) {
            return Ok(name.clone());
        }
        let name = match self.session.group(id).await {
            Ok(group) => group.map(|group| group.display_name),
            Err(error) => self.unknown_after(error)?,
        };
        self.groups.insert(id.to_string(), name.clone());
        Ok(name)
    }

    pub async fn filter(&mut self, id: &str) -> Result<Option<String>, ProviderError> {
        if let Some(name) = self.filters.get(id) {
            return Ok(name.clone());
        }
        let name = match self.session.assignment_filter(id).await {
            Ok(filter) => filter.map(|filter| filter.display_name),
            Err(error) => self.unknown_after(error)?,
        };
        self.filters.insert(id.to_string(), name.clone());
        Ok(name)
    }

    /// Graph's targets as stored assignments, with the names of what they refer to.
    pub async fn assignments(
        &mut self,
        targets: Vec<serde_json::Value>,
    ) -> Result<Vec<Assignment>, ProviderError> {
        let mut assignments = Vec::with_capacity(targets.len());
        for target in targets {
            let group_name = match target_group(&target).map(str::to_string) {
                Some(id) => self.group(&id).await?,
                None => None,
            };
            let filter_name = match target_filter(&target).map(|(id, _)| id.to_string()) {
                Some(id) => self.filter(&id).await?,
                None => None,
            };
            assignments.push(Assignment { target, group_name, filter_name });
        }
        Ok(assignments)
    }

    /// Graph's targets as a preview shows them.
    pub async fn views(&mut self, targets: Vec<serde_json::Value>) -> Result<Vec<TargetView>, ProviderError> {
        let assignments = self.assignments(targets).await?;
        Ok(assignments
            .into_iter()
            .map(|assignment| {
                TargetView::of(&assignment.target, assignment.group_name, assignment.filter_name)
            })
            .collect())
    }
}
