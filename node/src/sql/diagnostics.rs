//! The diagnostics area: the notes, warnings and errors the last statement
//! left, behind SHOW WARNINGS / SHOW ERRORS, `@@warning_count` /
//! `@@error_count` and the warning count of the OK packet. A statement
//! clears it when it starts, unless it only reads it.

use crate::mysql::SqlError;

/// MySQL's `max_error_count` default: messages kept; counts go on.
const MAX_KEPT: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Note,
    Warning,
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Note => "Note",
            Level::Warning => "Warning",
            Level::Error => "Error",
        }
    }
}

#[derive(Default)]
pub struct Diagnostics {
    kept: Vec<(Level, SqlError)>,
    /// Every condition raised, kept or not (MySQL's `warning_count`
    /// counts errors and notes too).
    count: usize,
    errors: usize,
}

impl Diagnostics {
    pub fn clear(&mut self) {
        self.kept.clear();
        self.count = 0;
        self.errors = 0;
    }

    pub fn push(&mut self, level: Level, e: SqlError) {
        self.count += 1;
        self.errors += usize::from(level == Level::Error);
        if self.kept.len() < MAX_KEPT {
            self.kept.push((level, e));
        }
    }

    pub fn warning_count(&self) -> usize {
        self.count
    }

    pub fn error_count(&self) -> usize {
        self.errors
    }

    /// SHOW WARNINGS rows (`Level`, `Code`, `Message`); SHOW ERRORS only
    /// the errors.
    pub fn rows(&self, errors_only: bool) -> Vec<Vec<Option<String>>> {
        self.kept
            .iter()
            .filter(|(level, _)| !errors_only || *level == Level::Error)
            .map(|(level, e)| {
                vec![
                    Some(level.name().to_string()),
                    Some(e.code.to_string()),
                    Some(e.message.clone()),
                ]
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_go_on_past_the_messages_kept() {
        let mut d = Diagnostics::default();
        d.push(
            Level::Note,
            SqlError::new(1051, "42S02", "Unknown table 'a.b'"),
        );
        for _ in 0..MAX_KEPT + 5 {
            d.push(
                Level::Warning,
                SqlError::new(1062, "23000", "Duplicate entry"),
            );
        }
        d.push(Level::Error, SqlError::new(1146, "42S02", "no table"));
        assert_eq!((d.warning_count(), d.error_count()), (MAX_KEPT + 7, 1));
        assert_eq!(d.rows(false).len(), MAX_KEPT);
        assert_eq!(
            d.rows(false)[0],
            [
                Some("Note".to_string()),
                Some("1051".to_string()),
                Some("Unknown table 'a.b'".to_string())
            ]
        );
        // The error came after the limit: counted, not kept.
        assert!(d.rows(true).is_empty());
        d.clear();
        assert_eq!((d.warning_count(), d.error_count()), (0, 0));
    }
}
