//! Demo data: insurance agencies (companies) and their agents (contacts), with the custom
//! properties an integration maps (`npn`, `producer_code`), including the awkward cases a sync
//! has to handle (no NPN, a state that is not a US code, an agency without contacts).

use serde_json::{Map, Value, json};

use super::crm::associations::{PRIMARY_CONTACT_TO_COMPANY, default_type, link};
use super::crm::{objects, properties};
use super::state::{ObjectKind, Portal};

const CUSTOM: &[(ObjectKind, &str, &str)] = &[
    (ObjectKind::Companies, "npn", "Agency NPN"),
    (ObjectKind::Companies, "producer_code", "Producer code"),
    (ObjectKind::Companies, "branch_name", "Branch name"),
    (ObjectKind::Contacts, "npn", "Agent NPN"),
    (ObjectKind::Contacts, "middle_name", "Middle name"),
];

/// (name, domain, npn, producer code, city, state, zip, agents: (first, last, email, npn)).
type Agency = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str, &'static str, &'static str)],
);

const AGENCIES: &[Agency] = &[
    (
        "Lone Star Insurance Partners",
        "lonestar-ins.test",
        "17000101",
        "LS-001",
        "Austin",
        "TX",
        "78701",
        &[
            (
                "Maria",
                "Garcia",
                "maria.garcia@lonestar-ins.test",
                "18000101",
            ),
            (
                "James",
                "Walker",
                "james.walker@lonestar-ins.test",
                "18000102",
            ),
        ],
    ),
    (
        "Golden Gate Brokerage",
        "goldengate-brokers.test",
        "17000102",
        "GG-014",
        "San Francisco",
        "CA",
        "94105",
        &[(
            "Emily",
            "Chen",
            "emily.chen@goldengate-brokers.test",
            "18000103",
        )],
    ),
    (
        "Empire Underwriters",
        "empire-uw.test",
        "17000103",
        "EU-220",
        "Albany",
        "NY",
        "12207",
        &[
            ("Daniel", "Rossi", "daniel.rossi@empire-uw.test", "18000104"),
            ("Aisha", "Khan", "aisha.khan@empire-uw.test", ""),
        ],
    ),
    (
        "Sunshine Coverage Group",
        "sunshine-coverage.test",
        "17000104",
        "SC-007",
        "Tampa",
        "FL",
        "33602",
        &[(
            "Carlos",
            "Mendez",
            "carlos.mendez@sunshine-coverage.test",
            "18000105",
        )],
    ),
    (
        "Prairie Mutual Agency",
        "prairie-mutual.test",
        "17000105",
        "PM-310",
        "Des Moines",
        "IA",
        "50309",
        &[(
            "Hannah",
            "Olson",
            "hannah.olson@prairie-mutual.test",
            "18000106",
        )],
    ),
    (
        "Peach State Risk Advisors",
        "peachstate-risk.test",
        "17000106",
        "PS-101",
        "Atlanta",
        "GA",
        "30303",
        &[(
            "Marcus",
            "Johnson",
            "marcus.johnson@peachstate-risk.test",
            "18000107",
        )],
    ),
    (
        "Evergreen Benefits",
        "evergreen-benefits.test",
        "17000107",
        "EB-055",
        "Seattle",
        "WA",
        "98101",
        &[(
            "Sofia",
            "Larsen",
            "sofia.larsen@evergreen-benefits.test",
            "18000108",
        )],
    ),
    (
        "Windy City Insurance",
        "windycity-ins.test",
        "17000108",
        "WC-900",
        "Chicago",
        "IL",
        "60601",
        &[(
            "Patrick",
            "O'Brien",
            "patrick.obrien@windycity-ins.test",
            "18000109",
        )],
    ),
    (
        "Capital Agency Services",
        "capital-agency.test",
        "17000109",
        "CA-404",
        "Washington",
        "DC",
        "20001",
        &[],
    ),
    (
        "Great Lakes Specialty",
        "greatlakes-specialty.test",
        "",
        "GL-123",
        "Detroit",
        "MI",
        "48226",
        &[(
            "Nora",
            "Kowalski",
            "nora.kowalski@greatlakes-specialty.test",
            "",
        )],
    ),
    (
        "Maple Leaf Brokers",
        "mapleleaf-brokers.test",
        "17000111",
        "ML-777",
        "Toronto",
        "Ontario",
        "M5H 2N2",
        &[(
            "Liam",
            "Tremblay",
            "liam.tremblay@mapleleaf-brokers.test",
            "18000111",
        )],
    ),
    (
        "Bayou Independent Agents",
        "bayou-agents.test",
        "17000112",
        "",
        "New Orleans",
        "la",
        "70112",
        &[(
            "Camille",
            "Boudreaux",
            "camille.boudreaux@bayou-agents.test",
            "18000112",
        )],
    ),
];

fn props(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| ((*k).to_string(), json!(v)))
        .collect()
}

/// Adds the demo properties and records to a portal (no webhooks: nothing is subscribed yet).
pub(crate) fn demo(portal: &mut Portal) {
    for (kind, name, label) in CUSTOM {
        let input = json!({
            "name": name, "label": label, "type": "string", "fieldType": "text",
            "groupName": if *kind == ObjectKind::Companies { "companyinformation" } else { "contactinformation" },
        });
        let Ok(input) = serde_json::from_value::<properties::NewProperty>(input) else {
            continue;
        };
        if let Ok(def) = properties::build_custom(input, portal.props(*kind)) {
            portal.props_mut(*kind).insert(def.name.clone(), def);
        }
    }
    let mut ignored = Vec::new();
    for (name, domain, npn, code, city, state, zip, agents) in AGENCIES {
        let company = props(&[
            ("name", name),
            ("domain", domain),
            ("website", &format!("https://www.{domain}")),
            ("npn", npn),
            ("producer_code", code),
            ("city", city),
            ("state", state),
            ("zip", zip),
            (
                "country",
                if *state == "Ontario" {
                    "Canada"
                } else {
                    "United States"
                },
            ),
            ("industry", "INSURANCE"),
            ("type", "PARTNER"),
            ("phone", "+1 555 010 0100"),
        ]);
        let Ok(values) = objects::prepare(portal, ObjectKind::Companies, &company) else {
            continue;
        };
        let company_id = objects::insert(portal, ObjectKind::Companies, values, &mut ignored);
        for (first, last, email, agent_npn) in *agents {
            let contact = props(&[
                ("firstname", first),
                ("lastname", last),
                ("email", email),
                ("npn", agent_npn),
                ("company", name),
                ("jobtitle", "Licensed Agent"),
            ]);
            let Ok(values) = objects::prepare(portal, ObjectKind::Contacts, &contact) else {
                continue;
            };
            let contact_id = objects::insert(portal, ObjectKind::Contacts, values, &mut ignored);
            for t in [
                default_type(ObjectKind::Contacts, ObjectKind::Companies),
                Some(PRIMARY_CONTACT_TO_COMPANY),
            ]
            .into_iter()
            .flatten()
            {
                link(
                    portal,
                    (ObjectKind::Contacts, contact_id),
                    (ObjectKind::Companies, company_id),
                    t,
                    &mut ignored,
                );
            }
        }
    }
}
