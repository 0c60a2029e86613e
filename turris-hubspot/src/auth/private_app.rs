//! Static access tokens: no refresh. A legacy private app's token (`pat-...`), the token on
//! the Auth tab of a project-based app with `auth.type: static` (one account), and a Service
//! Key (account-level, REST only: no webhooks, no journal) all authenticate the same way, as a
//! bearer token. The portal id comes from
//! [`HubSpotClient::account_details`](crate::HubSpotClient::account_details).

use async_trait::async_trait;

use super::{AccessTokenSource, Secret};
use crate::Result;

/// A static access token, served as is: a private app's (`pat-...`), a static-auth project
/// app's, or a Service Key.
#[derive(Debug, Clone)]
pub struct PrivateAppToken {
    token: Secret,
}

impl PrivateAppToken {
    /// Wraps the token.
    pub fn new(token: Secret) -> Self {
        PrivateAppToken { token }
    }
}

#[async_trait]
impl AccessTokenSource for PrivateAppToken {
    async fn access_token(&self) -> Result<Secret> {
        Ok(self.token.clone())
    }

    async fn refresh_after_rejection(&self, _rejected: &Secret) -> Result<Option<Secret>> {
        Ok(None)
    }
}

/// A project-based app's static-auth token (`auth.type: static`, one account).
pub type StaticToken = PrivateAppToken;

/// A Service Key: an account-level key with object scopes, rotatable in HubSpot's settings,
/// for REST calls only (HubSpot sends no webhooks for it and it cannot read the journal).
pub type ServiceKey = PrivateAppToken;
