//! Token lifecycle: refresh ahead of expiry; a revoked app flips the status to error, pauses
//! sync, and a reconnect resumes it.

use chrono::{Duration, Utc};
use turris_core::ids::OrganizationId;
use turris_hubspot_sandbox::ObjectKind;
use turris_server::store::HubSpotAuth;

use super::*;

impl TestApp {
    /// Makes the stored access token expire in two minutes, inside the refresh lead.
    async fn token_about_to_expire(&self) -> chrono::DateTime<Utc> {
        let org = OrganizationId::parse(&self.org).unwrap();
        let db = self.state.db();
        let credentials = db.hubspot_credentials(&org).await.unwrap().unwrap();
        let HubSpotAuth::OAuth {
            access_token,
            refresh_token,
            ..
        } = credentials.auth
        else {
            panic!("connected through OAuth");
        };
        let expires_at = Utc::now() + Duration::minutes(2);
        let auth = HubSpotAuth::OAuth {
            access_token,
            refresh_token,
            expires_at,
        };
        db.replace_hubspot_auth(&org, &auth, Utc::now())
            .await
            .unwrap();
        expires_at
    }

    async fn stored_expiry(&self) -> chrono::DateTime<Utc> {
        let org = OrganizationId::parse(&self.org).unwrap();
        let credentials = self
            .state
            .db()
            .hubspot_credentials(&org)
            .await
            .unwrap()
            .unwrap();
        credentials.auth.expires_at().unwrap()
    }

    async fn connection_status(&self) -> Value {
        self.get("/api/v1/integrations").await.expect(200).body["integrations"][0]["status"].clone()
    }
}

sync_test!(
    async fn a_token_about_to_expire_is_refreshed_ahead_of_time_and_the_refresh_is_logged(app) {
        let old = app.token_about_to_expire().await;
        let refreshed = eventually("the token to be refreshed", || async {
            app.activity_titled("Refresh HubSpot access token")
                .await
                .into_iter()
                .find(|a| a["status"] == "success")
        })
        .await;
        assert_eq!(refreshed["direction"], "outbound");
        assert!(app.stored_expiry().await > old + Duration::minutes(20));
        assert_eq!(app.connection_status().await, "connected");
    }
);

sync_test!(
    async fn revoking_the_app_flips_the_status_to_error_pauses_sync_and_a_reconnect_resumes_it(app) {
        let control = app.sandbox.control();
        control.uninstall_app();
        app.token_about_to_expire().await;
        let failure = eventually("the refresh to fail", || async {
            app.activity_titled("Refresh HubSpot access token")
                .await
                .into_iter()
                .find(|a| a["status"] == "failure")
        })
        .await;
        assert_eq!(failure["details"]["error_category"], "BAD_REFRESH_TOKEN");
        assert_eq!(app.connection_status().await, "error");

        // Reconnecting reinstalls the app and restores the connection; sync resumes.
        let (code, state) = app.authorize(&format!("{H}/reconnect")).await;
        app.callback(&code, &state).await.expect(200);
        assert_eq!(app.connection_status().await, "connected");
        let company = control
            .create_record(
                ObjectKind::Companies,
                [("type", "PARTNER"), ("name", "Back Online Agency")],
            )
            .unwrap();
        app.settle().await;
        let agencies = app.agencies().await;
        assert_eq!(agencies.len(), 1, "{agencies:#?}");
        assert_eq!(agencies[0]["name"], "Back Online Agency");
        let created = app.activity_titled("HubSpot webhook: company created").await;
        assert_eq!(created[0]["details"]["hubspot_id"], company.id.as_str());
    }
);

sync_test!(
    async fn events_that_arrive_while_sync_is_paused_wait_without_spending_their_attempts(app) {
        let org = OrganizationId::parse(&app.org).unwrap();
        turris_server::hubspot::mark_connection_lost(
            &app.state,
            &org,
            &turris_server::hubspot::ConnectionError::Revoked,
        )
        .await
        .unwrap();
        assert_eq!(app.connection_status().await, "error");
        app.sandbox
            .control()
            .create_record(
                ObjectKind::Companies,
                [("type", "PARTNER"), ("name", "Paused Agency")],
            )
            .unwrap();
        app.sandbox.control().flush_webhooks().await;
        eventually("the worker to look at the events and postpone them", || async {
            let postponed = app
                .count("SELECT COUNT(*) FROM inbound_events WHERE last_error LIKE 'sync is paused%'")
                .await;
            (postponed > 0).then_some(())
        })
        .await;
        // However long the pause lasts, no event gets nearer to being given up.
        assert_eq!(
            app.count("SELECT COUNT(*) FROM inbound_events WHERE attempts > 0 OR status <> 'pending'")
                .await,
            0
        );
        assert!(app.agencies().await.is_empty());
    }
);

sync_test!(
    async fn two_replicas_refreshing_one_token_under_strict_rotation_call_hubspot_once_and_stay_connected(
        app
    ) {
        let control = app.sandbox.control();
        // HubSpot invalidates a refresh token once used: a second refresh with it would fail.
        control.set_strict_refresh_rotation(true);
        let replica = app.replica().await;
        let org = OrganizationId::parse(&app.org).unwrap();
        // Counted from before the token is due: either process's worker may be the one that
        // refreshes it as soon as it is, and still only one refresh may reach HubSpot.
        control.reset_stats();
        app.token_about_to_expire().await;
        // A client the replica built before the refresh holds the tokens about to be replaced.
        let stale = replica.state.db().hubspot_credentials(&org).await.unwrap().unwrap();
        let stale_client = turris_server::hubspot::client(&replica.state, &org, &stale).unwrap();

        // Both processes' refresh rounds at once (their workers run too).
        let (here, there) = tokio::join!(
            turris_server::sync::tokens::refresh_due(&app.state),
            turris_server::sync::tokens::refresh_due(&replica.state),
        );
        here.unwrap();
        there.unwrap();
        let stats = control.stats();
        assert_eq!(
            stats.calls_to("POST", "/oauth/v3/token"),
            1,
            "{stats:?} {:#?}",
            app.activity().await
        );

        // The stale client's tokens are due: it adopts the stored ones instead of refreshing
        // with the used refresh token, and its call goes through.
        let properties = stale_client
            .list_properties(&turris_hubspot::crm::ObjectType::Companies)
            .await
            .unwrap();
        assert!(!properties.is_empty());
        // Both servers call HubSpot with the stored tokens.
        for base in [&app.base, &replica.base] {
            let answer = app
                .http
                .get(format!("{base}{H}/properties?refresh=true"))
                .bearer_auth(&app.token)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 200, "{base}");
        }
        let stats = control.stats();
        assert_eq!(stats.calls_to("POST", "/oauth/v3/token"), 1);
        assert_eq!(stats.statuses.get(&401), None, "{stats:?}");

        let refreshes = app.activity_titled("Refresh HubSpot access token").await;
        assert_eq!(refreshes.len(), 1, "{refreshes:#?}");
        assert_eq!(refreshes[0]["status"], "success");
        assert!(app.stored_expiry().await > Utc::now() + Duration::minutes(20));
        assert_eq!(app.connection_status().await, "connected");
        replica.stop().await;
    }
);
