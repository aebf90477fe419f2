//! Whether a stored expression (a column default) is a constant, which a
//! preview may evaluate: a literal, maybe signed, maybe cast to a built-in
//! type. Anything else may call code (`nextval`, a function that writes
//! through `dblink`, a domain's CHECK), and a preview runs no code it has
//! not read, so such a default is reported as not checked instead.

use sqlparser::ast::{DataType, Expr, UnaryOperator};
use sqlparser::parser::Parser;

use crate::db::Engine;

/// Whether `text` is a constant expression for `engine`.
pub(crate) fn is_constant(engine: Engine, text: &str) -> bool {
    let dialect = super::dialect(engine);
    let Ok(mut parser) = Parser::new(dialect.as_ref()).try_with_sql(text) else {
        return false;
    };
    match parser.parse_expr() {
        Ok(expr) => {
            parser.peek_token().token == sqlparser::tokenizer::Token::EOF && constant(&expr)
        }
        Err(_) => false,
    }
}

fn constant(e: &Expr) -> bool {
    match e {
        Expr::Value(_) => true,
        Expr::Nested(inner) => constant(inner),
        Expr::UnaryOp {
            op: UnaryOperator::Minus | UnaryOperator::Plus,
            expr,
        } => constant(expr),
        // A domain (a custom type) runs its CHECKs on the cast.
        Expr::Cast {
            expr, data_type, ..
        } => !matches!(data_type, DataType::Custom(..)) && constant(expr),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_literals_and_their_casts_are_constants() {
        for text in [
            "3",
            "-1",
            "'a'::text",
            "(-1)",
            "'x'::character varying",
            "NULL",
            "true",
            "1.5",
        ] {
            assert!(is_constant(Engine::Postgres, text), "{text}");
        }
        for text in [
            "(side8())::integer",
            "nextval('s'::regclass)",
            "now()",
            "'5'::mydomain",
            "1 + f()",
            "(SELECT 1)",
            "CURRENT_TIMESTAMP",
            "3; DROP TABLE t",
        ] {
            assert!(!is_constant(Engine::Postgres, text), "{text}");
        }
        assert!(is_constant(Engine::Sqlite, "'abc'"));
        assert!(!is_constant(Engine::Sqlite, "random()"));
    }
}
