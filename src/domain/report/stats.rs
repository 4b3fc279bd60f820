//! Medians and 90th percentiles, by nearest rank: the p-th percentile of n values is the value
//! at rank ceil(p/100 * n) in ascending order, so every figure is one of the measured values
//! and can be checked by hand.

use serde::Serialize;

/// Durations measured for one stage of speed to lead, in wall time and in the owner's
/// working time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples {
    wall: Vec<i64>,
    working: Vec<i64>,
}

impl Samples {
    /// Adds one measurement (seconds or milliseconds, as the stage counts them).
    pub fn add(&mut self, wall: i64, working: Option<i64>) {
        self.wall.push(wall);
        if let Some(working) = working {
            self.working.push(working);
        }
    }

    /// Median and p90 of what was added.
    pub fn summary(&self) -> Stage {
        Stage {
            count: self.wall.len(),
            median: percentile(&self.wall, 50),
            p90: percentile(&self.wall, 90),
            working_median: percentile(&self.working, 50),
            working_p90: percentile(&self.working, 90),
        }
    }
}

/// One stage of speed to lead.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stage {
    /// How many leads reached the stage.
    pub count: usize,
    /// Median, wall time.
    pub median: Option<i64>,
    /// 90th percentile, wall time.
    pub p90: Option<i64>,
    /// Median in the owner's working time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_median: Option<i64>,
    /// 90th percentile in the owner's working time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_p90: Option<i64>,
}

/// The `p`-th percentile of `values` by nearest rank; `None` for no values.
pub fn percentile(values: &[i64], p: usize) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

/// `part / whole`, rounded to four decimals; `None` when `whole` is zero.
pub fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| round(part as f64 / whole as f64, 4))
}

/// `value` rounded to `decimals` places.
pub fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_are_measured_values() {
        let v = [30, 10, 20, 40, 50, 60, 70, 80, 90, 100];
        assert_eq!(percentile(&v, 50), Some(50));
        assert_eq!(percentile(&v, 90), Some(90));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[1, 2, 3], 50), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 50), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 90), Some(4));
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(share(1, 3), Some(0.3333));
        assert_eq!(share(1, 0), None);
    }
}
