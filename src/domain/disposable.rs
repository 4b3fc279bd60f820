//! Disposable (temp-mail) domains: a binary search over the sorted list as one text
//! (`data/disposable-domains.txt`, one domain per line). Kept as text rather than a slice of
//! string references, the 77,000 domains need no relocations when the binary loads and no
//! work before the first lookup.

/// The list: lower case, sorted by bytes, one per line, each line ending in `\n`.
const LIST: &str = include_str!("../../data/disposable-domains.txt");

/// Whether `domain` is a known disposable domain (case-insensitive; one trailing `.`
/// allowed; subdomains are not walked).
pub fn is_disposable_domain(domain: &str) -> bool {
    let wanted = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    !wanted.is_empty() && contains(LIST, &wanted)
}

/// Binary search of `list` (sorted lines, each ending in `\n`) for the line `wanted`: halve
/// the byte range, and compare the line that starts at or after the middle.
fn contains(list: &str, wanted: &str) -> bool {
    let bytes = list.as_bytes();
    let (mut low, mut high) = (0, bytes.len());
    while low < high {
        let middle = low + (high - low) / 2;
        // The start of the line holding `middle`, never before `low` (a line start).
        let start = bytes[low..middle]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(low, |i| low + i + 1);
        let end = start
            + bytes[start..]
                .iter()
                .position(|&b| b == b'\n')
                .unwrap_or(bytes.len() - start);
        match list[start..end].cmp(wanted) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => low = end + 1,
            std::cmp::Ordering::Greater => high = start,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_unique_and_lower_case() {
        let lines: Vec<&str> = LIST.lines().collect();
        assert!(lines.len() > 70_000, "{}", lines.len());
        assert!(LIST.ends_with('\n'));
        for pair in lines.windows(2) {
            assert!(pair[0] < pair[1], "{pair:?}");
        }
        assert!(lines
            .iter()
            .all(|d| !d.is_empty() && *d == d.to_ascii_lowercase()));
    }

    #[test]
    fn every_listed_domain_is_found_and_its_neighbours_are_not() {
        let all: std::collections::HashSet<&str> = LIST.lines().collect();
        for domain in LIST.lines() {
            assert!(is_disposable_domain(domain), "{domain}");
            assert!(disposable_emails::is_disposable_domain(domain), "{domain}");
            for near in [
                format!("{domain}x"),
                domain[1..].to_string(),
                format!("a{domain}"),
            ] {
                assert_eq!(contains(LIST, &near), all.contains(near.as_str()), "{near}");
            }
        }
    }

    #[test]
    fn it_agrees_with_the_crate_it_came_from() {
        for domain in [
            "mailinator.com",
            "Mailinator.COM.",
            "guerrillamail.com",
            "10minutemail.com",
            "gmail.com",
            "acme.com",
            "spider.cloud",
            "",
            "a",
            "zzzzzz.zz",
            "0-00.usa.cc",
        ] {
            assert_eq!(
                is_disposable_domain(domain),
                disposable_emails::is_disposable_domain(domain),
                "{domain}"
            );
        }
    }

    #[test]
    fn edges_of_the_list() {
        let first = LIST.lines().next().unwrap();
        let last = LIST.lines().last().unwrap();
        assert!(contains(LIST, first) && contains(LIST, last));
        assert!(!contains(LIST, "0"));
        assert!(!contains(LIST, "~"));
        assert!(contains("a\nb\nc\n", "b") && !contains("a\nb\nc\n", "bb"));
        assert!(!contains("", "a"));
    }
}
