//! Charts drawn on the server as SVG: bars of one series (leads per day) and pairs of bars
//! (each rep's entitled share against what they got). Labelled for screen readers with a
//! title and a description; the numbers are also in the tables next to them.

use std::fmt::Write;

/// Escapes text for SVG.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A bar chart of `bars` (label, value), titled `title`.
pub fn bars(title: &str, bars: &[(String, f64)]) -> String {
    let (w, h, left, bottom) = (640.0, 200.0, 36.0, 36.0);
    let max = bars.iter().map(|(_, v)| *v).fold(1.0, f64::max);
    let n = bars.len().max(1) as f64;
    let slot = (w - left) / n;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="t-{id}"><title id="t-{id}">{t}</title>"#,
        id = anchor(title),
        t = esc(title)
    );
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{y}" x2="{w}" y2="{y}" stroke="#b8c0cc"/>"##,
        y = h - bottom
    );
    let _ = write!(
        svg,
        r#"<text x="{}" y="12" text-anchor="end">{}</text>"#,
        left - 4.0,
        fmt(max)
    );
    let every = (bars.len() / 10).max(1);
    for (i, (label, value)) in bars.iter().enumerate() {
        let height = (h - bottom - 16.0) * value / max;
        let x = left + slot * i as f64 + slot * 0.15;
        let y = h - bottom - height;
        let _ = write!(
            svg,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{height:.1}" fill="#2456c7"><title>{l}: {v}</title></rect>"##,
            bw = slot * 0.7,
            l = esc(label),
            v = fmt(*value)
        );
        if i % every == 0 {
            let _ = write!(
                svg,
                r#"<text x="{cx:.1}" y="{ty}" text-anchor="middle">{l}</text>"#,
                cx = x + slot * 0.35,
                ty = h - bottom + 14.0,
                l = esc(label)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Pairs of bars per label: `(label, entitled, actual)`, for the fairness ledger.
pub fn pairs(title: &str, rows: &[(String, f64, f64)]) -> String {
    let (w, left, row_h) = (640.0, 90.0, 34.0);
    let h = 24.0 + row_h * rows.len().max(1) as f64;
    let max = rows
        .iter()
        .flat_map(|(_, a, b)| [*a, *b])
        .fold(1.0, f64::max);
    let scale = (w - left - 60.0) / max;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="t-{id}"><title id="t-{id}">{t}</title>"#,
        id = anchor(title),
        t = esc(title)
    );
    for (i, (label, entitled, actual)) in rows.iter().enumerate() {
        let y = 12.0 + row_h * i as f64;
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            left - 6.0,
            y + 17.0,
            esc(label)
        );
        for (j, (value, color, what)) in [
            (*entitled, "#9fb3e0", "entitled"),
            (*actual, "#2456c7", "actual"),
        ]
        .into_iter()
        .enumerate()
        {
            let by = y + 2.0 + 13.0 * j as f64;
            let bw = (value * scale).max(1.0);
            let _ = write!(
                svg,
                r#"<rect x="{left}" y="{by}" width="{bw:.1}" height="11" fill="{color}"><title>{l} {what}: {v}</title></rect><text x="{tx:.1}" y="{ty}">{v}</text>"#,
                l = esc(label),
                v = fmt(value),
                tx = left + bw + 4.0,
                ty = by + 10.0
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn fmt(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn anchor(title: &str) -> String {
    title
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_their_values_and_escaped_labels() {
        let svg = bars(
            "Leads <per> day",
            &[("11-24".into(), 3.0), ("11-25".into(), 0.0)],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("Leads &lt;per&gt; day"));
        assert!(svg.contains("11-24: 3"));
        let svg = pairs("Fairness", &[("Ann & Co".into(), 3.5, 3.0)]);
        assert!(svg.contains("Ann &amp; Co entitled: 3.50"));
        assert!(svg.contains("Ann &amp; Co actual: 3"));
    }
}
