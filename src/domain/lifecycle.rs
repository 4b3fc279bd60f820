//! What acknowledging and closing may do to a lead: only an open lead can be acknowledged,
//! closing is allowed from anything but closed, and closed is final. Pure: storage applies the
//! transition under a condition on the status it read.

use super::model::LeadStatus;

/// A change of a lead's status asked for by its owner or an admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusAction {
    /// The owner took the lead: its SLA clock stops and it no longer counts as open.
    Acknowledge,
    /// The lead is finished.
    Close,
}

/// What an action does to a lead in a given status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The lead moves to this status.
    To(LeadStatus),
    /// The lead already has the status the action leads to.
    Unchanged,
    /// Not allowed from this status (acknowledging a queued or closed lead, reopening).
    NotAllowed,
}

/// The transition `action` makes from `from`.
pub fn transition(from: LeadStatus, action: StatusAction) -> Transition {
    let target = match action {
        StatusAction::Acknowledge => LeadStatus::Acknowledged,
        StatusAction::Close => LeadStatus::Closed,
    };
    match (from, action) {
        _ if from == target => Transition::Unchanged,
        (LeadStatus::Closed, _) => Transition::NotAllowed,
        (LeadStatus::Open, StatusAction::Acknowledge) | (_, StatusAction::Close) => {
            Transition::To(target)
        }
        (_, StatusAction::Acknowledge) => Transition::NotAllowed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LeadStatus::*;

    #[test]
    fn only_open_leads_can_be_acknowledged_and_closed_is_final() {
        let ack = |s| transition(s, StatusAction::Acknowledge);
        let close = |s| transition(s, StatusAction::Close);
        assert_eq!(ack(Open), Transition::To(Acknowledged));
        assert_eq!(ack(Acknowledged), Transition::Unchanged);
        for s in [Queued, Closed, Spam] {
            assert_eq!(ack(s), Transition::NotAllowed, "{s}");
        }
        for s in [Open, Acknowledged, Queued, Spam] {
            assert_eq!(close(s), Transition::To(Closed), "{s}");
        }
        assert_eq!(close(Closed), Transition::Unchanged);
    }
}
