//! The masking rules, plain Rust with no dependencies (the benchmark
//! compiles the same code natively).

fn is_digit(b: u8) -> bool {
    b.is_ascii_digit()
}

/// Length of the run of ID-card characters (digits, with an X allowed last) at `i`.
fn id_run(s: &[u8], i: usize) -> usize {
    let digits = s[i..].iter().take_while(|b| is_digit(**b)).count();
    if digits == 17 && matches!(s.get(i + 17), Some(b'X' | b'x')) {
        18
    } else {
        digits
    }
}

/// Rewrites every maximal digit run for which `mask` returns a replacement.
fn rewrite(text: &str, mask: impl Fn(&[u8]) -> Option<Vec<u8>>) -> String {
    let s = text.as_bytes();
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if is_digit(s[i]) && (i == 0 || !is_digit(s[i - 1])) {
            let n = id_run(s, i);
            match mask(&s[i..i + n]) {
                Some(masked) => out.extend_from_slice(&masked),
                None => out.extend_from_slice(&s[i..i + n]),
            }
            i += n;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    // Only ASCII digits were replaced by ASCII, so the text stays UTF-8.
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

fn phone(run: &[u8]) -> Option<Vec<u8>> {
    let mobile = run.len() == 11 && run[0] == b'1' && (b'3'..=b'9').contains(&run[1]);
    mobile.then(|| [&run[..3], b"****", &run[7..]].concat())
}

fn id_card(run: &[u8]) -> Option<Vec<u8>> {
    (run.len() == 18).then(|| [&run[..6], b"********", &run[14..]].concat())
}

pub fn mask_phone(text: &str) -> String {
    rewrite(text, phone)
}

pub fn mask_id_card(text: &str) -> String {
    rewrite(text, id_card)
}

pub fn mask_pii(text: &str) -> String {
    rewrite(text, |run| phone(run).or_else(|| id_card(run)))
}
