//! Activity pruning: entries older than 30 days are deleted, newer ones stay.

use chrono::{Duration, Utc};
use turris_core::activity::{ActivityDetails, ActivityKind, NewActivity, Outcome};
use turris_core::ids::OrganizationId;

use super::*;

sync_test!(
    async fn the_pruning_job_deletes_activity_older_than_thirty_days_and_keeps_the_rest(app) {
        let org = OrganizationId::parse(&app.org).unwrap();
        let now = Utc::now();
        for (days, message) in [(31, "too old"), (29, "recent enough")] {
            let entry = NewActivity::new(ActivityKind::UpdateCompany, Outcome::Success, now - Duration::days(days))
                .with_details(ActivityDetails {
                    message: Some(message.into()),
                    ..ActivityDetails::default()
                });
            app.state.db().append_activity(&org, &entry).await.unwrap();
        }
        let pruned = turris_server::sync::pruning::prune(&app.state, now).await.unwrap();
        assert_eq!(pruned.activity, 1);
        let messages: Vec<Value> = app
            .activity_titled("Update company in HubSpot")
            .await
            .into_iter()
            .map(|a| a["details"]["message"].clone())
            .collect();
        assert_eq!(messages, [json!("recent enough")]);
    }
);
