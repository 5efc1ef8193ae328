//! Fuzzy brand names for ad monitoring: the same advertiser appears as
//! "Coca-Cola", "COCA COLA", "可口可乐 " or "Coca Cola（中国）".
//! `brand_key(name)` normalizes a name (case, full-width forms, spaces and
//! punctuation, bracketed suffixes); `brand_similarity(a, b)` is 1 minus the
//! edit distance of the keys over the longer key's length, in characters;
//! `brand_match(a, b, threshold)` compares it with a threshold.

/// Full-width ASCII forms (U+FF01..U+FF5E) to their ASCII counterparts.
fn half_width(c: char) -> char {
    match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    }
}

fn brand_key(name: &str) -> String {
    let mut key = String::with_capacity(name.len());
    let mut depth = 0u32;
    for c in name.chars().map(half_width) {
        match c {
            '(' | '[' | '【' | '《' => depth += 1,
            ')' | ']' | '】' | '》' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            c if c.is_alphanumeric() => key.extend(c.to_lowercase()),
            _ => {}
        }
    }
    key
}

/// Levenshtein distance over characters, in O(len(b)) memory.
fn distance(a: &[char], b: &[char]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

fn brand_similarity(a: &str, b: &str) -> f64 {
    let a: Vec<char> = brand_key(a).chars().collect();
    let b: Vec<char> = brand_key(b).chars().collect();
    let longest = a.len().max(b.len());
    if longest == 0 {
        return 1.0;
    }
    1.0 - distance(&a, &b) as f64 / longest as f64
}

fn brand_match(a: &str, b: &str, threshold: f64) -> bool {
    brand_similarity(a, b) >= threshold
}

floe_plugin::export! {
    scalar: [
        brand_key(name: &str) -> String,
        brand_similarity(a: &str, b: &str) -> f64,
        brand_match(a: &str, b: &str, threshold: f64) -> bool,
    ],
}
