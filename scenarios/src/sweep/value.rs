//! A sweep value, written in RON as in a scenario file, turned into the JSON
//! form that serde gives the scenario ([`serde_json::Value`]).
//!
//! RON's own untyped values cannot be used: they drop enum variant names
//! (`Bernoulli(p: 0.02)` would lose `Bernoulli`, a unit variant like `Line`
//! would become `()`). The conversion follows serde's externally tagged
//! encoding:
//!
//! | RON | JSON |
//! |---|---|
//! | `4`, `0.02`, `true`, `"8ms"`, `'c'` | the same scalar |
//! | `[a, b]`, `(a, b)`, `(a,)` | `[a, b]`, `[a]` |
//! | `(a)` (a newtype) | `a` |
//! | `(d: 6, d_low: 4)` | `{"d": 6, "d_low": 4}` |
//! | `{"phone": x}` | `{"phone": x}` |
//! | `Line` (a unit variant) | `"Line"` |
//! | `Constant("5ms")` | `{"Constant": "5ms"}` |
//! | `Bernoulli(p: 0.02)` | `{"Bernoulli": {"p": 0.02}}` |
//! | `Ping()` | `{"Ping": {}}` |
//! | `At("1s", Heal)` | `{"At": ["1s", "Heal"]}` |
//! | `Some(x)`, `None` | `x`, `null` |
//!
//! So a name before parentheses is always an enum variant: sweep values do
//! not name structs (write `(latency: …)`, not `LinkConfig(latency: …)`),
//! which scenario files never need to either.

use serde_json::{Map, Number, Value};

/// A value converted: its JSON, and the first number written in it (where
/// a sweep chart places it: `Bernoulli(p: 0.02)` sits at 0.02).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Converted {
    /// The value as serde's JSON form.
    pub json: Value,
    /// The first number in the text, if any.
    pub first_number: Option<f64>,
}

/// Converts one RON value (already known to be valid RON).
pub(crate) fn to_json(ron: &str) -> Result<Converted, String> {
    let mut p = Parser {
        s: ron,
        i: 0,
        first_number: None,
    };
    let json = p.value()?;
    p.ws();
    if p.i < p.s.len() {
        return Err(p.unexpected("the end of the value"));
    }
    Ok(Converted {
        json,
        first_number: p.first_number,
    })
}

/// What a pair of parentheses held.
enum Parens {
    /// `(a: 1, b: 2)`.
    Named(Map<String, Value>),
    /// `(a, b)`; `trailing` is whether a comma came last (`(a,)`).
    Unnamed { items: Vec<Value>, trailing: bool },
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
    first_number: Option<f64>,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.s[self.i..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += c.len_utf8();
        Some(c)
    }

    fn unexpected(&self, expected: &str) -> String {
        match self.peek() {
            Some(c) => format!("expected {expected}, found `{c}`"),
            None => format!("expected {expected}, found the end of the value"),
        }
    }

    /// Skips whitespace and comments (`// …`, nested `/* … */`).
    fn ws(&mut self) {
        loop {
            let rest = self.rest();
            self.i += rest.len() - rest.trim_start().len();
            if self.rest().starts_with("//") {
                self.i += self.rest().find('\n').unwrap_or(self.rest().len());
            } else if self.rest().starts_with("/*") {
                let mut depth = 0usize;
                while !self.rest().is_empty() {
                    if self.rest().starts_with("/*") {
                        depth += 1;
                        self.i += 2;
                    } else if self.rest().starts_with("*/") {
                        depth -= 1;
                        self.i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        self.bump();
                    }
                }
            } else {
                return;
            }
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.ws();
        if self.peek() == Some(c) {
            self.i += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("`{c}`")))
        }
    }

    fn ident(&mut self) -> Option<&str> {
        let start = self.i;
        let rest = self.rest();
        let rest = rest.strip_prefix("r#").unwrap_or(rest);
        let skipped = self.rest().len() - rest.len();
        let len = rest
            .char_indices()
            .find(|&(k, c)| !(c == '_' || c.is_ascii_alphabetic() || (k > 0 && c.is_ascii_digit())))
            .map_or(rest.len(), |(k, _)| k);
        if len == 0 {
            return None;
        }
        self.i += skipped + len;
        Some(&self.s[start + skipped..self.i])
    }

    fn value(&mut self) -> Result<Value, String> {
        self.ws();
        match self.peek() {
            Some('"') => self.string().map(Value::String),
            Some('r') if self.rest().starts_with("r\"") || self.rest().starts_with("r##") => {
                self.raw_string().map(Value::String)
            }
            Some('r') if self.rest().starts_with("r#\"") => self.raw_string().map(Value::String),
            Some('\'') => self.char_literal().map(|c| Value::String(c.to_string())),
            Some('[') => {
                self.bump();
                let mut items = Vec::new();
                while !self.eat(']') {
                    items.push(self.value()?);
                    if !self.eat(',') {
                        self.expect(']')?;
                        break;
                    }
                }
                Ok(Value::Array(items))
            }
            Some('{') => {
                self.bump();
                let mut map = Map::new();
                while !self.eat('}') {
                    let key = match self.value()? {
                        Value::String(s) => s,
                        k @ (Value::Number(_) | Value::Bool(_)) => k.to_string(),
                        _ => return Err("a map key must be a string, number or bool".into()),
                    };
                    self.expect(':')?;
                    map.insert(key, self.value()?);
                    if !self.eat(',') {
                        self.expect('}')?;
                        break;
                    }
                }
                Ok(Value::Object(map))
            }
            Some('(') => Ok(match self.parens()? {
                Parens::Named(map) => Value::Object(map),
                Parens::Unnamed { items, .. } if items.is_empty() => Value::Null,
                Parens::Unnamed {
                    mut items,
                    trailing: false,
                } if items.len() == 1 => items.pop().expect("one item"),
                Parens::Unnamed { items, .. } => Value::Array(items),
            }),
            Some(c) if c.is_ascii_digit() || "+-.".contains(c) => self.number(),
            Some(c) if c == '_' || c.is_ascii_alphabetic() => self.named(),
            _ => Err(self.unexpected("a value")),
        }
    }

    /// A value that starts with a name: a bool, `Some`/`None`, or an enum
    /// variant.
    fn named(&mut self) -> Result<Value, String> {
        let name = self.ident().expect("starts with a letter").to_string();
        match name.as_str() {
            "true" => return Ok(Value::Bool(true)),
            "false" => return Ok(Value::Bool(false)),
            "None" => return Ok(Value::Null),
            "Some" => {
                self.expect('(')?;
                let v = self.value()?;
                self.eat(',');
                self.expect(')')?;
                return Ok(v);
            }
            "inf" | "NaN" | "inff32" | "inff64" | "NaNf32" | "NaNf64" => {
                return Err(format!("`{name}` is not a finite number"));
            }
            _ => {}
        }
        self.ws();
        if self.peek() != Some('(') {
            return Ok(Value::String(name));
        }
        let content = match self.parens()? {
            Parens::Named(map) => Value::Object(map),
            Parens::Unnamed { items, .. } if items.is_empty() => Value::Object(Map::new()),
            Parens::Unnamed {
                mut items,
                trailing: false,
            } if items.len() == 1 => items.pop().expect("one item"),
            Parens::Unnamed { items, .. } => Value::Array(items),
        };
        Ok(Value::Object(Map::from_iter([(name, content)])))
    }

    /// `( … )`: named fields or a list of values.
    fn parens(&mut self) -> Result<Parens, String> {
        self.expect('(')?;
        self.ws();
        let start = self.i;
        let named = self.ident().is_some() && {
            self.ws();
            self.peek() == Some(':')
        };
        self.i = start;
        if named {
            let mut map = Map::new();
            while !self.eat(')') {
                self.ws();
                let Some(field) = self.ident().map(str::to_string) else {
                    return Err(self.unexpected("a field name"));
                };
                self.expect(':')?;
                map.insert(field, self.value()?);
                if !self.eat(',') {
                    self.expect(')')?;
                    break;
                }
            }
            return Ok(Parens::Named(map));
        }
        let mut items = Vec::new();
        let mut trailing = false;
        while !self.eat(')') {
            items.push(self.value()?);
            trailing = self.eat(',');
            if !trailing {
                self.expect(')')?;
                break;
            }
        }
        Ok(Parens::Unnamed { items, trailing })
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.i;
        let rest = self.rest();
        let len = rest
            .char_indices()
            .find(|&(k, c)| {
                let sign_after_exponent = (c == '+' || c == '-')
                    && (k == 0 || matches!(rest.as_bytes()[k - 1], b'e' | b'E'));
                !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || sign_after_exponent)
            })
            .map_or(rest.len(), |(k, _)| k);
        self.i += len;
        let text: String = self.s[start..self.i]
            .chars()
            .filter(|&c| c != '_')
            .collect();
        let bad = || format!("`{}` is not a number p2psim reads", &self.s[start..self.i]);
        let (negative, digits) = match text.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, text.strip_prefix('+').unwrap_or(&text)),
        };
        let radix = [("0x", 16), ("0o", 8), ("0b", 2)]
            .into_iter()
            .find_map(|(prefix, radix)| digits.strip_prefix(prefix).map(|d| (d, radix)));
        let integer = match radix {
            Some((d, radix)) => Some(i128::from_str_radix(d, radix).map_err(|_| bad())?),
            None if digits.bytes().all(|b| b.is_ascii_digit()) => {
                Some(digits.parse::<i128>().map_err(|_| bad())?)
            }
            None => None,
        };
        let (number, as_f64) = match integer {
            Some(n) => {
                let n = if negative { -n } else { n };
                let number = u64::try_from(n)
                    .map(Number::from)
                    .or_else(|_| i64::try_from(n).map(Number::from))
                    .map_err(|_| bad())?;
                (number, n as f64)
            }
            None => {
                let f: f64 = text.parse().map_err(|_| bad())?;
                (Number::from_f64(f).ok_or_else(bad)?, f)
            }
        };
        self.first_number.get_or_insert(as_f64);
        Ok(Value::Number(number))
    }

    fn string(&mut self) -> Result<String, String> {
        self.expect('"')?;
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err("an unterminated string".into()),
                Some('"') => return Ok(out),
                Some('\\') => out.push(self.escape()?),
                Some(c) => out.push(c),
            }
        }
    }

    fn escape(&mut self) -> Result<char, String> {
        Ok(match self.bump() {
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('0') => '\0',
            Some(c @ ('\\' | '"' | '\'')) => c,
            Some('u') => {
                self.expect('{')?;
                let end = self
                    .rest()
                    .find('}')
                    .ok_or("an unterminated \\u{…} escape")?;
                let hex = &self.s[self.i..self.i + end];
                self.i += end + 1;
                u32::from_str_radix(hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("`\\u{{{hex}}}` is not a character"))?
            }
            other => {
                return Err(format!(
                    "the escape `\\{}` is not supported in sweep values",
                    other.unwrap_or(' ')
                ))
            }
        })
    }

    fn raw_string(&mut self) -> Result<String, String> {
        self.bump(); // r
        let hashes = self.rest().len() - self.rest().trim_start_matches('#').len();
        self.i += hashes;
        self.expect('"')?;
        let close = format!("\"{}", "#".repeat(hashes));
        let end = self
            .rest()
            .find(&close)
            .ok_or("an unterminated raw string")?;
        let s = self.s[self.i..self.i + end].to_string();
        self.i += end + close.len();
        Ok(s)
    }

    fn char_literal(&mut self) -> Result<char, String> {
        self.bump(); // '
        let c = match self.bump() {
            Some('\\') => self.escape()?,
            Some(c) => c,
            None => return Err("an unterminated character".into()),
        };
        if self.bump() != Some('\'') {
            return Err("an unterminated character".into());
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn j(ron: &str) -> Value {
        to_json(ron).unwrap_or_else(|e| panic!("{ron}: {e}")).json
    }

    #[test]
    fn scalars_lists_and_structs() {
        assert_eq!(j("4"), json!(4));
        assert_eq!(j("-3"), json!(-3));
        assert_eq!(j("1_000"), json!(1000));
        assert_eq!(j("0x10"), json!(16));
        assert_eq!(j("0.02"), json!(0.02));
        assert_eq!(j("1e-3"), json!(0.001));
        assert_eq!(j("true"), json!(true));
        assert_eq!(j(r#""8ms""#), json!("8ms"));
        assert_eq!(j(r#""a\"b\u{e9}""#), json!("a\"bé"));
        assert_eq!(j(r##"r#"x"y"#"##), json!("x\"y"));
        assert_eq!(j("'c'"), json!("c"));
        assert_eq!(j("[4, 3, 8,]"), json!([4, 3, 8]));
        assert_eq!(j("(1.5, 2)"), json!([1.5, 2]));
        assert_eq!(j("(7,)"), json!([7]));
        assert_eq!(j("(7)"), json!(7));
        assert_eq!(j("()"), json!(null));
        assert_eq!(
            j("(d: 6, /* mesh */ d_low: 4) // done"),
            json!({"d": 6, "d_low": 4})
        );
        assert_eq!(j(r#"{"phone": 1, 2: 3}"#), json!({"phone": 1, "2": 3}));
        assert_eq!(j("Some(3)"), json!(3));
        assert_eq!(j("None"), json!(null));
    }

    #[test]
    fn variants_keep_their_names() {
        assert_eq!(j("Line"), json!("Line"));
        assert_eq!(j(r#"Constant("5ms")"#), json!({"Constant": "5ms"}));
        assert_eq!(j("Bernoulli(p: 0.02)"), json!({"Bernoulli": {"p": 0.02}}));
        assert_eq!(j("Ping()"), json!({"Ping": {}}));
        assert_eq!(j(r#"At("1s", Heal)"#), json!({"At": ["1s", "Heal"]}));
        assert_eq!(
            j("Gossip(topics: [0], config: (d: 8))"),
            json!({"Gossip": {"topics": [0], "config": {"d": 8}}})
        );
        assert_eq!(j("Grid(width: 10)"), json!({"Grid": {"width": 10}}));
    }

    #[test]
    fn first_number_is_the_first_written() {
        let first = |ron: &str| to_json(ron).unwrap().first_number;
        assert_eq!(first("Bernoulli(p: 0.02)"), Some(0.02));
        assert_eq!(
            first("GilbertElliott(p_good_bad: 0.1, p_bad_good: 0.5, loss_good: 0, loss_bad: 1)"),
            Some(0.1)
        );
        assert_eq!(first("[4, 3, 8]"), Some(4.0));
        assert_eq!(first("Line"), None);
        assert_eq!(first(r#""250ms""#), None);
    }

    #[test]
    fn what_cannot_be_converted_says_why() {
        assert!(to_json("inf").unwrap_err().contains("not a finite number"));
        assert!(to_json("1u8")
            .unwrap_err()
            .contains("`1u8` is not a number"));
        assert!(to_json("[1 2]").unwrap_err().contains("expected `]`"));
        assert!(to_json("b\"x\"")
            .unwrap_err()
            .contains("expected the end of the value"));
    }
}
