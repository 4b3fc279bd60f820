//! Measuring routing: the compact row every lead keeps for the lead log and the report
//! ([`row`]), and the figures computed from those rows.

pub mod row;
