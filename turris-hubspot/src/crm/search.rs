//! CRM search: filter groups (ORed) of filters (ANDed), at most 200 per page and 10,000 per
//! query; [`HubSpotClient::search_all`](crate::HubSpotClient::search_all) windows past that.

use crate::version::Api;
use serde::{Deserialize, Serialize};

use super::{Paging, SimplePublicObject};

/// HubSpot's largest search page.
pub const MAX_SEARCH_PAGE: u32 = 200;
/// HubSpot returns at most this many results for one search query.
pub const MAX_SEARCH_RESULTS: u64 = 10_000;

/// Body of `POST /crm/v3/objects/{type}/search`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    /// Groups are ORed; filters inside a group are ANDed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter_groups: Vec<FilterGroup>,
    /// Sort order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sorts: Vec<Sort>,
    /// Full-text query over default searchable properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Properties to return.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<String>,
    /// Page size, at most [`MAX_SEARCH_PAGE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Cursor from the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// Filters ANDed together.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FilterGroup {
    /// The filters.
    pub filters: Vec<Filter>,
}

/// One condition on a property.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    /// The property.
    pub property_name: String,
    /// The operator.
    pub operator: FilterOperator,
    /// The value for single-value operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The upper bound of `BETWEEN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high_value: Option<String>,
    /// The values of `IN` / `NOT_IN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
}

impl Filter {
    /// `property operator value`.
    pub fn new(
        property: impl Into<String>,
        operator: FilterOperator,
        value: impl Into<String>,
    ) -> Self {
        Filter {
            property_name: property.into(),
            operator,
            value: Some(value.into()),
            high_value: None,
            values: None,
        }
    }

    /// `property EQ value`.
    pub fn eq(property: impl Into<String>, value: impl Into<String>) -> Self {
        Filter::new(property, FilterOperator::Eq, value)
    }

    /// `property HAS_PROPERTY`.
    pub fn has_property(property: impl Into<String>) -> Self {
        Filter {
            property_name: property.into(),
            operator: FilterOperator::HasProperty,
            value: None,
            high_value: None,
            values: None,
        }
    }

    /// `property IN values`.
    pub fn one_of(property: impl Into<String>, values: Vec<String>) -> Self {
        Filter {
            property_name: property.into(),
            operator: FilterOperator::In,
            value: None,
            high_value: None,
            values: Some(values),
        }
    }
}

/// Search operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum FilterOperator {
    /// Equal.
    Eq,
    /// Not equal.
    Neq,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lte,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Gte,
    /// Between `value` and `highValue`.
    Between,
    /// One of `values`.
    In,
    /// None of `values`.
    NotIn,
    /// Has a value.
    HasProperty,
    /// Has no value.
    NotHasProperty,
    /// Contains a token (supports `*` wildcards).
    ContainsToken,
    /// Does not contain a token.
    NotContainsToken,
}

/// One sort key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sort {
    /// The property.
    pub property_name: String,
    /// The direction.
    pub direction: SortDirection,
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SortDirection {
    /// Smallest first.
    Ascending,
    /// Largest first.
    Descending,
}

/// A page of search results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResponse {
    /// Total matches of the query (HubSpot serves at most 10,000 of them).
    pub total: u64,
    /// This page.
    pub results: Vec<SimplePublicObject>,
    /// Where the next page is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paging: Option<Paging>,
}

use crate::client::ApiRequest;
use crate::rate_limit::BudgetKind;
use crate::{HubSpotClient, Result};
use http::Method;

use super::ObjectType;

impl HubSpotClient {
    /// One page of `POST /crm/v3/objects/{type}/search` (spends the search budget).
    pub async fn search_page(
        &self,
        object: &ObjectType,
        request: &SearchRequest,
    ) -> Result<SearchResponse> {
        let req = ApiRequest::new(
            Method::POST,
            self.path(Api::Objects, format!("/{object}/search")),
        )
        .budget(BudgetKind::Search)
        .idempotent()
        .json(request)?;
        self.send_json(req).await
    }

    /// Every match of `request`, past HubSpot's 10,000-results-per-query cap.
    ///
    /// Sorts by `hs_object_id` ascending (replacing the request's sorts) and pages with 200;
    /// before a query would pass 10,000 results it starts a new query with
    /// `hs_object_id GT <last id>` added to every filter group. The request's `after` is
    /// ignored. Each filter group gains one filter, so a group must leave room for it.
    pub async fn search_all(
        &self,
        object: &ObjectType,
        request: &SearchRequest,
    ) -> Result<Vec<SimplePublicObject>> {
        let limit = request
            .limit
            .unwrap_or(MAX_SEARCH_PAGE)
            .clamp(1, MAX_SEARCH_PAGE);
        let mut all: Vec<SimplePublicObject> = Vec::new();
        let mut last_id: Option<String> = None;
        loop {
            // One window: a query of at most 10,000 results.
            let mut query = windowed(request, last_id.as_deref(), limit);
            let mut fetched: u64 = 0;
            let mut restart = false;
            loop {
                let page = self.search_page(object, &query).await?;
                fetched += page.results.len() as u64;
                if let Some(last) = page.results.last() {
                    last_id = Some(last.id.clone());
                }
                let next = page.paging.and_then(|p| p.next).map(|n| n.after);
                let got = page.results.len();
                all.extend(page.results);
                if got == 0 {
                    break;
                }
                match next {
                    Some(after) if fetched + u64::from(limit) <= MAX_SEARCH_RESULTS => {
                        query.after = Some(after);
                    }
                    Some(_) => {
                        restart = true;
                        break;
                    }
                    None => {
                        // HubSpot may stop paging at the cap while `total` says there is more.
                        restart = page.total > fetched;
                        break;
                    }
                }
            }
            if !restart {
                return Ok(all);
            }
        }
    }
}

/// The query of one window: sorted by id, restarted above `last_id`.
fn windowed(request: &SearchRequest, last_id: Option<&str>, limit: u32) -> SearchRequest {
    let mut query = request.clone();
    query.after = None;
    query.limit = Some(limit);
    query.sorts = vec![Sort {
        property_name: "hs_object_id".to_owned(),
        direction: SortDirection::Ascending,
    }];
    if let Some(last) = last_id {
        let above = Filter::new("hs_object_id", FilterOperator::Gt, last);
        if query.filter_groups.is_empty() {
            query.filter_groups.push(FilterGroup {
                filters: vec![above],
            });
        } else {
            for group in &mut query.filter_groups {
                group.filters.push(above.clone());
            }
        }
    }
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_adds_the_id_floor_to_every_group_and_sorts_by_id() {
        let request = SearchRequest {
            filter_groups: vec![
                FilterGroup {
                    filters: vec![Filter::eq("state", "CA")],
                },
                FilterGroup {
                    filters: vec![Filter::has_property("npn")],
                },
            ],
            after: Some("400".to_owned()),
            ..SearchRequest::default()
        };
        let query = windowed(&request, Some("9001"), 200);
        assert_eq!(query.after, None);
        assert_eq!(query.sorts[0].property_name, "hs_object_id");
        assert_eq!(query.sorts[0].direction, SortDirection::Ascending);
        for group in &query.filter_groups {
            let floor = group.filters.last().unwrap();
            assert_eq!(floor.operator, FilterOperator::Gt);
            assert_eq!(floor.value.as_deref(), Some("9001"));
        }
        let first = windowed(&SearchRequest::default(), None, 200);
        assert!(first.filter_groups.is_empty());
    }
}
