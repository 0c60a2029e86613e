//! Account details (`GET /account-info/v3/details`): the portal id of a token.

use serde::{Deserialize, Serialize};

/// The portal behind a token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountDetails {
    /// The portal (hub) id.
    pub portal_id: u64,
    /// `STANDARD`, `SANDBOX`, `DEVELOPER_TEST`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_type: Option<String>,
    /// Time zone of the portal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Company currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_currency: Option<String>,
    /// UI domain (`app.hubspot.com`, `app-eu1.hubspot.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui_domain: Option<String>,
    /// Data hosting location (`na1`, `eu1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_hosting_location: Option<String>,
}

impl crate::HubSpotClient {
    /// `GET /account-info/v3/details`: the portal of the token (how a private-app connection
    /// learns its portal id).
    pub async fn account_details(&self) -> crate::Result<AccountDetails> {
        let req = crate::client::ApiRequest::new(
            http::Method::GET,
            self.path(crate::version::Api::AccountInfo, "/details"),
        );
        self.send_json(req).await
    }
}
