//! Name conversion: schema identifiers (camelCase fields, PascalCase types) into a
//! target's conventions, with keyword escaping from the target's manifest.

use crate::target::{Case, Naming};

/// Splits `fooBarBaz`, `FooBar`, `HTTPServer`, `uint32Id` and `foo_bar` into words.
pub fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' || c == '$' {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        let boundary = c.is_uppercase()
            && !current.is_empty()
            && (chars[i - 1].is_lowercase()
                || chars[i - 1].is_ascii_digit()
                || chars.get(i + 1).is_some_and(|n| n.is_lowercase()));
        if boundary {
            words.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f
            .to_uppercase()
            .chain(c.flat_map(|x| x.to_lowercase()))
            .collect(),
        None => String::new(),
    }
}

pub fn convert(name: &str, case: Case) -> String {
    let ws = words(name);
    match case {
        Case::Keep => name.to_string(),
        Case::SnakeAtCapitals => snake_at_capitals(name),
        Case::Pascal => ws.iter().map(|w| capitalize(w)).collect(),
        Case::Camel => ws
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if i == 0 {
                    w.to_lowercase()
                } else {
                    capitalize(w)
                }
            })
            .collect(),
        Case::Snake => ws
            .iter()
            .map(|w| w.to_lowercase())
            .collect::<Vec<_>>()
            .join("_"),
        Case::UpperSnake => ws
            .iter()
            .map(|w| w.to_uppercase())
            .collect::<Vec<_>>()
            .join("_"),
    }
}

/// capnpc-rust's module and accessor naming (`camel_to_snake_case`): an underscore
/// before every uppercase letter but the first.
fn snake_at_capitals(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

pub fn escape(name: String, keywords: &[String], pattern: &str) -> String {
    if keywords.contains(&name) {
        pattern.replace("{}", &name)
    } else {
        name
    }
}

impl Naming {
    pub fn field(&self, name: &str) -> String {
        escape(convert(name, self.fields), &self.keywords, &self.escape)
    }
    pub fn method(&self, name: &str) -> String {
        escape(convert(name, self.methods), &self.keywords, &self.escape)
    }
    pub fn enumerant(&self, name: &str) -> String {
        escape(convert(name, self.enumerants), &self.keywords, &self.escape)
    }
    pub fn constant(&self, scope: &[String]) -> String {
        let joined = scope.join("_");
        escape(
            convert(&joined, self.constants),
            &self.keywords,
            &self.escape,
        )
    }
    /// A (possibly nested) type's name: each scope segment cased, then joined.
    pub fn type_name(&self, scope: &[String]) -> String {
        let joined = scope
            .iter()
            .map(|s| convert(s, self.types))
            .collect::<Vec<_>>()
            .join(&self.nested_separator);
        // A raw identifier (`r#Box`) is the same identifier as `Box`: it escapes a
        // keyword but would still shadow a prelude type the generated code uses, so a
        // reserved type name takes a trailing `_` instead.
        if self.reserved_types.contains(&joined) && self.escape.starts_with("r#") {
            return format!("{joined}_");
        }
        let reserved: Vec<String> = self
            .keywords
            .iter()
            .chain(&self.reserved_types)
            .cloned()
            .collect();
        escape(joined, &reserved, &self.escape)
    }
    /// Scope segments as modules.
    pub fn scope_path(&self, scope: &[String]) -> String {
        scope
            .iter()
            .map(|s| {
                escape(
                    convert(s, self.modules),
                    &self.module_keywords,
                    &self.module_escape,
                )
            })
            .collect::<Vec<_>>()
            .join(&self.path_separator)
    }
    pub fn file_module(&self, stem: &str) -> String {
        self.file_module.replace("{stem}", stem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_converts() {
        assert_eq!(convert("fooBarBaz", Case::Snake), "foo_bar_baz");
        assert_eq!(convert("uint32Id", Case::Snake), "uint32_id");
        assert_eq!(convert("HTTPServer", Case::Snake), "http_server");
        assert_eq!(convert("sendResultsTo", Case::Pascal), "SendResultsTo");
        assert_eq!(
            convert("resultsSentElsewhere", Case::UpperSnake),
            "RESULTS_SENT_ELSEWHERE"
        );
        assert_eq!(convert("add$Params", Case::Pascal), "AddParams");
        assert_eq!(
            convert("sendResultsTo", Case::SnakeAtCapitals),
            "send_results_to"
        );
    }
}
