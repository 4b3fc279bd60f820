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
//!
//! Then what the lead said and how it was assigned ([`PACKED`]) are kept deflated, when that
//! is smaller and reads back exactly.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use super::attr::{deflated, inflated, n, value_size, Item};
use crate::store::{StoreError, StoreResult};

/// An attribute that can be derived from others of the same item: its path (names from the
/// item down) and how to derive it.
struct Derived {
    path: &'static [&'static str],
    from: fn(&Item) -> Option<AttributeValue>,
}

/// In the order they are left out; they are put back in the reverse order, so each is derived
/// from the same values both ways (what an entry reads is left out by no earlier entry, or
/// by one that is put back after it: the stint's start and number are derived from
/// `assigned_at` and `assignment_no` before those are left out, and after they are put back).
///
/// Every entry is either always present (so absent means left out) or absent exactly when
/// what it is derived from is (`stint.pool` and `pool_id`, `stint.due` and `sla_due_at`: a
/// reassignment sets or removes both together).
const DERIVED: [Derived; 17] = [
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
        from: |item| copy(item, &["facts", "company"]),
    },
    Derived {
        path: &["lead", "country"],
        from: |item| copy(item, &["facts", "country"]),
    },
    // The current stint is the current owner's: the log indexes project it and the owner's
    // attributes, not the assignment.
    Derived {
        path: &["stint", "at"],
        from: |item| copy(item, &["assigned_at"]).or_else(|| copy(item, &["received_at"])),
    },
    Derived {
        path: &["stint", "n"],
        from: |item| copy(item, &["assignment_no"]).or_else(|| Some(n(1))),
    },
    Derived {
        path: &["stint", "owner"],
        from: |item| copy(item, &["owner_id"]),
    },
    Derived {
        path: &["stint", "queue"],
        from: |item| {
            let queue = at(item, &["owner_kind"])?.as_s().ok()? == "queue";
            queue.then_some(AttributeValue::Bool(true))
        },
    },
    Derived {
        path: &["stint", "pool"],
        from: |item| copy(item, &["pool_id"]),
    },
    Derived {
        path: &["stint", "due"],
        from: |item| copy(item, &["sla_due_at"]),
    },
    // The assignment is read only from the lead's own item, which holds all of these.
    Derived {
        path: &["assignment", "owner", "id"],
        from: |item| copy(item, &["owner_id"]),
    },
    Derived {
        path: &["assignment", "owner", "kind"],
        from: |item| copy(item, &["owner_kind"]),
    },
    Derived {
        path: &["assignment", "rule_id"],
        from: |item| copy(item, &["rule_id"]),
    },
    Derived {
        path: &["assignment", "turn", "pool"],
        from: |item| copy(item, &["pool_id"]),
    },
    // The stint's eligible reps are the turn's, each with its weight.
    Derived {
        path: &["assignment", "turn", "eligible"],
        from: |item| {
            let reps = at(item, &["stint", "eligible"])?.as_l().ok()?;
            let names = reps
                .iter()
                .map(|rep| rep.as_l().ok()?.first().cloned())
                .collect::<Option<Vec<_>>>()?;
            (!names.is_empty()).then_some(AttributeValue::L(names))
        },
    },
    Derived {
        path: &["assignment", "config_version"],
        from: |item| copy(item, &["stint", "version"]),
    },
    // The first owner got it on arrival, as the first assignment.
    Derived {
        path: &["assigned_at"],
        from: |item| copy(item, &["received_at"]),
    },
    Derived {
        path: &["assignment_no"],
        from: |_| Some(n(1)),
    },
];

/// The maps a new lead's item keeps as deflated JSON (a binary value under the same name):
/// what the lead said and how it was first assigned. Each is written once (a reassignment
/// sets a new assignment, as a map) and read only whole, from the lead's own item: no index
/// projects them and no expression names what is in them. On a full demo-request form they
/// are about 1,300 bytes as maps and 800 deflated, which keeps the item under the 2 KB that
/// decide between 4 write units and 6 in the lead's transaction (DynamoDB's developer guide
/// suggests compressing large attribute values for the same reason).
const PACKED: [&str; 2] = ["lead", "assignment"];

/// `item` (a new lead's) without what the rest of it says, and its [`PACKED`] maps deflated
/// where that is smaller.
pub(super) fn compact(item: &mut Item) {
    for derived in &DERIVED {
        let said = at(item, derived.path)
            .is_some_and(|value| (derived.from)(item).as_ref() == Some(value));
        if said {
            remove(item, derived.path);
        }
    }
    for name in PACKED {
        if let Some(map @ AttributeValue::M(_)) = item.get(name) {
            if let Some(bytes) = packed(map) {
                item.insert(name.to_string(), AttributeValue::B(Blob::new(bytes)));
            }
        }
    }
}

/// `map` as deflated JSON, if that is smaller and reads back as exactly `map` (a number JSON
/// would write differently, say `1.50`, keeps the map as it is; so does anything JSON cannot
/// hold: packing never keeps a lead from being stored).
fn packed(map: &AttributeValue) -> Option<Vec<u8>> {
    let json: serde_json::Value = serde_dynamo::from_attribute_value(map.clone()).ok()?;
    let bytes = deflated(&serde_json::to_vec(&json).ok()?).ok()?;
    let smaller = bytes.len() < value_size(map);
    (smaller && unpacked(&bytes).ok().as_ref() == Some(map)).then_some(bytes)
}

/// What [`packed`] kept.
fn unpacked(bytes: &[u8]) -> Result<AttributeValue, String> {
    let json = inflated(bytes).map_err(|e| e.to_string())?;
    let value: serde_json::Value = serde_json::from_slice(&json).map_err(|e| e.to_string())?;
    serde_dynamo::to_attribute_value(value).map_err(|e| e.to_string())
}

/// A lead's item (or its row in a log index) with what [`compact`] left out put back and
/// its [`PACKED`] maps inflated.
pub(super) fn expand(item: &mut Item) -> StoreResult<()> {
    for name in PACKED {
        if let Some(AttributeValue::B(bytes)) = item.get(name) {
            let map = unpacked(bytes.as_ref())
                .map_err(|e| StoreError::Corrupt(format!("a lead's packed {name}: {e}")))?;
            item.insert(name.to_string(), map);
        }
    }
    for derived in DERIVED.iter().rev() {
        if at(item, derived.path).is_none() {
            if let Some(value) = (derived.from)(item) {
                insert(item, derived.path, value);
            }
        }
    }
    Ok(())
}

/// The value at `path`.
fn at<'a>(item: &'a Item, path: &[&str]) -> Option<&'a AttributeValue> {
    let (name, parents) = path.split_last()?;
    let mut map = item;
    for parent in parents {
        map = map.get(*parent)?.as_m().ok()?;
    }
    map.get(*name)
}

/// A copy of the value at `path`.
fn copy(item: &Item, path: &[&str]) -> Option<AttributeValue> {
    at(item, path).cloned()
}

/// The map that holds `path`'s last name, and that name: the item itself, or a map in it that
/// is there (a lead stored before stints were kept has none, and gets none; a lead's row in a
/// log index has no assignment).
fn holder<'a, 'p>(item: &'a mut Item, path: &[&'p str]) -> Option<(&'a mut Item, &'p str)> {
    let (name, parents) = path.split_last()?;
    let mut map = item;
    for parent in parents {
        match map.get_mut(*parent) {
            Some(AttributeValue::M(inner)) => map = inner,
            _ => return None,
        }
    }
    Some((map, name))
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
            ("owner_id".to_string(), s("r1")),
            ("owner_kind".to_string(), s("rep")),
            ("pool_id".to_string(), s("smb")),
            ("rule_id".to_string(), s("small")),
            ("sla_due_at".to_string(), s("2026-12-02T10:15:00Z")),
            (
                "assignment".to_string(),
                map(&[
                    (
                        "owner",
                        map(&[("id", s("r1")), ("kind", s("rep")), ("name", s("Ro"))]),
                    ),
                    ("rule_id", s("small")),
                    ("config_version", n(3)),
                    (
                        "turn",
                        map(&[
                            ("pool", s("smb")),
                            ("turn", n(7)),
                            ("eligible", AttributeValue::L(vec![s("r1"), s("r2")])),
                        ]),
                    ),
                ]),
            ),
            (
                "stint".to_string(),
                map(&[
                    ("n", n(1)),
                    ("at", s(assigned)),
                    ("owner", s("r1")),
                    ("pool", s("smb")),
                    ("version", n(3)),
                    ("due", s("2026-12-02T10:15:00Z")),
                    (
                        "eligible",
                        AttributeValue::L(vec![
                            AttributeValue::L(vec![s("r1"), n(1)]),
                            AttributeValue::L(vec![s("r2"), n(2)]),
                        ]),
                    ),
                ]),
            ),
        ])
    }

    /// The names of a map at `path`, sorted.
    fn names(item: &Item, path: &[&str]) -> Vec<String> {
        let mut names: Vec<_> = at(item, path)
            .unwrap()
            .as_m()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }

    /// `whole` as a new lead's item is stored, after checking that it reads back as `whole`.
    fn stored(whole: &Item) -> Item {
        let mut item = whole.clone();
        compact(&mut item);
        let mut back = item.clone();
        expand(&mut back).unwrap();
        assert_eq!(&back, whole);
        item
    }

    /// A new lead's item with a full form and an overflowed assignment.
    fn form() -> Item {
        with_a_form(lead_item("2026-12-02T10:00:00Z", "2026-12-02T10:00:00Z"))
    }

    #[test]
    fn a_new_lead_leaves_out_what_its_item_says_and_reads_back_the_same() {
        let whole = lead_item("2026-12-02T10:00:00Z", "2026-12-02T10:00:00Z");
        let item = stored(&whole);
        for gone in ["assigned_at", "assignment_no"] {
            assert!(!item.contains_key(gone), "{gone} was kept");
        }
        assert_eq!(names(&item, &["lead"]), ["first_name"]);
        // The stint keeps what only it says; the assignment what neither the owner's
        // attributes nor the stint say.
        assert_eq!(names(&item, &["stint"]), ["eligible", "version"]);
        assert_eq!(names(&item, &["assignment"]), ["owner", "turn"]);
        assert_eq!(names(&item, &["assignment", "owner"]), ["name"]);
        assert_eq!(names(&item, &["assignment", "turn"]), ["turn"]);
        assert_eq!(item["facts"], whole["facts"]);
    }

    #[test]
    fn a_queued_leads_stint_says_queue_and_a_log_row_gets_its_stint_back_whole() {
        let mut whole = lead_item("2026-12-02T10:00:00Z", "2026-12-02T10:00:00Z");
        for name in ["pool_id", "rule_id", "sla_due_at"] {
            whole.remove(name);
        }
        whole.insert("owner_id".into(), s("unrouted"));
        whole.insert("owner_kind".into(), s("queue"));
        whole.insert(
            "assignment".into(),
            map(&[("owner", map(&[("id", s("unrouted")), ("kind", s("queue"))]))]),
        );
        whole.insert(
            "stint".into(),
            map(&[
                ("n", n(1)),
                ("at", s("2026-12-02T10:00:00Z")),
                ("owner", s("unrouted")),
                ("queue", AttributeValue::Bool(true)),
            ]),
        );
        let item = stored(&whole);
        assert!(item["stint"].as_m().unwrap().is_empty());
        let mut row = item;
        // The log indexes project the stint and the owner's attributes, not the assignment.
        row.remove("assignment");
        expand(&mut row).unwrap();
        assert_eq!(row["stint"], whole["stint"]);
        assert!(!row.contains_key("assignment"));
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
        let item = stored(&whole);
        assert_eq!(item["assigned_at"], whole["assigned_at"]);
        assert_eq!(item["assignment_no"], n(2));
        let lead = item["lead"].as_m().unwrap();
        assert!(lead.contains_key("email") && lead.contains_key("company"));
        assert!(!lead.contains_key("country"));
        // The stint began at the assignment, which is kept, so the stint need not say it.
        assert!(!item["stint"].as_m().unwrap().contains_key("at"));
    }

    #[test]
    fn an_item_written_whole_reads_as_it_is() {
        // A lead stored before items were compact, or updated since: nothing is overwritten,
        // and a lead without a stint gets none.
        let mut whole = lead_item("2026-12-02T10:00:00Z", "2026-12-02T10:00:00Z");
        whole.remove("stint");
        let mut item = whole.clone();
        expand(&mut item).unwrap();
        assert_eq!(item, whole);
    }

    /// `item` with a full demo-request form's fields in its lead and an overflow's skipped
    /// reps in its assignment.
    fn with_a_form(mut item: Item) -> Item {
        let message = "We are evaluating lead routing for a team of twelve reps across two \
            regions. Could we see a demo next week, ideally Tuesday or Wednesday?";
        if let Some(AttributeValue::M(lead)) = item.get_mut("lead") {
            for (name, value) in [
                ("last_name", "Lee"),
                ("title", "Head of Revenue Operations"),
                ("phone", "+12125550100"),
                ("message", message),
            ] {
                lead.insert(name.into(), s(value));
            }
            lead.insert("employees".into(), map(&[("min", n(12)), ("max", n(12))]));
        }
        if let Some(AttributeValue::M(assignment)) = item.get_mut("assignment") {
            let skipped = ["sam", "sara", "sol", "sky"].map(|rep| {
                map(&[
                    ("rep", s(rep)),
                    ("pool", s("smb")),
                    ("reason", map(&[("kind", s("at_cap")), ("limit", n(40))])),
                ])
            });
            assignment.insert("skipped".into(), AttributeValue::L(skipped.to_vec()));
            assignment.insert(
                "reason".into(),
                s(
                    "Rule 'smb' (#10) matched because employees < 50 (was 12); nobody in pool \
                   'SMB team' could take it, so it overflowed; assigned to Ro by round robin.",
                ),
            );
        }
        item
    }

    #[test]
    fn a_forms_lead_and_assignment_are_kept_deflated_and_read_back_exactly() {
        let whole = form();
        let item = stored(&whole);
        for name in PACKED {
            let AttributeValue::B(bytes) = &item[name] else {
                panic!("{name} was not packed: {:?}", item[name]);
            };
            assert!(bytes.as_ref().len() < value_size(&whole[name]));
        }
        assert_eq!(item["facts"], whole["facts"]);
        assert_eq!(item["stint"].as_m().unwrap().len(), 2);
    }

    #[test]
    fn a_map_json_would_not_give_back_exactly_stays_a_map() {
        let mut whole = form();
        if let Some(AttributeValue::M(lead)) = whole.get_mut("lead") {
            lead.insert("budget".into(), AttributeValue::N("1.50".into()));
        }
        let item = stored(&whole);
        assert!(item["lead"].as_m().is_ok(), "the lead was packed");
        assert!(matches!(item["assignment"], AttributeValue::B(_)));
    }

    #[test]
    fn a_map_json_cannot_hold_stays_a_map_and_the_lead_is_still_written() {
        let mut whole = form();
        if let Some(AttributeValue::M(lead)) = whole.get_mut("lead") {
            lead.insert(
                "raw".into(),
                AttributeValue::B(Blob::new(vec![0, 159, 146, 150])),
            );
        }
        if let Some(AttributeValue::M(assignment)) = whole.get_mut("assignment") {
            let tags = vec!["a".to_string(), "b".to_string()];
            assignment.insert("tags".into(), AttributeValue::Ss(tags));
        }
        let item = stored(&whole);
        for name in PACKED {
            assert!(item[name].as_m().is_ok(), "{name} was packed");
        }
    }

    #[test]
    fn a_reassignments_map_replaces_the_packed_assignment_and_a_corrupt_one_is_an_error() {
        let mut item = form();
        compact(&mut item);
        let mut corrupt = item.clone();
        let again = map(&[("owner", map(&[("id", s("r2")), ("kind", s("rep"))]))]);
        item.insert("assignment".into(), again.clone());
        expand(&mut item).unwrap();
        // The new assignment, with what the item's attributes say put back; nothing of the
        // packed one.
        assert_eq!(
            at(&item, &["assignment", "owner"]),
            again.as_m().unwrap().get("owner")
        );
        assert!(at(&item, &["assignment", "skipped"]).is_none());
        assert!(item["lead"].as_m().unwrap().contains_key("message"));
        corrupt.insert(
            "lead".into(),
            AttributeValue::B(Blob::new(b"not deflate".to_vec())),
        );
        let error = expand(&mut corrupt).unwrap_err();
        assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}");
    }
}
