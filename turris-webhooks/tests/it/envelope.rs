use chrono::{TimeZone, Utc};
use serde_json::json;
use turris_webhooks::{
    AgreementSigner, ComplianceStatus, ComplianceStatusChanges, DataSynchronized, EntityChanges,
    EntityType, Envelope, Payload, ProducerAgreementExecuted, StatusChange, SyncKind, SyncOutcome,
    WebhookType,
};

#[test]
fn webhook_types_are_snake_case_on_the_wire() {
    let names: Vec<String> = WebhookType::ALL
        .iter()
        .map(|t| {
            serde_json::to_value(t)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "agency_compliance_status_changes",
            "agent_compliance_status_changes",
            "entity_compliance_data_synchronized",
            "producer_agreement_executed"
        ]
    );
    for t in WebhookType::ALL {
        assert_eq!(t.as_str().parse::<WebhookType>(), Ok(t));
        assert_eq!(t.to_string(), t.as_str());
    }
    assert!("agency".parse::<WebhookType>().is_err());
    assert!(serde_json::from_str::<WebhookType>(r#""AgencyComplianceStatusChanges""#).is_err());
    let debounced: Vec<bool> = WebhookType::ALL.iter().map(|t| t.is_debounced()).collect();
    assert_eq!(debounced, [true, true, false, false]);
}

#[test]
fn status_change_envelope_has_the_spec_shape() {
    let t = |m| Utc.with_ymd_and_hms(2026, 3, 1, 9, m, 0).unwrap();
    let payload = Payload::AgentComplianceStatusChanges(ComplianceStatusChanges {
        window_start: t(0),
        window_end: t(1),
        entities: vec![EntityChanges {
            entity_type: EntityType::Agent,
            entity_id: "agent_7".into(),
            npn: None,
            name: "Ada Lovelace".into(),
            changes: vec![StatusChange {
                product: "life".into(),
                state: "CA".into(),
                previous_status: ComplianceStatus::NotRequired,
                status: ComplianceStatus::NonCompliant,
            }],
        }],
    });
    let envelope = Envelope::for_payload("org_1", payload);
    assert_eq!(
        envelope.webhook_type,
        WebhookType::AgentComplianceStatusChanges
    );
    let value: serde_json::Value = serde_json::from_slice(&envelope.to_bytes().unwrap()).unwrap();
    assert_eq!(
        value,
        json!({
            "webhookType": "agent_compliance_status_changes",
            "upstreamEntityId": "org_1",
            "payload": {
                "windowStart": "2026-03-01T09:00:00Z",
                "windowEnd": "2026-03-01T09:01:00Z",
                "entities": [{
                    "entityType": "agent",
                    "entityId": "agent_7",
                    "npn": null,
                    "name": "Ada Lovelace",
                    "changes": [{"product": "life", "state": "CA", "previousStatus": "not_required", "status": "non_compliant"}]
                }]
            }
        })
    );
}

#[test]
fn data_synchronized_and_agreement_payloads_have_the_spec_shape() {
    let finished = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
    let ok = DataSynchronized {
        entity_type: EntityType::Agency,
        entity_id: "agency_1".into(),
        npn: Some("1234567".into()),
        kind: SyncKind::FullRefresh,
        outcome: SyncOutcome::Success,
        error: None,
        finished_at: finished,
    };
    assert_eq!(
        serde_json::to_value(&ok).unwrap(),
        json!({"entityType": "agency", "entityId": "agency_1", "npn": "1234567", "kind": "full_refresh", "outcome": "success", "finishedAt": "2026-03-01T09:00:00Z"})
    );
    let failed = DataSynchronized {
        kind: SyncKind::Fetch,
        outcome: SyncOutcome::Error,
        error: Some("nipr timeout".into()),
        ..ok
    };
    let v = serde_json::to_value(&failed).unwrap();
    assert_eq!(
        (
            v["kind"].as_str(),
            v["outcome"].as_str(),
            v["error"].as_str()
        ),
        (Some("fetch"), Some("error"), Some("nipr timeout"))
    );

    let agreement = ProducerAgreementExecuted {
        agency_id: "agency_1".into(),
        agreement_id: "agr_1".into(),
        contract_template_id: "tpl_1".into(),
        executed_at: finished,
        signers: vec![AgreementSigner {
            name: "Grace Hopper".into(),
            email: "grace@example.com".into(),
        }],
    };
    assert_eq!(
        serde_json::to_value(&agreement).unwrap(),
        json!({"agencyId": "agency_1", "agreementId": "agr_1", "contractTemplateId": "tpl_1", "executedAt": "2026-03-01T09:00:00Z", "signers": [{"name": "Grace Hopper", "email": "grace@example.com"}]})
    );
}

#[test]
fn received_envelopes_parse_into_the_payload_their_type_names() {
    let body = br#"{"webhookType":"producer_agreement_executed","upstreamEntityId":"org_1","payload":{"agencyId":"a","agreementId":"b","contractTemplateId":"c","executedAt":"2026-03-01T09:00:00Z","signers":[]}}"#;
    let raw: Envelope = serde_json::from_slice(body).unwrap();
    let typed = raw.typed().unwrap();
    assert!(matches!(&typed.payload, Payload::ProducerAgreementExecuted(p) if p.agency_id == "a"));
    assert_eq!(
        &typed.to_bytes().unwrap()[..],
        &body[..],
        "serializing again gives the same bytes"
    );

    let wrong: Envelope = serde_json::from_value(json!({"webhookType": "entity_compliance_data_synchronized", "upstreamEntityId": "o", "payload": {"agencyId": "a"}})).unwrap();
    assert!(wrong.typed().is_err());
}
