//! Private-app access tokens: static, no refresh. The portal id comes from
//! [`HubSpotClient::account_details`](crate::HubSpotClient::account_details).

use async_trait::async_trait;

use super::{AccessTokenSource, Secret};
use crate::Result;

/// A private app's access token (`pat-...`), served as is.
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
