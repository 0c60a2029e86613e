use turris_webhooks::{UrlError, UrlPolicy, WebhookUrl};

#[track_caller]
fn check(input: &str, policy: &UrlPolicy, expected: Result<&str, UrlError>) {
    let got = WebhookUrl::parse(input, policy);
    match expected {
        Ok(normalised) => assert_eq!(
            got.map(|u| u.to_string()),
            Ok(normalised.to_owned()),
            "{input}"
        ),
        Err(e) => assert_eq!(got, Err(e), "{input}"),
    }
}

fn forbidden(ip: &str, reason: &'static str) -> Result<&'static str, UrlError> {
    Err(UrlError::ForbiddenAddress {
        ip: ip.parse().unwrap(),
        reason,
    })
}

#[test]
fn url_validation_table_under_the_strict_policy() {
    let strict = UrlPolicy::strict();
    check(
        "https://hooks.example.com/turris?x=1",
        &strict,
        Ok("https://hooks.example.com/turris?x=1"),
    );
    check(
        "  https://HOOKS.example.com:8443/a  ",
        &strict,
        Ok("https://hooks.example.com:8443/a"),
    );
    check("https://8.8.8.8/hook", &strict, Ok("https://8.8.8.8/hook"));
    check(
        "https://[2606:4700:4700::1111]/hook",
        &strict,
        Ok("https://[2606:4700:4700::1111]/hook"),
    );
    check(
        "http://hooks.example.com/",
        &strict,
        Err(UrlError::NotHttps),
    );
    check("ftp://hooks.example.com/", &strict, Err(UrlError::NotHttps));
    check(
        "https://user:pass@hooks.example.com/",
        &strict,
        Err(UrlError::Credentials),
    );
    check(
        "https://user@hooks.example.com/",
        &strict,
        Err(UrlError::Credentials),
    );
    check(
        "/relative/path",
        &strict,
        Err(UrlError::Invalid("relative URL without a base".into())),
    );
    check(
        "https://",
        &strict,
        Err(UrlError::Invalid("empty host".into())),
    );
    check(
        "https://localhost/",
        &strict,
        Err(UrlError::ForbiddenHost("localhost".into())),
    );
    check(
        "https://api.localhost/",
        &strict,
        Err(UrlError::ForbiddenHost("api.localhost".into())),
    );
    check(
        "https://127.0.0.1/",
        &strict,
        forbidden("127.0.0.1", "loopback"),
    );
    check(
        "https://10.0.0.1/",
        &strict,
        forbidden("10.0.0.1", "private"),
    );
    check(
        "https://172.16.5.4/",
        &strict,
        forbidden("172.16.5.4", "private"),
    );
    check(
        "https://192.168.0.1/",
        &strict,
        forbidden("192.168.0.1", "private"),
    );
    check(
        "https://169.254.169.254/latest/meta-data",
        &strict,
        forbidden("169.254.169.254", "link-local"),
    );
    check(
        "https://100.64.0.1/",
        &strict,
        forbidden("100.64.0.1", "shared address space (cgnat)"),
    );
    check(
        "https://224.0.0.1/",
        &strict,
        forbidden("224.0.0.1", "multicast"),
    );
    check(
        "https://0.0.0.0/",
        &strict,
        forbidden("0.0.0.0", "unspecified"),
    );
    check(
        "https://255.255.255.255/",
        &strict,
        forbidden("255.255.255.255", "broadcast"),
    );
    check(
        "https://192.0.2.1/",
        &strict,
        forbidden("192.0.2.1", "documentation"),
    );
    check("https://[::1]/", &strict, forbidden("::1", "loopback"));
    check("https://[::]/", &strict, forbidden("::", "unspecified"));
    check(
        "https://[::ffff:127.0.0.1]/",
        &strict,
        forbidden("::ffff:127.0.0.1", "loopback"),
    );
    check(
        "https://[::ffff:a9fe:a9fe]/",
        &strict,
        forbidden("::ffff:169.254.169.254", "link-local"),
    );
    check(
        "https://[fd00::1]/",
        &strict,
        forbidden("fd00::1", "unique local"),
    );
    check(
        "https://[fe80::1]/",
        &strict,
        forbidden("fe80::1", "link-local"),
    );
    check(
        "https://[ff02::1]/",
        &strict,
        forbidden("ff02::1", "multicast"),
    );
    check(
        "https://[2001:db8::1]/",
        &strict,
        forbidden("2001:db8::1", "documentation"),
    );
}

#[test]
fn decimal_octal_and_hex_ipv4_forms_are_normalised_before_the_check() {
    let strict = UrlPolicy::strict();
    for input in [
        "https://2130706433/",
        "https://0177.0.0.1/",
        "https://0x7f.0.0.1/",
        "https://0x7f000001/",
        "https://127.1/",
        "https://017700000001/",
    ] {
        check(input, &strict, forbidden("127.0.0.1", "loopback"));
    }
    check(
        "https://3232235777/",
        &strict,
        forbidden("192.168.1.1", "private"),
    );
    check(
        "https://0xa9.0xfe.0xa9.0xfe/",
        &strict,
        forbidden("169.254.169.254", "link-local"),
    );
    check("https://134744072/", &strict, Ok("https://8.8.8.8/"));
}

#[test]
fn plain_http_is_allowed_only_to_loopback_and_only_when_insecure_loopback_is_on() {
    let demo = UrlPolicy::strict().with_insecure_loopback();
    check(
        "http://127.0.0.1:3000/hook",
        &demo,
        Ok("http://127.0.0.1:3000/hook"),
    );
    check(
        "http://2130706433:3000/hook",
        &demo,
        Ok("http://127.0.0.1:3000/hook"),
    );
    check(
        "http://[::1]:3000/hook",
        &demo,
        Ok("http://[::1]:3000/hook"),
    );
    check(
        "http://localhost:3000/hook",
        &demo,
        Ok("http://localhost:3000/hook"),
    );
    check("https://127.0.0.1/", &demo, Ok("https://127.0.0.1/"));
    check("http://hooks.example.com/", &demo, Err(UrlError::NotHttps));
    check("http://10.0.0.1/", &demo, Err(UrlError::NotHttps));
    check("https://10.0.0.1/", &demo, forbidden("10.0.0.1", "private"));
}

#[test]
fn allow_listed_networks_and_hosts_pass() {
    let policy = UrlPolicy::strict()
        .allow("10.20.0.0/16".parse().unwrap())
        .allow("fd00::/8".parse().unwrap());
    check("https://10.20.30.40/", &policy, Ok("https://10.20.30.40/"));
    check(
        "https://[::ffff:10.20.30.40]/",
        &policy,
        Ok("https://[::ffff:a14:1e28]/"),
    );
    check("https://[fd00::5]/", &policy, Ok("https://[fd00::5]/"));
    check(
        "https://10.21.0.1/",
        &policy,
        forbidden("10.21.0.1", "private"),
    );
    let by_host = UrlPolicy::strict().allow_host("LOCALHOST");
    check("https://localhost/", &by_host, Ok("https://localhost/"));
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_after_resolution() {
    // The name passes the syntax check (allow-listed there), but resolving it under the
    // strict policy finds 127.0.0.1, which is refused: the check is on addresses, not names.
    let url = WebhookUrl::parse(
        "https://localhost/",
        &UrlPolicy::strict().allow_host("localhost"),
    )
    .unwrap();
    assert!(
        url.resolve(&UrlPolicy::strict().allow_host("localhost"))
            .await
            .is_ok()
    );
    match url.resolve(&UrlPolicy::strict()).await {
        Err(UrlError::ForbiddenAddress {
            ip,
            reason: "loopback",
        }) => assert!(ip.is_loopback()),
        other => panic!("expected a loopback refusal, got {other:?}"),
    }
    assert!(
        WebhookUrl::parse_and_resolve("https://localhost/", &UrlPolicy::strict())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_accepted_with_insecure_loopback() {
    let demo = UrlPolicy::strict().with_insecure_loopback();
    let url = WebhookUrl::parse_and_resolve("http://localhost:8080/hook", &demo)
        .await
        .unwrap();
    let addrs = url.resolve(&demo).await.unwrap();
    assert!(!addrs.is_empty());
    assert!(
        addrs
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 8080),
        "{addrs:?}"
    );
}

#[tokio::test]
async fn an_unresolvable_name_is_refused() {
    let url = WebhookUrl::parse("https://no-such-host.invalid/", &UrlPolicy::strict()).unwrap();
    assert_eq!(
        url.resolve(&UrlPolicy::strict()).await,
        Err(UrlError::Unresolvable("no-such-host.invalid".into()))
    );
}

#[tokio::test]
async fn ip_literals_resolve_to_themselves_with_the_default_port() {
    let url = WebhookUrl::parse("https://8.8.8.8/x", &UrlPolicy::strict()).unwrap();
    assert_eq!(
        url.resolve(&UrlPolicy::strict()).await.unwrap(),
        vec!["8.8.8.8:443".parse().unwrap()]
    );
}

mod properties {
    use std::net::{IpAddr, Ipv4Addr};

    use proptest::prelude::*;
    use turris_webhooks::{UrlError, UrlPolicy, WebhookUrl, non_public_reason};

    proptest! {
        #[test]
        fn every_ipv4_form_of_an_address_gets_the_same_verdict(raw in any::<u32>()) {
            let ip = Ipv4Addr::from(raw);
            let expected = match non_public_reason(IpAddr::V4(ip)) {
                Some(reason) => Err(UrlError::ForbiddenAddress { ip: IpAddr::V4(ip), reason }),
                None => Ok(format!("https://{ip}/")),
            };
            let [a, b, c, d] = ip.octets();
            for form in [
                format!("https://{ip}/"),
                format!("https://{raw}/"),
                format!("https://{raw:#x}/"),
                format!("https://0{raw:o}/"),
                format!("https://{a:#x}.{b:#x}.{c:#x}.{d:#x}/"),
                format!("https://0{a:o}.0{b:o}.0{c:o}.0{d:o}/"),
                format!("https://[::ffff:{ip}]/"),
            ] {
                let got = WebhookUrl::parse(&form, &UrlPolicy::strict()).map(|u| u.to_string());
                match (&expected, got) {
                    (Ok(_), Ok(_)) => {}
                    (Err(UrlError::ForbiddenAddress { reason, .. }), Err(UrlError::ForbiddenAddress { reason: got, .. })) => {
                        prop_assert_eq!(*reason, got, "{}", form);
                    }
                    (expected, got) => prop_assert!(false, "{}: expected {:?}, got {:?}", form, expected, got),
                }
            }
        }
    }
}

/// Every way of writing a refused address that the URL parser reads as an IP, with the kind
/// of address the refusal must name.
const REFUSED_NOTATIONS: &[(&str, &str)] = &[
    ("https://10.0.0.8/", "private"),
    ("https://167772168/", "private"),
    ("https://0xa000008/", "private"),
    ("https://012.0.0.010/", "private"),
    ("https://[::ffff:10.0.0.8]/", "private"),
    ("https://[::ffff:a00:8]/", "private"),
    ("https://127.0.0.1/", "loopback"),
    ("https://2130706433/", "loopback"),
    ("https://0x7f.1/", "loopback"),
    ("https://017700000001/", "loopback"),
    ("https://[::1]/", "loopback"),
    ("https://[0:0:0:0:0:0:0:1]/", "loopback"),
    ("https://169.254.169.254/latest/meta-data/", "link-local"),
    ("https://2852039166/", "link-local"),
    ("https://0xa9.0xfe.0xa9.0xfe/", "link-local"),
    ("https://[::ffff:169.254.169.254]/", "link-local"),
    ("https://[64:ff9b::a9fe:a9fe]/", "link-local"),
    ("https://[fe80::1]/", "link-local"),
    ("https://%31%32%37.0.0.1/", "loopback"),
    (
        "https://\u{ff11}\u{ff12}\u{ff17}\u{3002}\u{ff10}\u{3002}\u{ff10}\u{3002}\u{ff11}/",
        "loopback",
    ),
    ("https://127.0.0.1./", "loopback"),
    ("https://0x7f000001/", "loopback"),
    ("https://0/", "unspecified"),
];

#[test]
fn refusals_name_the_kind_of_address_but_never_the_address() {
    for (input, kind) in REFUSED_NOTATIONS {
        let err = WebhookUrl::parse(input, &UrlPolicy::strict()).unwrap_err();
        let message = err.to_string();
        // Exactly this text: the address, in whatever notation, is not in it.
        assert_eq!(message, format!("refused: {kind} address"), "{input}");
    }
}

#[tokio::test]
async fn a_name_resolving_to_a_refused_address_is_refused_without_saying_what_it_resolved_to() {
    let url = WebhookUrl::parse(
        "https://localhost/",
        &UrlPolicy::strict().allow_host("localhost"),
    )
    .unwrap();
    let err = url.resolve(&UrlPolicy::strict()).await.unwrap_err();
    let message = err.to_string();
    assert_eq!(message, "refused: loopback address");
    for leaked in ["127.0.0.1", "::1", "localhost"] {
        assert!(!message.contains(leaked), "{message}");
    }
}
