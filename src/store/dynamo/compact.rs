//! What a new lead's item leaves out because the same item already says it, and puts back when
//! it is read. A transactional write costs 2 units per KB of the item, so on a lead that carries
//! little (an email, a name, a company: a chat or an API integration) these few hundred bytes
//! decide between 2 units and 4.
//!
//! Lossless by construction: an attribute is left out only when putting it back from the rest
//! of the item gives exactly the value it had, and putting back fills only what is missing.
//! Only a new lead's item is written compact; an update that sets one of these attributes
//! (a reassignment sets `assigned_at`, `assignment_no` and the stint) writes it whole, and
//! what is there is never overwritten on reading.

use aws_sdk_dynamodb::types::AttributeValue;

use super::attr::{n, Item};

/// An attribute that can be derived from others of the same item: its path (one or two names
/// deep) and how to derive it.
struct Derived {
    path: &'static [&'static str],
    from: fn(&Item) -> Option<AttributeValue>,
}

/// In the order they are left out; they are put back in the reverse order, so each is derived
/// from the same values both ways (the stint's start from `assigned_at` before `assigned_at`
/// itself is left out, and after it is put back).
const DERIVED: [Derived; 6] = [
    // The log indexes project the facts rather than the lead, so the lead's own email,
    // company and country are the copies to drop.
    Derived {
        path: &["lead", "email"],
        from: |item| {
            let address = at(item, &["facts", "email"])?.as_s().ok()?;
            let (_, domain) = address.rsplit_once('@')?;
            Some(AttributeValue::M(Item::from([
                ("address".to_string(), AttributeValue::S(address.clone())),
                ("domain".to_string(), AttributeValue::S(domain.to_string())),
            ])))
        },
    },
    Derived {
        path: &["lead", "company"],
        from: |item| at(item, &["facts", "company"]).cloned(),
    },
    Derived {
        path: &["lead", "country"],
        from: |item| at(item, &["facts", "country"]).cloned(),
    },
    // The current stint began when its owner got the lead.
    Derived {
        path: &["stint", "at"],
        from: |item| {
            at(item, &["assigned_at"])
                .or_else(|| at(item, &["received_at"]))
                .cloned()
        },
    },
    // The first owner got it on arrival, as the first assignment.
    Derived {
        path: &["assigned_at"],
        from: |item| at(item, &["received_at"]).cloned(),
    },
    Derived {
        path: &["assignment_no"],
        from: |_| Some(n(1)),
    },
];

/// `item` (a new lead's) without what the rest of it says.
pub(super) fn compact(item: &mut Item) {
    for derived in &DERIVED {
        let said = at(item, derived.path)
            .is_some_and(|value| (derived.from)(item).as_ref() == Some(value));
        if said {
            remove(item, derived.path);
        }
    }
}

/// A lead's item (or its row in a log index) with what [`compact`] left out put back.
pub(super) fn expand(item: &mut Item) {
    for derived in DERIVED.iter().rev() {
        if at(item, derived.path).is_none() {
            if let Some(value) = (derived.from)(item) {
                insert(item, derived.path, value);
            }
        }
    }
}

/// The value at `path`.
fn at<'a>(item: &'a Item, path: &[&str]) -> Option<&'a AttributeValue> {
    match path {
        [name] => item.get(*name),
        [parent, name] => item.get(*parent)?.as_m().ok()?.get(*name),
        _ => None,
    }
}

/// The map that holds `path`'s last name, and that name: the item itself, or a map in it that
/// is there (a lead stored before stints were kept has none, and gets none).
fn holder<'a, 'p>(item: &'a mut Item, path: &[&'p str]) -> Option<(&'a mut Item, &'p str)> {
    match path {
        [name] => Some((item, name)),
        [parent, name] => match item.get_mut(*parent) {
            Some(AttributeValue::M(map)) => Some((map, name)),
            _ => None,
        },
        _ => None,
    }
}

fn remove(item: &mut Item, path: &[&str]) {
    if let Some((map, name)) = holder(item, path) {
        map.remove(name);
    }
}

fn insert(item: &mut Item, path: &[&str], value: AttributeValue) {
    if let Some((map, name)) = holder(item, path) {
        map.insert(name.to_string(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dynamo::attr::s;

    fn map(entries: &[(&str, AttributeValue)]) -> AttributeValue {
        AttributeValue::M(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    /// A new lead's item as the encoder writes it, arriving at `received` and assigned at
    /// `assigned`.
    fn lead_item(received: &str, assigned: &str) -> Item {
        let email = map(&[("address", s("pat@acme.com")), ("domain", s("acme.com"))]);
        Item::from([
            ("received_at".to_string(), s(received)),
            ("assigned_at".to_string(), s(assigned)),
            ("assignment_no".to_string(), n(1)),
            (
                "lead".to_string(),
                map(&[
                    ("email", email),
                    ("company", s("Acme")),
                    ("country", s("US")),
                    ("first_name", s("Pat")),
                ]),
            ),
            (
                "facts".to_string(),
                map(&[
                    ("email", s("pat@acme.com")),
                    ("company", s("Acme")),
                    ("country", s("US")),
                    ("name", s("Pat")),
                ]),
            ),
            (
                "stint".to_string(),
                map(&[("n", n(1)), ("at", s(assigned)), ("owner", s("r1"))]),
            ),
        ])
    }

    #[test]
    fn a_new_lead_leaves_out_what_its_item_says_and_reads_back_the_same() {
        let whole = lead_item("2026-12-02T10:00:00Z", "2026-12-02T10:00:00Z");
        let mut item = whole.clone();
        compact(&mut item);
        for gone in ["assigned_at", "assignment_no"] {
            assert!(!item.contains_key(gone), "{gone} was kept");
        }
        let lead = item["lead"].as_m().unwrap();
        assert_eq!(lead.keys().collect::<Vec<_>>(), ["first_name"]);
        assert!(!item["stint"].as_m().unwrap().contains_key("at"));
        assert_eq!(item["facts"], whole["facts"]);
        expand(&mut item);
        assert_eq!(item, whole);
    }

    #[test]
    fn what_the_rest_of_the_item_does_not_say_is_kept() {
        // Assigned a moment after arrival; a company that differs from the facts'; an email
        // the facts do not have.
        let mut whole = lead_item("2026-12-02T10:00:00Z", "2026-12-02T10:00:05Z");
        if let Some(AttributeValue::M(facts)) = whole.get_mut("facts") {
            facts.insert("company".into(), s("ACME Inc"));
            facts.remove("email");
        }
        whole.insert("assignment_no".into(), n(2));
        let mut item = whole.clone();
        compact(&mut item);
        assert_eq!(item["assigned_at"], whole["assigned_at"]);
        assert_eq!(item["assignment_no"], n(2));
        let lead = item["lead"].as_m().unwrap();
        assert!(lead.contains_key("email") && lead.contains_key("company"));
        assert!(!lead.contains_key("country"));
        // The stint began at the assignment, which is kept, so the stint need not say it.
        assert!(!item["stint"].as_m().unwrap().contains_key("at"));
        expand(&mut item);
        assert_eq!(item, whole);
    }

    #[test]
    fn an_item_written_whole_reads_as_it_is() {
        // A lead stored before items were compact, or updated since: nothing is overwritten,
        // and a lead without a stint gets none.
        let mut whole = lead_item("2026-12-02T10:00:00Z", "2026-12-02T10:00:00Z");
        whole.remove("stint");
        let mut item = whole.clone();
        expand(&mut item);
        assert_eq!(item, whole);
    }
}
