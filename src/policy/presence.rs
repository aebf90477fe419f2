//! Rule conditions on what the preview found: `cascades = true|false`
//! (rows deleted or changed through `ON DELETE CASCADE` / `SET NULL` /
//! `SET DEFAULT`), `dangling = true|false` (rows left pointing at nothing
//! through an undeclared association), `warnings = true|false` (the
//! preview printed warnings). `true` requires presence, `false` absence.

use super::verdict::VerdictInput;

/// What a presence condition looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    Cascades,
    Dangling,
    Warnings,
}

impl Feature {
    pub fn key(self) -> &'static str {
        match self {
            Feature::Cascades => "cascades",
            Feature::Dangling => "dangling",
            Feature::Warnings => "warnings",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    pub feature: Feature,
    pub present: bool,
}

impl Presence {
    pub fn matches(&self, input: &VerdictInput) -> bool {
        let has = match self.feature {
            Feature::Cascades => input.has_cascades,
            Feature::Dangling => input.has_dangling,
            Feature::Warnings => input.has_warnings,
        };
        has == self.present
    }

    pub(crate) fn describe(&self) -> String {
        let what = match self.feature {
            Feature::Cascades => "cascades",
            Feature::Dangling => "dangling rows",
            Feature::Warnings => "warnings",
        };
        if self.present {
            format!("with {what}")
        } else {
            format!("without {what}")
        }
    }
}
