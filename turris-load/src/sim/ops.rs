//! The operations of a run and how they are drawn: a seeded RNG picks each operation from a
//! plan that depends only on the operations drawn before it, never on what the servers did, so
//! one seed always gives the same sequence.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// State codes the simulation writes; `Texas` is not a code, so Turris skips it with a reason.
pub const STATES: [&str; 6] = ["NY", "TX", "CA", "FL", "WA", "IL"];
/// Cities the simulation writes.
pub const CITIES: [&str; 6] = ["Albany", "Austin", "Fresno", "Tampa", "Seattle", "Peoria"];

/// A standard company property both sides write, or a custom one only Turris' edits sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// `name` ↔ name.
    Name,
    /// `city` ↔ city.
    City,
    /// `phone` ↔ phone.
    Phone,
    /// `state` ↔ state code.
    State,
    /// `npn` (custom) ↔ NPN.
    Npn,
    /// `producer_code` (custom) ↔ producer code.
    ProducerCode,
}

impl Field {
    /// Every field.
    pub const ALL: [Field; 6] = [
        Field::Name,
        Field::City,
        Field::Phone,
        Field::State,
        Field::Npn,
        Field::ProducerCode,
    ];

    /// The HubSpot property.
    pub fn property(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::City => "city",
            Field::Phone => "phone",
            Field::State => "state",
            Field::Npn => "npn",
            Field::ProducerCode => "producer_code",
        }
    }

    /// The Turris field.
    pub fn turris(self) -> &'static str {
        match self {
            Field::State => "state_code",
            Field::Npn => "npn",
            Field::ProducerCode => "producer_code",
            other => other.property(),
        }
    }

    /// Custom properties: inbound edits are skipped, Turris owns the value.
    pub fn is_custom(self) -> bool {
        matches!(self, Field::Npn | Field::ProducerCode)
    }
}

/// A contact's name field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameField {
    /// `firstname` ↔ first name.
    First,
    /// `lastname` ↔ last name.
    Last,
}

/// One step of a run. Records are numbered in the order the run made them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// A person creates a company in HubSpot (a partner, or a vendor the filter leaves out).
    HsCreateCompany {
        /// Number of the company.
        company: usize,
        /// `type` is `PARTNER`.
        partner: bool,
        /// Its properties.
        values: Vec<(Field, String)>,
    },
    /// A person edits one property of a company in HubSpot.
    HsEditCompany {
        /// Number of the company.
        company: usize,
        /// Which.
        field: Field,
        /// The new value.
        value: String,
    },
    /// A vendor becomes a partner: it starts to match the filter.
    HsMakePartner {
        /// Number of the company.
        company: usize,
    },
    /// A person deletes a company.
    HsDeleteCompany {
        /// Number of the company.
        company: usize,
    },
    /// A person merges `merged` into `primary`.
    HsMergeCompanies {
        /// The survivor.
        primary: usize,
        /// The one merged away.
        merged: usize,
    },
    /// A person creates a contact of a company.
    HsCreateContact {
        /// Number of the contact.
        contact: usize,
        /// Number of its company.
        company: usize,
    },
    /// A person renames a contact.
    HsEditContact {
        /// Number of the contact.
        contact: usize,
        /// Which name.
        field: NameField,
        /// The new value.
        value: String,
    },
    /// A person associates a contact with one more company.
    HsAssociate {
        /// Number of the contact.
        contact: usize,
        /// Number of the company.
        company: usize,
    },
    /// An agency created through Turris' API.
    TurrisCreateAgency {
        /// Number of the company it becomes.
        company: usize,
        /// Its fields.
        values: Vec<(Field, String)>,
    },
    /// One field of an agency edited through Turris' API.
    TurrisEditAgency {
        /// Number of the company.
        company: usize,
        /// Which.
        field: Field,
        /// The new value.
        value: String,
    },
    /// An agency contact created through Turris' API.
    TurrisCreateContact {
        /// Number of the contact.
        contact: usize,
        /// Number of its agency's company.
        company: usize,
    },
    /// An agency contact renamed through Turris' API.
    TurrisEditContact {
        /// Number of the contact.
        contact: usize,
        /// Which name.
        field: NameField,
        /// The new value.
        value: String,
    },
    /// HubSpot answers the next calls 429 with `Retry-After: 1`.
    RateLimitBurst {
        /// How many calls.
        calls: u32,
    },
    /// HubSpot answers the next calls with a server error; `after_write`: it acted first.
    ServerErrorBurst {
        /// How many calls.
        calls: u32,
        /// 500, 502 or 503.
        status: u16,
        /// The call is carried out and only its answer lost.
        after_write: bool,
    },
    /// The harness waits, letting the servers catch up.
    Pause {
        /// Milliseconds.
        ms: u64,
    },
    /// `kill -9` of a replica, restarted after `down_for` more operations.
    Kill {
        /// Which replica.
        replica: usize,
        /// Operations before it is restarted.
        down_for: usize,
    },
}

/// What the plan knows: how many records exist and which the plan has already removed.
#[derive(Debug, Default)]
struct Plan {
    companies: Vec<PlannedCompany>,
    contacts: usize,
    serial: u64,
}

#[derive(Debug, Clone, Copy)]
struct PlannedCompany {
    partner: bool,
    gone: bool,
}

/// Draws the operations of a seed.
pub struct Generator {
    rng: StdRng,
    plan: Plan,
    replicas: usize,
    kill: bool,
}

impl Generator {
    /// The generator of `seed`; kills only with `kill`.
    pub fn new(seed: u64, replicas: usize, kill: bool) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            plan: Plan::default(),
            replicas: replicas.max(1),
            kill,
        }
    }

    fn fresh(&mut self) -> u64 {
        self.plan.serial += 1;
        self.plan.serial
    }

    /// A fresh value for `field` (names, phones, NPNs and codes never repeat).
    fn value(&mut self, field: Field) -> String {
        let n = self.fresh();
        match field {
            Field::Name => format!("Agency {n}"),
            Field::City => CITIES[self.rng.random_range(0..CITIES.len())].to_owned(),
            Field::Phone => format!("+1 555 {n:07}"),
            Field::State if self.rng.random_ratio(1, 12) => "Texas".to_owned(),
            Field::State => STATES[self.rng.random_range(0..STATES.len())].to_owned(),
            Field::Npn => format!("{}", 10_000_000 + n),
            Field::ProducerCode => format!("PC-{n}"),
        }
    }

    fn values(&mut self) -> Vec<(Field, String)> {
        Field::ALL.iter().map(|f| (*f, self.value(*f))).collect()
    }

    fn name(&mut self) -> String {
        format!("Name{}", self.fresh())
    }

    /// A company the plan has not removed, if any.
    fn live_company(&mut self, partner_only: bool) -> Option<usize> {
        let live: Vec<usize> = (0..self.plan.companies.len())
            .filter(|i| {
                let c = self.plan.companies[*i];
                !c.gone && (c.partner || !partner_only)
            })
            .collect();
        (!live.is_empty()).then(|| live[self.rng.random_range(0..live.len())])
    }

    fn contact(&mut self) -> Option<usize> {
        (self.plan.contacts > 0).then(|| self.rng.random_range(0..self.plan.contacts))
    }

    fn new_company(&mut self, partner: bool) -> usize {
        self.plan.companies.push(PlannedCompany {
            partner,
            gone: false,
        });
        self.plan.companies.len() - 1
    }

    /// The next operation.
    pub fn next_op(&mut self) -> Op {
        loop {
            if let Some(op) = self.draw() {
                return op;
            }
        }
    }

    /// One draw; `None` when the drawn kind has nothing to act on yet.
    fn draw(&mut self) -> Option<Op> {
        let roll = self.rng.random_range(0..100u32);
        if roll < 52 {
            self.draw_hubspot(roll)
        } else {
            self.draw_turris_or_chaos(roll)
        }
    }

    /// A person's operation in HubSpot (`roll` < 52).
    fn draw_hubspot(&mut self, roll: u32) -> Option<Op> {
        Some(match roll {
            0..12 => {
                let partner = !self.rng.random_ratio(1, 7);
                let values = self.values();
                let company = self.new_company(partner);
                Op::HsCreateCompany {
                    company,
                    partner,
                    values,
                }
            }
            12..28 => {
                let company = self.live_company(false)?;
                let field = Field::ALL[self.rng.random_range(0..Field::ALL.len())];
                let value = self.value(field);
                Op::HsEditCompany {
                    company,
                    field,
                    value,
                }
            }
            28..31 => {
                let vendors: Vec<usize> = (0..self.plan.companies.len())
                    .filter(|i| !self.plan.companies[*i].partner && !self.plan.companies[*i].gone)
                    .collect();
                let company = *vendors.get(self.rng.random_range(0..vendors.len().max(1)))?;
                self.plan.companies[company].partner = true;
                Op::HsMakePartner { company }
            }
            31..33 => {
                let company = self.live_company(false)?;
                self.plan.companies[company].gone = true;
                Op::HsDeleteCompany { company }
            }
            33..35 => {
                let primary = self.live_company(true)?;
                let merged = self.live_company(true)?;
                if primary == merged {
                    return None;
                }
                self.plan.companies[merged].gone = true;
                Op::HsMergeCompanies { primary, merged }
            }
            35..43 => {
                let company = self.live_company(true)?;
                self.plan.contacts += 1;
                Op::HsCreateContact {
                    contact: self.plan.contacts - 1,
                    company,
                }
            }
            43..49 => self.edit_contact(true)?,
            49..52 => Op::HsAssociate {
                contact: self.contact()?,
                company: self.live_company(true)?,
            },
            _ => return None,
        })
    }

    /// An API operation in Turris, a fault burst, a pause or a kill (`roll` >= 52).
    fn draw_turris_or_chaos(&mut self, roll: u32) -> Option<Op> {
        Some(match roll {
            52..62 => {
                let mut values = self.values();
                values.retain(|(f, v)| *f != Field::State || v != "Texas");
                let company = self.new_company(true);
                Op::TurrisCreateAgency { company, values }
            }
            62..77 => {
                let company = self.live_company(true)?;
                let field = Field::ALL[self.rng.random_range(0..Field::ALL.len())];
                let mut value = self.value(field);
                if value == "Texas" {
                    value = "NY".to_owned();
                }
                Op::TurrisEditAgency {
                    company,
                    field,
                    value,
                }
            }
            77..82 => {
                let company = self.live_company(true)?;
                self.plan.contacts += 1;
                Op::TurrisCreateContact {
                    contact: self.plan.contacts - 1,
                    company,
                }
            }
            82..86 => self.edit_contact(false)?,
            86..89 => Op::RateLimitBurst {
                calls: self.rng.random_range(1..=6),
            },
            89..92 => Op::ServerErrorBurst {
                calls: self.rng.random_range(1..=4),
                status: [500, 502, 503][self.rng.random_range(0..3)],
                after_write: self.rng.random_ratio(1, 3),
            },
            92..98 => Op::Pause {
                ms: self.rng.random_range(20..=400),
            },
            _ if self.kill => Op::Kill {
                replica: self.rng.random_range(0..self.replicas),
                down_for: self.rng.random_range(1..=40),
            },
            _ => return None,
        })
    }

    fn edit_contact(&mut self, hubspot: bool) -> Option<Op> {
        let contact = self.contact()?;
        let field = if self.rng.random_bool(0.5) {
            NameField::First
        } else {
            NameField::Last
        };
        let value = self.name();
        Some(if hubspot {
            Op::HsEditContact {
                contact,
                field,
                value,
            }
        } else {
            Op::TurrisEditContact {
                contact,
                field,
                value,
            }
        })
    }
}

/// The first `n` operations of `seed`.
pub fn sequence(seed: u64, n: usize, replicas: usize, kill: bool) -> Vec<Op> {
    let mut generator = Generator::new(seed, replicas, kill);
    (0..n).map(|_| generator.next_op()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_always_draws_the_same_operations() {
        assert_eq!(sequence(7, 500, 2, true), sequence(7, 500, 2, true));
        assert_ne!(sequence(7, 500, 2, true), sequence(8, 500, 2, true));
    }

    #[test]
    fn a_run_draws_every_kind_of_operation() {
        let ops = sequence(1, 2_000, 2, true);
        let has = |f: fn(&Op) -> bool| ops.iter().any(f);
        assert!(has(|o| matches!(o, Op::HsCreateCompany { .. })));
        assert!(has(|o| matches!(o, Op::HsEditCompany { .. })));
        assert!(has(|o| matches!(o, Op::HsMakePartner { .. })));
        assert!(has(|o| matches!(o, Op::HsDeleteCompany { .. })));
        assert!(has(|o| matches!(o, Op::HsMergeCompanies { .. })));
        assert!(has(|o| matches!(o, Op::HsCreateContact { .. })));
        assert!(has(|o| matches!(o, Op::HsEditContact { .. })));
        assert!(has(|o| matches!(o, Op::HsAssociate { .. })));
        assert!(has(|o| matches!(o, Op::TurrisCreateAgency { .. })));
        assert!(has(|o| matches!(o, Op::TurrisEditAgency { .. })));
        assert!(has(|o| matches!(o, Op::TurrisCreateContact { .. })));
        assert!(has(|o| matches!(o, Op::TurrisEditContact { .. })));
        assert!(has(|o| matches!(o, Op::RateLimitBurst { .. })));
        assert!(has(|o| matches!(o, Op::ServerErrorBurst { .. })));
        assert!(has(|o| matches!(o, Op::Kill { .. })));
        assert!(
            !sequence(1, 2_000, 1, false)
                .iter()
                .any(|o| matches!(o, Op::Kill { .. }))
        );
    }
}
