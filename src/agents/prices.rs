//! Built-in price table (USD per million tokens) for runs whose agent reports tokens but no
//! cost. Figures are list prices and are marked "estimated" wherever they are used.

/// `(model name prefix, input, output, cache read, cache write)` in USD per million tokens.
const PRICES: &[(&str, f64, f64, f64, f64)] = &[
    ("claude-opus", 15.0, 75.0, 1.5, 18.75),
    ("opus", 15.0, 75.0, 1.5, 18.75),
    ("claude-sonnet", 3.0, 15.0, 0.3, 3.75),
    ("sonnet", 3.0, 15.0, 0.3, 3.75),
    ("claude-haiku", 1.0, 5.0, 0.1, 1.25),
    ("haiku", 1.0, 5.0, 0.1, 1.25),
    ("gpt-5", 1.25, 10.0, 0.125, 0.0),
    ("o3", 2.0, 8.0, 0.5, 0.0),
    ("gpt-4.1", 2.0, 8.0, 0.5, 0.0),
    ("gemini-2.5-pro", 1.25, 10.0, 0.31, 0.0),
    ("gemini-2.5-flash", 0.3, 2.5, 0.075, 0.0),
];

/// The estimated cost of a run, if the model is in the table.
pub fn estimate_usd(
    model: &str,
    input: u64,
    output: u64,
    cache_read: u64,
    cache_write: u64,
) -> Option<f64> {
    let m = model.to_ascii_lowercase();
    let (_, i, o, cr, cw) = PRICES
        .iter()
        .find(|p| m.starts_with(p.0) || m.contains(p.0))?;
    let per = |n: u64, price: f64| n as f64 * price / 1e6;
    Some(per(input, *i) + per(output, *o) + per(cache_read, *cr) + per(cache_write, *cw))
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_models_are_priced_and_unknown_ones_are_not() {
        let usd =
            super::estimate_usd("claude-sonnet-4-5", 1_000_000, 100_000, 0, 0).expect("priced");
        assert!((usd - 4.5).abs() < 1e-9);
        assert!(super::estimate_usd("mystery-model", 1, 1, 0, 0).is_none());
    }
}
