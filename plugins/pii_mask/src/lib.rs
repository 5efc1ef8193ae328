//! Masks personal data in free text for risk-control tables:
//! `mask_phone(text)` hides the middle four digits of mainland mobile numbers
//! (138****5678), `mask_id_card(text)` the birth date and sequence of
//! 18-character resident ID numbers (110101********1234), and `mask_pii(text)`
//! does both. Digits that are part of a longer run of digits are left alone.

pub mod mask;

fn mask_phone(text: &str) -> String {
    mask::mask_phone(text)
}

fn mask_id_card(text: &str) -> String {
    mask::mask_id_card(text)
}

fn mask_pii(text: &str) -> String {
    mask::mask_pii(text)
}

floe_plugin::export! {
    scalar: [
        mask_phone(text: &str) -> String,
        mask_id_card(text: &str) -> String,
        mask_pii(text: &str) -> String,
    ],
}
