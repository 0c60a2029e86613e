//! HubSpot's standard company, contact and note properties (`hubspotDefined: true`), with
//! their types, field types and enumeration options.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{PropertyDef, PropertyOption};
use crate::state::ObjectKind;

struct Spec<'a> {
    name: &'a str,
    label: &'a str,
    kind: &'a str,
    field_type: &'a str,
    group: &'a str,
    options: &'a [(&'a str, &'a str)],
    read_only: bool,
    unique: bool,
}

const fn text<'a>(name: &'a str, label: &'a str, group: &'a str) -> Spec<'a> {
    Spec {
        name,
        label,
        kind: "string",
        field_type: "text",
        group,
        options: &[],
        read_only: false,
        unique: false,
    }
}

const fn typed<'a>(
    name: &'a str,
    label: &'a str,
    kind: &'a str,
    field_type: &'a str,
    group: &'a str,
) -> Spec<'a> {
    Spec {
        name,
        label,
        kind,
        field_type,
        group,
        options: &[],
        read_only: false,
        unique: false,
    }
}

const fn select<'a>(
    name: &'a str,
    label: &'a str,
    field_type: &'a str,
    group: &'a str,
    options: &'a [(&'a str, &'a str)],
) -> Spec<'a> {
    Spec {
        name,
        label,
        kind: "enumeration",
        field_type,
        group,
        options,
        read_only: false,
        unique: false,
    }
}

const fn read_only<'a>(
    name: &'a str,
    label: &'a str,
    kind: &'a str,
    field_type: &'a str,
    group: &'a str,
) -> Spec<'a> {
    Spec {
        name,
        label,
        kind,
        field_type,
        group,
        options: &[],
        read_only: true,
        unique: false,
    }
}

const LIFECYCLE: &[(&str, &str)] = &[
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
];

const COMPANY_TYPE: &[(&str, &str)] = &[
    ("PROSPECT", "Prospect"),
    ("PARTNER", "Partner"),
    ("RESELLER", "Reseller"),
    ("VENDOR", "Vendor"),
    ("OTHER", "Other"),
];

const INDUSTRY: &[(&str, &str)] = &[
    ("ACCOUNTING", "Accounting"),
    ("BANKING", "Banking"),
    ("COMPUTER_SOFTWARE", "Computer Software"),
    ("CONSTRUCTION", "Construction"),
    ("CONSUMER_SERVICES", "Consumer Services"),
    ("EDUCATION_MANAGEMENT", "Education Management"),
    ("FINANCIAL_SERVICES", "Financial Services"),
    (
        "HEALTH_WELLNESS_AND_FITNESS",
        "Health, Wellness and Fitness",
    ),
    ("HOSPITAL_HEALTH_CARE", "Hospital & Health Care"),
    (
        "INFORMATION_TECHNOLOGY_AND_SERVICES",
        "Information Technology and Services",
    ),
    ("INSURANCE", "Insurance"),
    ("INVESTMENT_MANAGEMENT", "Investment Management"),
    ("LAW_PRACTICE", "Law Practice"),
    ("LEGAL_SERVICES", "Legal Services"),
    ("MANAGEMENT_CONSULTING", "Management Consulting"),
    ("MARKETING_AND_ADVERTISING", "Marketing and Advertising"),
    (
        "NON_PROFIT_ORGANIZATION_MANAGEMENT",
        "Non-Profit Organization Management",
    ),
    ("REAL_ESTATE", "Real Estate"),
    ("RETAIL", "Retail"),
    (
        "TRANSPORTATION_TRUCKING_RAILROAD",
        "Transportation/Trucking/Railroad",
    ),
];

const LEAD_STATUS: &[(&str, &str)] = &[
    ("NEW", "New"),
    ("OPEN", "Open"),
    ("IN_PROGRESS", "In Progress"),
    ("OPEN_DEAL", "Open Deal"),
    ("UNQUALIFIED", "Unqualified"),
    ("ATTEMPTED_TO_CONNECT", "Attempted to Contact"),
    ("CONNECTED", "Connected"),
    ("BAD_TIMING", "Bad Timing"),
];

const YES_NO: &[(&str, &str)] = &[("true", "Yes"), ("false", "No")];

const COMPANY_PROPERTIES: &[Spec<'static>] = &[
    text("name", "Company name", "companyinformation"),
    text("domain", "Company domain name", "companyinformation"),
    text("website", "Website URL", "companyinformation"),
    typed(
        "phone",
        "Phone Number",
        "string",
        "phonenumber",
        "companyinformation",
    ),
    text("address", "Street Address", "companyinformation"),
    text("address2", "Street Address 2", "companyinformation"),
    text("city", "City", "companyinformation"),
    text("state", "State/Region", "companyinformation"),
    text("zip", "Postal Code", "companyinformation"),
    text("country", "Country/Region", "companyinformation"),
    select(
        "industry",
        "Industry",
        "select",
        "companyinformation",
        INDUSTRY,
    ),
    select("type", "Type", "select", "companyinformation", COMPANY_TYPE),
    typed(
        "description",
        "Description",
        "string",
        "textarea",
        "companyinformation",
    ),
    typed(
        "numberofemployees",
        "Number of Employees",
        "number",
        "number",
        "companyinformation",
    ),
    typed(
        "annualrevenue",
        "Annual Revenue",
        "number",
        "number",
        "companyinformation",
    ),
    text("founded_year", "Year Founded", "companyinformation"),
    text("timezone", "Time Zone", "companyinformation"),
    text(
        "linkedin_company_page",
        "LinkedIn Company Page",
        "socialmediainformation",
    ),
    select(
        "lifecyclestage",
        "Lifecycle Stage",
        "radio",
        "companyinformation",
        LIFECYCLE,
    ),
    select(
        "is_public",
        "Is Public",
        "booleancheckbox",
        "companyinformation",
        YES_NO,
    ),
    Spec {
        name: "hubspot_owner_id",
        label: "Company owner",
        kind: "enumeration",
        field_type: "select",
        group: "companyinformation",
        options: &[],
        read_only: false,
        unique: false,
    },
    read_only(
        "createdate",
        "Create Date",
        "datetime",
        "date",
        "companyinformation",
    ),
    read_only(
        "hs_lastmodifieddate",
        "Last Modified Date",
        "datetime",
        "date",
        "companyinformation",
    ),
    read_only(
        "hs_object_id",
        "Record ID",
        "number",
        "number",
        "companyinformation",
    ),
];

const CONTACT_PROPERTIES: &[Spec<'static>] = &[
    text("firstname", "First Name", "contactinformation"),
    text("lastname", "Last Name", "contactinformation"),
    Spec {
        name: "email",
        label: "Email",
        kind: "string",
        field_type: "text",
        group: "contactinformation",
        options: &[],
        read_only: false,
        unique: true,
    },
    typed(
        "phone",
        "Phone Number",
        "string",
        "phonenumber",
        "contactinformation",
    ),
    typed(
        "mobilephone",
        "Mobile Phone Number",
        "string",
        "phonenumber",
        "contactinformation",
    ),
    text("company", "Company Name", "contactinformation"),
    text("jobtitle", "Job Title", "contactinformation"),
    text("website", "Website URL", "contactinformation"),
    text("address", "Street Address", "contactinformation"),
    text("city", "City", "contactinformation"),
    text("state", "State/Region", "contactinformation"),
    text("zip", "Postal Code", "contactinformation"),
    text("country", "Country/Region", "contactinformation"),
    text("salutation", "Salutation", "contactinformation"),
    text("date_of_birth", "Date of birth", "contactinformation"),
    text("industry", "Industry", "contactinformation"),
    typed(
        "message",
        "Message",
        "string",
        "textarea",
        "contactinformation",
    ),
    select(
        "lifecyclestage",
        "Lifecycle Stage",
        "radio",
        "contactinformation",
        LIFECYCLE,
    ),
    select(
        "hs_lead_status",
        "Lead Status",
        "radio",
        "sales_properties",
        LEAD_STATUS,
    ),
    Spec {
        name: "hubspot_owner_id",
        label: "Contact owner",
        kind: "enumeration",
        field_type: "select",
        group: "sales_properties",
        options: &[],
        read_only: false,
        unique: false,
    },
    typed(
        "associatedcompanyid",
        "Primary Associated Company ID",
        "number",
        "number",
        "contactinformation",
    ),
    read_only(
        "createdate",
        "Create Date",
        "datetime",
        "date",
        "contactinformation",
    ),
    read_only(
        "lastmodifieddate",
        "Last Modified Date",
        "datetime",
        "date",
        "contactinformation",
    ),
    read_only(
        "hs_object_id",
        "Record ID",
        "number",
        "number",
        "contactinformation",
    ),
];

const NOTE_PROPERTIES: &[Spec<'static>] = &[
    typed("hs_note_body", "Note body", "string", "html", "note"),
    typed("hs_timestamp", "Activity date", "datetime", "date", "note"),
    text("hs_attachment_ids", "Attachment IDs", "note"),
    Spec {
        name: "hubspot_owner_id",
        label: "Activity assigned to",
        kind: "enumeration",
        field_type: "select",
        group: "note",
        options: &[],
        read_only: false,
        unique: false,
    },
    read_only("hs_createdate", "Create date", "datetime", "date", "note"),
    read_only(
        "hs_lastmodifieddate",
        "Last modified date",
        "datetime",
        "date",
        "note",
    ),
    read_only("hs_object_id", "Record ID", "number", "number", "note"),
];

/// The standard catalog of `kind`.
pub(crate) fn standard(kind: ObjectKind) -> BTreeMap<String, PropertyDef> {
    let specs = match kind {
        ObjectKind::Companies => COMPANY_PROPERTIES,
        ObjectKind::Contacts => CONTACT_PROPERTIES,
        ObjectKind::Notes => NOTE_PROPERTIES,
    };
    let epoch = DateTime::<Utc>::from_timestamp(1_262_304_000, 0).unwrap_or_default();
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let def = PropertyDef {
                name: s.name.into(),
                label: s.label.into(),
                kind: s.kind.into(),
                field_type: s.field_type.into(),
                group_name: s.group.into(),
                description: String::new(),
                options: s
                    .options
                    .iter()
                    .enumerate()
                    .map(|(j, (value, label))| PropertyOption {
                        label: (*label).into(),
                        value: (*value).into(),
                        display_order: j as i64,
                        hidden: false,
                    })
                    .collect(),
                hubspot_defined: true,
                has_unique_value: s.unique,
                read_only_value: s.read_only,
                external_options: s.name == "hubspot_owner_id",
                display_order: i as i64,
                created_at: epoch,
                updated_at: epoch,
            };
            (s.name.to_string(), def)
        })
        .collect()
}
