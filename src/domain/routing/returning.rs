//! Returning contacts: whether a lead from a person the team already knows goes back to the
//! owner of their earlier lead, per the config's `returning_contacts` rule and whether that
//! owner can still take leads.

use jiff::Timestamp;

use crate::domain::config::RoutingConfig;
use crate::domain::model::{Assignment, LeadStatus, Owner};

use super::explain::rep_owner;

/// The earlier lead a returning contact is owned through.
#[derive(Debug, Clone)]
pub struct EarlierLead<'a> {
    /// Its id.
    pub lead_id: &'a str,
    /// Its current owner.
    pub owner: &'a Owner,
    /// Where it stands.
    pub status: LeadStatus,
    /// When it arrived.
    pub received_at: Timestamp,
}

/// Where a returning contact goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Returning {
    /// Back to this rep, the owner of the earlier lead.
    Owner(String),
    /// Through the rules; the phrase says why not back to the owner.
    Rules(String),
    /// The config routes returning contacts by the rules anyway.
    Off,
}

/// Whether a returning contact goes back to the owner of its earlier lead, per the config's
/// `returning_contacts` rule and whether that owner can still take leads (in the config,
/// active, not out of office or on holiday).
pub fn returning_owner(
    config: &RoutingConfig,
    earlier: &EarlierLead<'_>,
    now: Timestamp,
) -> Returning {
    use crate::domain::config::ReturningWhen;
    let rule = config.returning;
    let Owner::Rep { id, name } = earlier.owner else {
        return Returning::Rules(format!(
            "its earlier lead is in queue '{}', not with a rep",
            earlier.owner.name()
        ));
    };
    match rule.when {
        ReturningWhen::Never => return Returning::Off,
        ReturningWhen::Recent
            if now.duration_since(earlier.received_at).as_secs()
                > i64::from(rule.days) * 24 * 60 * 60 =>
        {
            return Returning::Rules(format!("its earlier lead is older than {} days", rule.days))
        }
        ReturningWhen::Open if earlier.status == LeadStatus::Closed => {
            return Returning::Rules("its earlier lead is closed".into())
        }
        _ => {}
    }
    let Some(rep) = config.reps.get(id) else {
        return Returning::Rules(format!(
            "its owner {name} is no longer in the routing config"
        ));
    };
    match rep.availability.check_present(now) {
        Ok(()) => Returning::Owner(id.clone()),
        Err(why) => Returning::Rules(format!("its owner {} is {why}", rep.name)),
    }
}

/// The assignment of a returning contact to the owner of its earlier lead.
pub fn to_returning_owner(
    config: &RoutingConfig,
    version: u64,
    rep_id: &str,
    earlier: &EarlierLead<'_>,
) -> Assignment {
    let owner = rep_owner(config.reps.get(rep_id), rep_id);
    let reason = format!(
        "Returning contact: the same person sent lead {} on {}, so it goes back to its owner {}.",
        earlier.lead_id,
        earlier.received_at.strftime("%Y-%m-%d"),
        owner.name()
    );
    Assignment {
        owner,
        rule_id: None,
        rule_number: None,
        matched: Vec::new(),
        turn: None,
        config_version: Some(version),
        skipped: Vec::new(),
        overflowed: Vec::new(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::routing::fixtures::{config, office_hours};

    #[test]
    fn a_returning_contact_goes_back_per_the_configs_rule() {
        use crate::domain::config::{Returning as Rule, ReturningWhen};
        let mut c = config();
        let rep = |id: &str| Owner::Rep {
            id: id.into(),
            name: id.into(),
        };
        let (ana, erin, dana) = (rep("ana"), rep("erin"), rep("dana"));
        let queue = Owner::Queue {
            id: "nurture".into(),
            name: "Nurture".into(),
        };
        let earlier = |owner, status, days_ago: i64| EarlierLead {
            lead_id: "l1",
            owner,
            status,
            received_at: office_hours() - jiff::SignedDuration::from_hours(24 * days_ago),
        };
        let now = office_hours();
        assert_eq!(
            returning_owner(&c, &earlier(&ana, LeadStatus::Closed, 400), now),
            Returning::Owner("ana".into())
        );
        assert!(
            matches!(returning_owner(&c, &earlier(&erin, LeadStatus::Open, 1), now), Returning::Rules(why) if why.starts_with("its owner Erin is out of office"))
        );
        assert!(
            matches!(returning_owner(&c, &earlier(&dana, LeadStatus::Open, 1), now), Returning::Rules(why) if why == "its owner Dana is inactive")
        );
        assert!(matches!(
            returning_owner(&c, &earlier(&queue, LeadStatus::Queued, 1), now),
            Returning::Rules(_)
        ));
        c.returning = Rule {
            when: ReturningWhen::Recent,
            days: 30,
        };
        assert_eq!(
            returning_owner(&c, &earlier(&ana, LeadStatus::Open, 29), now),
            Returning::Owner("ana".into())
        );
        assert!(
            matches!(returning_owner(&c, &earlier(&ana, LeadStatus::Open, 31), now), Returning::Rules(why) if why == "its earlier lead is older than 30 days")
        );
        c.returning = Rule {
            when: ReturningWhen::Open,
            days: 30,
        };
        assert_eq!(
            returning_owner(&c, &earlier(&ana, LeadStatus::Acknowledged, 400), now),
            Returning::Owner("ana".into())
        );
        assert!(matches!(
            returning_owner(&c, &earlier(&ana, LeadStatus::Closed, 1), now),
            Returning::Rules(_)
        ));
        c.returning = Rule {
            when: ReturningWhen::Never,
            days: 30,
        };
        assert_eq!(
            returning_owner(&c, &earlier(&ana, LeadStatus::Open, 1), now),
            Returning::Off
        );
    }
}
