//! Secret rotation seen from a receiver: during the overlap the workers sign with both
//! secrets, so a receiver still on the replaced secret and one already on the new secret both
//! accept.

use reqwest::Method;
use serde_json::json;

use super::harness::{Receiver, Server, config, eventually};
use crate::support::db::TestDb;

async fn during_a_rotation_s_overlap_receivers_on_either_secret_accept_every_delivery(db: &TestDb) {
    let receiver = Receiver::start().await;
    let server = Server::start(config(db)).await;
    let org = server.organization().await;
    // The receiver trusts the first secret only.
    let webhook = server
        .webhook(&org, "entity_compliance_data_synchronized", &receiver)
        .await;
    let rotated = server
        .expect(
            200,
            Method::POST,
            &format!("/api/v1/webhooks/{webhook}/rotate-secret"),
            &org.token,
            Some(json!({})),
        )
        .await;
    let agency = server.agency(&org, "Acme").await;

    server.nipr_sync(&org, &agency).await;
    eventually("a receiver on the replaced secret accepts", || async {
        (receiver.accepted().len() == 1).then_some(())
    })
    .await;
    assert_eq!(receiver.bad_signatures(), 0);

    receiver.trust(rotated["secret"].as_str().unwrap());
    server.nipr_sync(&org, &agency).await;
    eventually("a receiver on the new secret accepts", || async {
        (receiver.accepted().len() == 2).then_some(())
    })
    .await;
    assert_eq!(receiver.bad_signatures(), 0);
    server.stop().await;
}

both_databases!(db: during_a_rotation_s_overlap_receivers_on_either_secret_accept_every_delivery);
