//! CRM search: filter groups (ORed) of filters (ANDed), at most 200 per page and 10,000 per
//! query; [`HubSpotClient::search_all`](crate::HubSpotClient::search_all) windows past that.

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
