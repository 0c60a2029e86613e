//! The `turris_tags` property: made when tags are turned on, and made again when someone
//! deleted it in HubSpot (a push refused with `PROPERTY_DOESNT_EXIST` for it); when it cannot
//! be made, tags are turned off so every other field keeps syncing.

use chrono::Utc;
use turris_core::activity::{ActivityDetails, ActivityKind, NewActivity, Outcome};
use turris_core::ids::OrganizationId;
use turris_core::tags::{TAGS_PROPERTY, Tag};
use turris_hubspot::HubSpotClient;
use turris_hubspot::crm::ObjectType;
use turris_hubspot::crm::properties::NewProperty;

use crate::app::AppState;
use crate::store::DbError;

/// Makes the tags property on `object` unless it exists (`true` when made), and records a new
/// one in the CRM sync record.
pub async fn ensure_property(
    state: &AppState,
    org: &OrganizationId,
    client: &HubSpotClient,
    object: &ObjectType,
) -> Result<bool, turris_hubspot::Error> {
    let group = match object {
        ObjectType::Contacts => "contactinformation",
        _ => "companyinformation",
    };
    let mut property = NewProperty::multi_select(
        TAGS_PROPERTY,
        "Turris tags",
        group,
        Tag::ALL.into_iter().map(|t| (t.name(), t.label())),
    );
    property.description = Some(
        "Set by Turris from the record's state (compliance, onboarding, NIPR); HubSpot lists \
         and workflows can trigger on it."
            .to_owned(),
    );
    let made = client.ensure_property(object, &property).await?;
    if made {
        crate::sync::creates::record_property(state, org, object, TAGS_PROPERTY).await;
    }
    Ok(made)
}

/// After HubSpot refused a write because `turris_tags` does not exist on `object`: makes it
/// again, or, when that fails, turns tags off. Either way an activity row says what happened
/// and what to do; the refused records are sent again.
pub async fn property_gone(
    state: &AppState,
    org: &OrganizationId,
    client: &HubSpotClient,
    object: &ObjectType,
) -> Result<String, DbError> {
    let (outcome, message) = match ensure_property(state, org, client, object).await {
        Ok(_) => (
            Outcome::Success,
            format!(
                "the {TAGS_PROPERTY} property on {object} was deleted in HubSpot; Turris made it \
                 again and sends the refused records again"
            ),
        ),
        Err(e) => {
            let mut settings = state.db().load_settings(org).await?.unwrap_or_default();
            settings.crm.tags = false;
            state.db().save_settings(org, &settings).await?;
            tracing::warn!(org = %org, error = %crate::hubspot::Upstream(&e), "tags turned off: their property cannot be made again");
            (
                Outcome::Failure,
                format!(
                    "the {TAGS_PROPERTY} property on {object} was deleted in HubSpot and cannot \
                     be made again (HubSpot answered {}); tags are turned off and the records \
                     are sent without them. Turn tags on again once the connection has the \
                     crm.schemas.{object}.write scope",
                    e.status().map_or("no answer".to_owned(), |s| s.to_string())
                ),
            )
        }
    };
    let row = NewActivity::new(ActivityKind::TagsPropertyMissing, outcome, Utc::now())
        .with_details(ActivityDetails {
            message: Some(message.clone()),
            ..ActivityDetails::default()
        });
    state.db().append_activity(org, &row).await?;
    Ok(message)
}
