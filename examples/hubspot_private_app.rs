//! Run with `cargo run -p turris-examples --example hubspot_private_app` (against an in-process
//! HubSpot sandbox), or set `HUBSPOT_API_BASE` and `HUBSPOT_PRIVATE_APP_TOKEN` to use another.
//!
//! Uses the HubSpot client with a private-app token: reads the portal id, lists company
//! properties, searches the companies that look like agencies, creates one and updates it.
//! Every call goes through the client's throttling and retries and is reported to an
//! observer, here a line on standard output per call.

use std::collections::HashMap;
use std::sync::Arc;

use turris_hubspot::auth::{PrivateAppToken, Secret};
use turris_hubspot::crm::search::{Filter, FilterGroup, SearchRequest};
use turris_hubspot::crm::{ObjectType, SimplePublicObjectInput, SimplePublicObjectInputForCreate};
use turris_hubspot::{ApiCall, HubSpotClient, RateLimitConfig, RateLimiter};
use turris_hubspot_sandbox::Sandbox;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A sandbox with demo agencies, unless a HubSpot (or a running sandbox) is configured.
    let (sandbox, api_base, token) = match (
        std::env::var("HUBSPOT_API_BASE"),
        std::env::var("HUBSPOT_PRIVATE_APP_TOKEN"),
    ) {
        (Ok(base), Ok(token)) => (None, base, token),
        _ => {
            let sandbox = Sandbox::builder().demo_data().start().await?;
            let base = sandbox.base_url().to_owned();
            let token = sandbox.private_app_token();
            println!("Started a HubSpot sandbox at {base}");
            (Some(sandbox), base, token)
        }
    };

    let client = HubSpotClient::builder(Arc::new(PrivateAppToken::new(Secret::new(token))))
        .api_base(api_base)
        .rate_limiter(RateLimiter::new(RateLimitConfig::default()))
        .observer(Arc::new(|call: &ApiCall| {
            let status = call
                .status
                .map_or("no answer".to_owned(), |s| s.to_string());
            println!("  [{} {} -> {status}]", call.method, call.path);
        }))
        .build()?;

    let account = client.account_details().await?;
    println!("Portal {}", account.portal_id);

    let properties = client.list_properties(&ObjectType::Companies).await?;
    let standard = properties.iter().filter(|p| p.hubspot_defined).count();
    println!(
        "{} company properties ({standard} HubSpot-defined, {} custom)",
        properties.len(),
        properties.len() - standard
    );

    list_partners(&client).await?;
    create_and_update(&client).await?;

    if let Some(sandbox) = sandbox {
        sandbox.shutdown().await;
    }
    Ok(())
}

/// Searches the companies of type `PARTNER` (the agencies) and shows the first five.
async fn list_partners(client: &HubSpotClient) -> Result<(), Box<dyn std::error::Error>> {
    let search = SearchRequest {
        filter_groups: vec![FilterGroup {
            filters: vec![Filter::eq("type", "PARTNER")],
        }],
        properties: vec!["name".into(), "npn".into(), "state".into()],
        ..SearchRequest::default()
    };
    let partners = client.search_all(&ObjectType::Companies, &search).await?;
    println!("{} companies have type = PARTNER:", partners.len());
    for company in partners.iter().take(5) {
        let get = |name: &str| company.properties.get(name).cloned().flatten();
        println!(
            "  {} {:<32} npn {:<12} state {}",
            company.id,
            get("name").unwrap_or_default(),
            get("npn").unwrap_or_else(|| "-".into()),
            get("state").unwrap_or_else(|| "-".into()),
        );
    }

    Ok(())
}

/// Creates a company, then updates one of its properties.
async fn create_and_update(client: &HubSpotClient) -> Result<(), Box<dyn std::error::Error>> {
    let created = client
        .create_object(
            &ObjectType::Companies,
            &SimplePublicObjectInputForCreate {
                properties: HashMap::from([
                    ("name".to_owned(), "Example Insurance Agency".to_owned()),
                    ("city".to_owned(), "Hartford".to_owned()),
                    ("state".to_owned(), "CT".to_owned()),
                ]),
                associations: Vec::new(),
            },
        )
        .await?;
    println!("Created company {}", created.id);

    let updated = client
        .update_object(
            &ObjectType::Companies,
            &created.id,
            &SimplePublicObjectInput {
                properties: HashMap::from([("phone".to_owned(), "+1 860 555 0100".to_owned())]),
            },
        )
        .await?;
    println!(
        "Updated company {}: phone = {}",
        updated.id,
        updated
            .properties
            .get("phone")
            .cloned()
            .flatten()
            .unwrap_or_default()
    );
    Ok(())
}
