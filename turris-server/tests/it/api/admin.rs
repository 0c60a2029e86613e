//! `/api/v1/admin`: organizations, roles, users and tokens behind the bootstrap admin token.

use reqwest::Method;
use serde_json::json;

api_test!(
    async fn admin_endpoints_need_the_bootstrap_admin_token(app) {
        app.call(Method::GET, "/api/v1/admin/organizations", None, None)
            .await
            .expect_error(401, "unauthorized");
        app.call(Method::GET, "/api/v1/admin/organizations", Some("wrong"), None)
            .await
            .expect_error(401, "unauthorized");
        // An organization's own token is not the admin token.
        app.call(Method::GET, "/api/v1/admin/organizations", Some(&app.token), None)
            .await
            .expect_error(401, "unauthorized");
        app.admin(Method::GET, "/api/v1/admin/organizations", None)
            .await
            .expect(200);
    }
);

api_test!(
    async fn organizations_are_created_listed_and_their_subscription_toggled(app) {
        let created = app
            .admin(Method::POST, "/api/v1/admin/organizations", Some(json!({"id": "acme", "name": "Acme"})))
            .await
            .expect(201);
        assert_eq!(created.body["subscription_active"], true);
        app.admin(Method::POST, "/api/v1/admin/organizations", Some(json!({"id": "acme", "name": "Again"})))
            .await
            .expect_error(409, "already_exists");
        let invalid = app
            .admin(Method::POST, "/api/v1/admin/organizations", Some(json!({"id": "has space", "name": " "})))
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(invalid.paths(), ["id", "name"]);
        let list = app.admin(Method::GET, "/api/v1/admin/organizations", None).await.expect(200);
        assert!(list.body.as_array().unwrap().iter().any(|o| o["id"] == "acme"));
        let off = app
            .admin(Method::PUT, "/api/v1/admin/organizations/acme/subscription", Some(json!({"active": false})))
            .await
            .expect(200);
        assert_eq!(off.body["subscription_active"], false);
        app.admin(Method::GET, "/api/v1/admin/organizations/acme", None)
            .await
            .expect(200);
        app.admin(Method::GET, "/api/v1/admin/organizations/nobody", None)
            .await
            .expect_error(404, "not_found");
        app.admin(Method::PUT, "/api/v1/admin/organizations/nobody/subscription", Some(json!({"active": true})))
            .await
            .expect_error(404, "not_found");
    }
);

api_test!(
    async fn roles_users_and_tokens_are_validated_and_tokens_are_shown_once(app) {
        let org = &app.org;
        let bad_role = app
            .admin(
                Method::POST,
                &format!("/api/v1/admin/organizations/{org}/roles"),
                Some(json!({"name": "", "grants": ["webhooks:read", "billing:read"]})),
            )
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(bad_role.paths(), ["name", "grants[1]"]);
        let role = app
            .admin(
                Method::POST,
                &format!("/api/v1/admin/organizations/{org}/roles"),
                Some(json!({"name": "viewer", "grants": ["webhooks:read"]})),
            )
            .await
            .expect(201);
        assert_eq!(role.body["grants"], json!(["webhooks:read"]));
        app.admin(
            Method::POST,
            &format!("/api/v1/admin/organizations/{org}/roles"),
            Some(json!({"name": "viewer", "grants": []})),
        )
        .await
        .expect_error(409, "already_exists");
        let user = app
            .admin(
                Method::POST,
                &format!("/api/v1/admin/organizations/{org}/users"),
                Some(json!({"email": "viewer@example.com", "name": "Vi"})),
            )
            .await
            .expect(201);
        app.admin(
            Method::POST,
            &format!("/api/v1/admin/organizations/{org}/users"),
            Some(json!({"email": "viewer@example.com", "name": "Vi"})),
        )
        .await
        .expect_error(409, "already_exists");
        app.admin(
            Method::POST,
            &format!("/api/v1/admin/organizations/{org}/users"),
            Some(json!({"email": "not-an-email", "name": "Vi"})),
        )
        .await
        .expect_error(422, "validation_failed");
        let unknown = app
            .admin(
                Method::POST,
                &format!("/api/v1/admin/organizations/{org}/tokens"),
                Some(json!({"user_id": uuid::Uuid::new_v4(), "role_id": uuid::Uuid::new_v4()})),
            )
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(unknown.paths(), ["user_id", "role_id"]);
        let token = app
            .admin(
                Method::POST,
                &format!("/api/v1/admin/organizations/{org}/tokens"),
                Some(json!({"user_id": user.body["id"], "role_id": role.body["id"], "label": "ci"})),
            )
            .await
            .expect(201);
        let value = token.body["token"].as_str().unwrap().to_owned();
        assert!(value.starts_with("trs_"));
        let listed = app
            .admin(Method::GET, &format!("/api/v1/admin/organizations/{org}/tokens"), None)
            .await
            .expect(200);
        assert!(!listed.text.contains(&value), "a token is shown only once");
        // The new token works with its role's grants only.
        app.call(Method::GET, "/api/v1/webhooks", Some(&value), None).await.expect(200);
        app.call(Method::GET, "/api/v1/integrations", Some(&value), None)
            .await
            .expect_error(403, "forbidden");
        // Revoked, it stops working.
        let id = token.body["id"].as_str().unwrap();
        app.admin(Method::DELETE, &format!("/api/v1/admin/organizations/{org}/tokens/{id}"), None)
            .await
            .expect(204);
        app.call(Method::GET, "/api/v1/webhooks", Some(&value), None)
            .await
            .expect_error(401, "unauthorized");
        app.admin(Method::DELETE, &format!("/api/v1/admin/organizations/{org}/tokens/{id}"), None)
            .await
            .expect_error(404, "not_found");
        let users = app
            .admin(Method::GET, &format!("/api/v1/admin/organizations/{org}/users"), None)
            .await
            .expect(200);
        assert!(users.body.as_array().unwrap().iter().any(|u| u["email"] == "viewer@example.com"));
        let roles = app
            .admin(Method::GET, &format!("/api/v1/admin/organizations/{org}/roles"), None)
            .await
            .expect(200);
        assert!(roles.body.as_array().unwrap().iter().any(|r| r["name"] == "viewer"));
    }
);

mod cli {
    use clap::Parser;
    use reqwest::Method;
    use turris_server::config::{Cli, Command, TokenCommand};
    use turris_server::store::Backend;

    use crate::support::app::TestApp;

    async fn a_token_minted_by_the_cli_works_against_the_server(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let cli = Cli::parse_from([
            "turris-server",
            "token",
            "create",
            "--organization",
            "cli-org",
            "--user",
            "ops@example.com",
            "--database-url",
            &app.db.url,
            "--encryption-key",
            &app.db.key.to_hex(),
        ]);
        let Some(Command::Token(TokenCommand::Create(args))) = cli.command else {
            panic!("token create parses");
        };
        let token = turris_server::cli::create_token(&cli.config, &args)
            .await
            .unwrap();
        let again = turris_server::cli::create_token(&cli.config, &args)
            .await
            .unwrap();
        assert_ne!(
            token.expose(),
            again.expose(),
            "each call mints a new token"
        );
        for token in [token.expose(), again.expose()] {
            app.call(Method::GET, "/api/v1/webhooks", Some(token), None)
                .await
                .expect(200);
        }
        let users = app
            .admin(
                Method::GET,
                "/api/v1/admin/organizations/cli-org/users",
                None,
            )
            .await
            .expect(200);
        assert_eq!(
            users.body.as_array().unwrap().len(),
            1,
            "the user is reused"
        );
        let mut unknown_role = args.clone();
        unknown_role.role = "auditor".into();
        let error = turris_server::cli::create_token(&cli.config, &unknown_role)
            .await
            .expect_err("an unknown role is refused")
            .to_string();
        assert!(error.contains("auditor"), "{error}");
        app.finish().await;
    }

    both_databases!(backend: a_token_minted_by_the_cli_works_against_the_server);
}

api_test!(
    async fn a_token_with_an_expiry_works_until_then_answers_401_after_and_lists_its_expiry(app) {
        let org = app.org.clone();
        let role = app
            .admin(Method::POST, &format!("/api/v1/admin/organizations/{org}/roles"), Some(json!({"name": "expiring", "grants": ["webhooks:read"]})))
            .await
            .expect(201);
        let user = app
            .admin(Method::POST, &format!("/api/v1/admin/organizations/{org}/users"), Some(json!({"email": "temp@example.com", "name": "Temp"})))
            .await
            .expect(201);
        let tokens = format!("/api/v1/admin/organizations/{org}/tokens");
        let past = (chrono::Utc::now() - chrono::Duration::seconds(1)).to_rfc3339();
        let refused = app
            .admin(Method::POST, &tokens, Some(json!({"user_id": user.body["id"], "role_id": role.body["id"], "expires_at": past})))
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(refused.paths(), ["expires_at"]);
        let soon = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
        let created = app
            .admin(Method::POST, &tokens, Some(json!({"user_id": user.body["id"], "role_id": role.body["id"], "label": "temp", "expires_at": soon.to_rfc3339()})))
            .await
            .expect(201);
        let token = created.body["token"].as_str().unwrap().to_owned();
        assert!(created.body["expires_at"].is_string());
        app.call(Method::GET, "/api/v1/webhooks", Some(&token), None).await.expect(200);
        let listed = app.admin(Method::GET, &tokens, None).await.expect(200);
        let row = listed.body.as_array().unwrap().iter().find(|t| t["id"] == created.body["id"]).unwrap().clone();
        let listed_at: chrono::DateTime<chrono::Utc> = row["expires_at"].as_str().unwrap().parse().unwrap();
        assert!((listed_at - soon).num_milliseconds().abs() < 5, "{row}");
        let without = listed.body.as_array().unwrap().iter().find(|t| t["label"] == "test").unwrap().clone();
        assert!(without["expires_at"].is_null(), "no expiry: {without}");
        tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
        app.call(Method::GET, "/api/v1/webhooks", Some(&token), None)
            .await
            .expect_error(401, "unauthorized");
    }
);
