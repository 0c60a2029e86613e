//! Run with `cargo run -p turris-examples --example verify_receiver` (options: `--port 3000`, `--secret <64 hex>`; or env `PORT`, `TURRIS_WEBHOOK_SECRET`).
//!
//! A Turris webhook receiver: every POST to `/webhooks/turris` is verified with
//! `VerifiedTurrisWebhook` (signature, timestamp within 5 minutes) and printed. Several
//! secrets, comma-separated, are all accepted (for a rotation). Without a secret, one is
//! generated and shown, with a signed `curl` command to try the receiver.

use std::net::SocketAddr;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use turris_webhooks::{
    Envelope, SignedHeaders, VerifiedTurrisWebhook, Verifier, WebhookSecret, WebhookType,
};

async fn receive(webhook: VerifiedTurrisWebhook) -> StatusCode {
    let event_id = webhook.event_id.clone().unwrap_or_else(|| "-".to_owned());
    let envelope = webhook.envelope;
    println!(
        "verified {} event {event_id} for {}",
        envelope.webhook_type, envelope.upstream_entity_id
    );
    match envelope.clone().typed() {
        Ok(typed) => println!("{:#?}", typed.payload),
        Err(e) => println!(
            "payload does not match its type ({e}): {:#}",
            envelope.payload
        ),
    }
    // Acknowledge fast; real receivers queue the event and process it in the background.
    StatusCode::NO_CONTENT
}

fn option(args: &[String], flag: &str, env: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| std::env::var(env).ok())
        .filter(|v| !v.is_empty())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port: u16 = option(&args, "--port", "PORT")
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(3000);
    let secrets: Vec<WebhookSecret> = match option(&args, "--secret", "TURRIS_WEBHOOK_SECRET") {
        Some(list) => list
            .split(',')
            .map(|s| WebhookSecret::parse(s.trim()))
            .collect::<Result<_, _>>()?,
        None => {
            let secret = WebhookSecret::generate()?;
            println!(
                "no secret given; generated one for this run: {}",
                secret.to_hex()
            );
            vec![secret]
        }
    };

    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let url = format!("http://{addr}/webhooks/turris");
    print_sample_request(&secrets[0], &url)?;

    let verifier = Verifier::new(secrets);
    let app = Router::new()
        .route("/webhooks/turris", post(receive))
        .with_state(verifier);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on {url}");
    axum::serve(listener, app).await?;
    Ok(())
}

/// Prints a `curl` command that posts a correctly signed sample event (valid for 5 minutes).
fn print_sample_request(
    secret: &WebhookSecret,
    url: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let body = Envelope::new(
        "org_demo",
        WebhookType::ProducerAgreementExecuted,
        serde_json::json!({
            "agencyId": "agency_1",
            "agreementId": "agreement_1",
            "contractTemplateId": "template_1",
            "executedAt": "2026-01-01T12:00:00Z",
            "signers": [{"name": "Ada Lovelace", "email": "ada@example.com"}]
        }),
    )
    .to_bytes()?;
    let signed = SignedHeaders::new(secret, "sample-event-1", chrono_now(), &body);
    let headers: Vec<String> = signed
        .pairs()
        .iter()
        .map(|(name, value)| format!("-H '{name}: {value}'"))
        .collect();
    println!(
        "try it:\ncurl -i {url} -H 'content-type: application/json' {} --data '{}'",
        headers.join(" "),
        String::from_utf8_lossy(&body)
    );
    Ok(())
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
