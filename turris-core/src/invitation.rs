//! Agency invitations: whether a net-new agency created by inbound sync is invited to onboard,
//! which contract template it gets, and whether the invitation can go out yet.
//!
//! [`InvitationSettings::decide`] answers the first two from the HubSpot company's properties;
//! [`delivery`] answers the third from the agency's contacts (an invitation needs a contact
//! with an email, otherwise it is deferred until one appears). Invitation settings apply only
//! while agency inbound sync is on: [`ensure_configurable`].

use serde::{Deserialize, Serialize};

use crate::activity::{ActivityKind, Outcome};
use crate::error::{FieldError, prefix_all};
use crate::filter::Condition;
use crate::ids::{AgencyContactId, ContractTemplateId};
use crate::matrix::{Direction, SyncMatrix, SyncObject};
use crate::property::{ObjectSchema, PropertyMap};
use crate::record::AgencyContact;

/// Which net-new agencies are invited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum InvitationMode {
    /// None (the default): agencies are created silently.
    #[default]
    DoNotInvite,
    /// Every net-new agency.
    InviteAll,
    /// Only agencies whose HubSpot company satisfies the condition.
    ApplyFilter {
        /// The condition.
        #[serde(default)]
        condition: Condition,
    },
}

/// A contract rule: companies satisfying `condition` get `template`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ContractRule {
    /// The condition on the HubSpot company.
    #[serde(default)]
    pub condition: Condition,
    /// The contract template (required; optional here so a half-filled rule validates to a
    /// field error instead of failing to parse).
    #[serde(default)]
    pub template: Option<ContractTemplateId>,
}

/// An organization's auto-invite settings. The serde form is flat:
/// `{"mode":"apply_filter","condition":{...},"rules":[...],"default_template":"standard"}`.
///
/// ```
/// use turris_core::invitation::{ContractChoice, ContractRule, InvitationMode, InvitationSettings, InviteDecision};
/// use turris_core::{Condition, PropertyMap, ids::ContractTemplateId};
///
/// let settings = InvitationSettings {
///     mode: InvitationMode::InviteAll,
///     rules: vec![ContractRule {
///         condition: Condition::equals("state", "NY"),
///         template: Some(ContractTemplateId::parse("ny-agreement").unwrap()),
///     }],
///     default_template: None,
/// };
/// let ny = PropertyMap::from_pairs([("state", Some("NY"))]);
/// assert_eq!(
///     settings.decide(&ny),
///     InviteDecision::Invite {
///         template: ContractTemplateId::parse("ny-agreement").unwrap(),
///         chosen_by: ContractChoice::Rule { index: 0 },
///     }
/// );
/// assert_eq!(settings.decide(&PropertyMap::new()), InviteDecision::NeedsAttention);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "RawInvitationSettings")]
pub struct InvitationSettings {
    /// Which agencies are invited.
    #[serde(flatten)]
    pub mode: InvitationMode,
    /// Ordered contract rules: the first match wins.
    #[serde(default)]
    pub rules: Vec<ContractRule>,
    /// The template for invited agencies no rule matches; without one they need attention.
    #[serde(default)]
    pub default_template: Option<ContractTemplateId>,
}

/// The wire form, read strictly: a mistyped field (`rulez`) must not silently drop the rules,
/// and a `condition` only goes with `apply_filter`. A missing `mode` is `do_not_invite`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInvitationSettings {
    #[serde(default)]
    mode: RawInvitationMode,
    #[serde(default)]
    condition: Option<Condition>,
    #[serde(default)]
    rules: Vec<ContractRule>,
    #[serde(default)]
    default_template: Option<ContractTemplateId>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawInvitationMode {
    #[default]
    DoNotInvite,
    InviteAll,
    ApplyFilter,
}

impl TryFrom<RawInvitationSettings> for InvitationSettings {
    type Error = &'static str;

    fn try_from(raw: RawInvitationSettings) -> Result<Self, Self::Error> {
        let mode = match (raw.mode, raw.condition) {
            (RawInvitationMode::ApplyFilter, condition) => InvitationMode::ApplyFilter {
                condition: condition.unwrap_or_default(),
            },
            (_, Some(_)) => return Err("condition is only accepted with mode apply_filter"),
            (RawInvitationMode::DoNotInvite, None) => InvitationMode::DoNotInvite,
            (RawInvitationMode::InviteAll, None) => InvitationMode::InviteAll,
        };
        Ok(Self {
            mode,
            rules: raw.rules,
            default_template: raw.default_template,
        })
    }
}

/// Why a net-new agency is not invited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum NotInvitedReason {
    /// The mode is `do_not_invite`.
    #[error("auto-invite is off")]
    ModeDoNotInvite,
    /// The company does not satisfy the invitation filter.
    #[error("company does not match the invitation filter")]
    FilterDidNotMatch,
}

/// Which part of the settings chose the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum ContractChoice {
    /// The rule at this position (0-based).
    Rule {
        /// Its position.
        index: usize,
    },
    /// The default template.
    Default,
    /// A person picked it for an invitation that needed attention.
    Person,
}

/// The outcome of [`InvitationSettings::decide`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum InviteDecision {
    /// No invitation.
    NotInvited {
        /// Why.
        reason: NotInvitedReason,
    },
    /// Invite with this contract.
    Invite {
        /// The contract template.
        template: ContractTemplateId,
        /// Which rule, or the default, chose it.
        chosen_by: ContractChoice,
    },
    /// Invited, but no rule matched and there is no default: a person must pick the contract.
    NeedsAttention,
}

impl InvitationSettings {
    /// Decides for a net-new agency (one inbound sync just created, never a linked or updated
    /// one) from its HubSpot company's properties. Rules without a template (which
    /// validation refuses) are passed over. Whether the invitation can be sent yet is
    /// [`delivery`]'s decision.
    pub fn decide(&self, company: &PropertyMap) -> InviteDecision {
        match &self.mode {
            InvitationMode::DoNotInvite => {
                return InviteDecision::NotInvited {
                    reason: NotInvitedReason::ModeDoNotInvite,
                };
            }
            InvitationMode::ApplyFilter { condition } if !condition.evaluate(company) => {
                return InviteDecision::NotInvited {
                    reason: NotInvitedReason::FilterDidNotMatch,
                };
            }
            InvitationMode::InviteAll | InvitationMode::ApplyFilter { .. } => {}
        }
        let by_rule = self.rules.iter().enumerate().find_map(|(index, rule)| {
            let template = rule.template.as_ref()?;
            rule.condition
                .evaluate(company)
                .then(|| InviteDecision::Invite {
                    template: template.clone(),
                    chosen_by: ContractChoice::Rule { index },
                })
        });
        by_rule
            .or_else(|| {
                self.default_template
                    .as_ref()
                    .map(|template| InviteDecision::Invite {
                        template: template.clone(),
                        chosen_by: ContractChoice::Default,
                    })
            })
            .unwrap_or(InviteDecision::NeedsAttention)
    }

    /// Every contract template the settings name, with its path (`rules[0].template`,
    /// `default_template`), so the caller can check each exists.
    pub fn template_refs(&self) -> Vec<(String, &ContractTemplateId)> {
        self.rules
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                r.template
                    .as_ref()
                    .map(|t| (format!("rules[{i}].template"), t))
            })
            .chain(
                self.default_template
                    .as_ref()
                    .map(|t| ("default_template".to_owned(), t)),
            )
            .collect()
    }

    /// Every problem, all at once, with paths relative to the settings
    /// (`condition.value`, `rules[1].template`).
    pub fn validate(&self, companies: &ObjectSchema) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let InvitationMode::ApplyFilter { condition } = &self.mode {
            errors.extend(prefix_all("condition", condition.validate(companies)));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let prefix = format!("rules[{i}]");
            errors.extend(prefix_all(
                &format!("{prefix}.condition"),
                rule.condition.validate(companies),
            ));
            if rule.template.is_none() {
                errors.push(FieldError::new(
                    format!("{prefix}.template"),
                    "contract template is required",
                ));
            }
        }
        errors
    }
}

/// What the UI says when invitation settings are locked (the seed's tooltip).
pub const INVITATIONS_LOCKED_EXPLANATION: &str = "Enable HubSpot → Turris sync above to configure agency invitations. There are no net-new synced agencies to invite until inbound sync is on.";

/// Invitation settings can only be changed (and only apply) while agency inbound sync is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("agency invitations need hubspot → turris agency sync to be on")]
pub struct InvitationsLocked;

impl InvitationsLocked {
    /// The longer explanation for the UI: [`INVITATIONS_LOCKED_EXPLANATION`].
    pub fn explanation(&self) -> &'static str {
        INVITATIONS_LOCKED_EXPLANATION
    }
}

/// Whether invitation settings may be configured (and invitations sent): agency inbound sync
/// must be on. The server answers 409 otherwise.
///
/// ```
/// use turris_core::invitation::ensure_configurable;
/// use turris_core::matrix::SyncMatrix;
///
/// assert!(ensure_configurable(&SyncMatrix::default()).is_err());
/// ```
pub fn ensure_configurable(matrix: &SyncMatrix) -> Result<(), InvitationsLocked> {
    if matrix.is_enabled(SyncObject::Agency, Direction::Inbound) {
        Ok(())
    } else {
        Err(InvitationsLocked)
    }
}

/// Whether an invitation the decision allows can be sent now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "delivery", rename_all = "snake_case")]
pub enum Delivery {
    /// Send it to this contact.
    Send {
        /// The contact.
        contact: AgencyContactId,
        /// Their email.
        email: String,
    },
    /// No contact with an email yet: "Auto-invite deferred (awaiting contact)". Decide again
    /// when a contact appears.
    DeferredAwaitingContact,
}

/// Picks the recipient of an agency's invitation: the first contact (in the caller's order)
/// with a usable email, or a deferral.
pub fn delivery(contacts: &[AgencyContact]) -> Delivery {
    contacts
        .iter()
        .find_map(|c| {
            c.usable_email().map(|email| Delivery::Send {
                contact: c.id.clone(),
                email: email.to_owned(),
            })
        })
        .unwrap_or(Delivery::DeferredAwaitingContact)
}

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    /// Sent to the agency's contact.
    Sent,
    /// Waiting for an agency contact with an email.
    Deferred,
    /// No contract rule matched and there is no default: a person must pick the contract.
    NeedsAttention,
}

/// What becomes of an agency's auto-invite: the invitation to record (if any) and the
/// activity row that says so, with the seed's titles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationOutcome {
    /// The invitation to record: its status, contract and address; `None` when the agency is
    /// not invited.
    pub invitation: Option<(InvitationStatus, Option<ContractTemplateId>, Option<String>)>,
    /// The activity title.
    pub kind: ActivityKind,
    /// How it ended.
    pub outcome: Outcome,
    /// The row's message (or, for an agency not invited, its skip reason).
    pub message: String,
}

/// The outcome of `decision` for an agency with these `contacts`: not invited (Skipped, with
/// the reason); needs attention (no contract); or invited, sent to the first contact with a
/// usable email ([`delivery`]) or deferred until one exists.
///
/// ```
/// use turris_core::activity::ActivityKind;
/// use turris_core::ids::ContractTemplateId;
/// use turris_core::invitation::{ContractChoice, InvitationStatus, InviteDecision, outcome};
///
/// let template = ContractTemplateId::parse("std").unwrap();
/// let decision = InviteDecision::Invite { template: template.clone(), chosen_by: ContractChoice::Default };
/// let deferred = outcome(&decision, &[]);
/// assert_eq!(deferred.kind, ActivityKind::AutoInviteDeferred);
/// assert_eq!(deferred.invitation, Some((InvitationStatus::Deferred, Some(template), None)));
/// ```
pub fn outcome(decision: &InviteDecision, contacts: &[AgencyContact]) -> InvitationOutcome {
    match decision {
        InviteDecision::NotInvited { reason } => InvitationOutcome {
            invitation: None,
            kind: ActivityKind::AutoInviteSkipped,
            outcome: Outcome::Skipped,
            message: reason.to_string(),
        },
        InviteDecision::NeedsAttention => InvitationOutcome {
            invitation: Some((InvitationStatus::NeedsAttention, None, None)),
            kind: ActivityKind::AutoInviteNeedsAttention,
            outcome: Outcome::Skipped,
            message: "no contract rule matched and there is no default template".to_owned(),
        },
        InviteDecision::Invite { template, .. } => match delivery(contacts) {
            Delivery::Send { email, .. } => InvitationOutcome {
                message: format!("invited with contract {template}, sent to {email}"),
                invitation: Some((InvitationStatus::Sent, Some(template.clone()), Some(email))),
                kind: ActivityKind::AutoInviteSent,
                outcome: Outcome::Success,
            },
            Delivery::DeferredAwaitingContact => InvitationOutcome {
                invitation: Some((InvitationStatus::Deferred, Some(template.clone()), None)),
                kind: ActivityKind::AutoInviteDeferred,
                outcome: Outcome::Skipped,
                message: format!(
                    "contract {template}; sent once the agency has a contact with an email"
                ),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::AgencyId;
    use crate::matrix::Toggles;
    use crate::property::{ObjectType, PropertyDefinition, PropertyType};

    fn template(s: &str) -> ContractTemplateId {
        ContractTemplateId::parse(s).unwrap()
    }

    fn rule(property: &str, value: &str, t: &str) -> ContractRule {
        ContractRule {
            condition: Condition::equals(property, value),
            template: Some(template(t)),
        }
    }

    fn check(
        settings: &InvitationSettings,
        company: &[(&str, Option<&str>)],
        expected: InviteDecision,
    ) {
        let map = PropertyMap::from_pairs(company.iter().copied());
        assert_eq!(settings.decide(&map), expected, "{company:?}");
    }

    #[test]
    fn do_not_invite_never_invites() {
        let settings = InvitationSettings {
            rules: vec![rule("s", "NY", "t")],
            ..Default::default()
        };
        check(
            &settings,
            &[("s", Some("NY"))],
            InviteDecision::NotInvited {
                reason: NotInvitedReason::ModeDoNotInvite,
            },
        );
    }

    #[test]
    fn the_first_matching_rule_wins_then_the_default_then_needs_attention() {
        let mut settings = InvitationSettings {
            mode: InvitationMode::InviteAll,
            rules: vec![
                rule("tier", "gold", "gold"),
                rule("state", "NY", "ny"),
                rule("tier", "gold", "shadowed"),
            ],
            default_template: Some(template("standard")),
        };
        let invite = |t: &str, chosen_by| InviteDecision::Invite {
            template: template(t),
            chosen_by,
        };
        check(
            &settings,
            &[("tier", Some("gold")), ("state", Some("NY"))],
            invite("gold", ContractChoice::Rule { index: 0 }),
        );
        check(
            &settings,
            &[("state", Some("NY"))],
            invite("ny", ContractChoice::Rule { index: 1 }),
        );
        check(
            &settings,
            &[("state", Some("TX"))],
            invite("standard", ContractChoice::Default),
        );
        settings.default_template = None;
        check(
            &settings,
            &[("state", Some("TX"))],
            InviteDecision::NeedsAttention,
        );
    }

    #[test]
    fn apply_filter_invites_only_matching_companies() {
        let settings = InvitationSettings {
            mode: InvitationMode::ApplyFilter {
                condition: Condition::equals("invite", "true"),
            },
            rules: vec![],
            default_template: Some(template("standard")),
        };
        check(
            &settings,
            &[("invite", Some("false"))],
            InviteDecision::NotInvited {
                reason: NotInvitedReason::FilterDidNotMatch,
            },
        );
        check(
            &settings,
            &[],
            InviteDecision::NotInvited {
                reason: NotInvitedReason::FilterDidNotMatch,
            },
        );
        check(
            &settings,
            &[("invite", Some("true"))],
            InviteDecision::Invite {
                template: template("standard"),
                chosen_by: ContractChoice::Default,
            },
        );
    }

    #[test]
    fn rules_without_a_template_are_passed_over() {
        let settings = InvitationSettings {
            mode: InvitationMode::InviteAll,
            rules: vec![
                ContractRule {
                    condition: Condition::is_populated("x"),
                    template: None,
                },
                rule("x", "1", "one"),
            ],
            default_template: None,
        };
        check(
            &settings,
            &[("x", Some("1"))],
            InviteDecision::Invite {
                template: template("one"),
                chosen_by: ContractChoice::Rule { index: 1 },
            },
        );
    }

    #[test]
    fn validation_reports_every_bad_condition_and_missing_template_with_paths() {
        let schema = ObjectSchema::new(
            ObjectType::Company,
            vec![PropertyDefinition::new(
                "state",
                "State",
                PropertyType::String,
                "text",
                true,
            )],
        );
        let settings: InvitationSettings = serde_json::from_str(
            r#"{"mode":"apply_filter","condition":{"property":"state","operator":"equals"},
                "rules":[{"condition":{"property":"state","operator":"equals","value":"NY"},"template":"ny"},
                         {"condition":{"property":"nope","operator":"is_populated"}}]}"#,
        )
        .unwrap();
        let errors: Vec<(String, String)> = settings
            .validate(&schema)
            .into_iter()
            .map(|e| (e.path, e.message))
            .collect();
        assert_eq!(
            errors,
            [
                (
                    "condition.value".to_string(),
                    "value is required".to_string()
                ),
                (
                    "rules[1].condition.property".to_string(),
                    "property nope does not exist on companies".to_string()
                ),
                (
                    "rules[1].template".to_string(),
                    "contract template is required".to_string()
                ),
            ]
        );
    }

    #[test]
    fn invitation_settings_reject_unknown_fields_and_misplaced_conditions() {
        for json in [
            r#"{"mode":"invite_all","rulez":[]}"#,
            r#"{"mode":"invite_all","condition":{"property":"x","operator":"is_populated"}}"#,
            r#"{"mode":"invite_some"}"#,
            r#"{"mode":"invite_all","rules":[{"condition":{},"template":"bad id"}]}"#,
        ] {
            assert!(
                serde_json::from_str::<InvitationSettings>(json).is_err(),
                "{json}"
            );
        }
        let half: InvitationSettings = serde_json::from_str(r#"{"mode":"apply_filter"}"#).unwrap();
        assert_eq!(
            half.mode,
            InvitationMode::ApplyFilter {
                condition: Condition::default()
            }
        );
        let none: InvitationSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(none, InvitationSettings::default());
        let filtered = InvitationSettings {
            mode: InvitationMode::ApplyFilter {
                condition: Condition::is_populated("invite"),
            },
            rules: vec![rule("tier", "gold", "gold")],
            default_template: Some(template("standard")),
        };
        let json = serde_json::to_string(&filtered).unwrap();
        assert_eq!(
            json,
            r#"{"mode":"apply_filter","condition":{"property":"invite","operator":"is_populated"},"rules":[{"condition":{"property":"tier","operator":"equals","value":"gold"},"template":"gold"}],"default_template":"standard"}"#
        );
        assert_eq!(
            serde_json::from_str::<InvitationSettings>(&json).unwrap(),
            filtered
        );
    }

    #[test]
    fn invitations_are_configurable_only_while_agency_inbound_is_on() {
        assert_eq!(
            ensure_configurable(&SyncMatrix::default()),
            Err(InvitationsLocked)
        );
        let outbound_only = SyncMatrix {
            agency: Toggles {
                inbound: false,
                outbound: true,
            },
            ..Default::default()
        };
        assert_eq!(ensure_configurable(&outbound_only), Err(InvitationsLocked));
        let inbound = SyncMatrix {
            agency: Toggles {
                inbound: true,
                outbound: false,
            },
            ..Default::default()
        };
        assert_eq!(ensure_configurable(&inbound), Ok(()));
        assert!(
            InvitationsLocked
                .explanation()
                .starts_with("Enable HubSpot → Turris sync above")
        );
    }

    #[test]
    fn each_decision_becomes_its_invitation_and_its_activity_row() {
        let template = ContractTemplateId::parse("std").unwrap();
        let invite = InviteDecision::Invite {
            template: template.clone(),
            chosen_by: ContractChoice::Default,
        };
        let with_email = [AgencyContact {
            id: AgencyContactId::parse("c1").unwrap(),
            agency_id: AgencyId::parse("a").unwrap(),
            first_name: None,
            last_name: None,
            email: Some("ada@example.com".into()),
        }];
        let sent = outcome(&invite, &with_email);
        assert_eq!(
            (sent.invitation, sent.kind, sent.outcome),
            (
                Some((
                    InvitationStatus::Sent,
                    Some(template),
                    Some("ada@example.com".into())
                )),
                ActivityKind::AutoInviteSent,
                Outcome::Success
            )
        );
        let attention = outcome(&InviteDecision::NeedsAttention, &with_email);
        assert_eq!(
            attention.invitation,
            Some((InvitationStatus::NeedsAttention, None, None))
        );
        let not_invited = outcome(
            &InviteDecision::NotInvited {
                reason: NotInvitedReason::ModeDoNotInvite,
            },
            &with_email,
        );
        assert_eq!(not_invited.invitation, None);
        assert_eq!(not_invited.kind, ActivityKind::AutoInviteSkipped);
    }

    #[test]
    fn an_invitation_waits_for_a_contact_with_an_email() {
        let contact = |id: &str, email: Option<&str>| AgencyContact {
            id: AgencyContactId::parse(id).unwrap(),
            agency_id: AgencyId::parse("a").unwrap(),
            first_name: None,
            last_name: None,
            email: email.map(str::to_owned),
        };
        assert_eq!(delivery(&[]), Delivery::DeferredAwaitingContact);
        assert_eq!(
            delivery(&[contact("c1", None), contact("c2", Some(""))]),
            Delivery::DeferredAwaitingContact
        );
        assert_eq!(
            delivery(&[
                contact("c1", Some("not-an-email")),
                contact("c2", Some("a@b.co")),
                contact("c3", Some("c@d.co"))
            ]),
            Delivery::Send {
                contact: AgencyContactId::parse("c2").unwrap(),
                email: "a@b.co".into()
            }
        );
    }

    #[test]
    fn decisions_serialize_with_snake_case_tags() {
        let d = InviteDecision::Invite {
            template: template("t"),
            chosen_by: ContractChoice::Rule { index: 2 },
        };
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"decision":"invite","template":"t","chosen_by":{"source":"rule","index":2}}"#
        );
        assert_eq!(
            serde_json::to_string(&InviteDecision::NeedsAttention).unwrap(),
            r#"{"decision":"needs_attention"}"#
        );
        assert_eq!(
            serde_json::to_string(&InvitationSettings::default()).unwrap(),
            r#"{"mode":"do_not_invite","rules":[],"default_template":null}"#
        );
    }
}
