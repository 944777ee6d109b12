//! Syntax colour for the code lines of a diff, by the file's extension: keywords, strings,
//! comments and numbers, each a `<span>` of its own, every piece escaped. A line is read alone
//! (a diff shows lines out of their context), so a block comment or a string that spans lines
//! is coloured only on its first line; the colour is a reading aid, never the content.

use crate::text::html as h;

/// The language of a path, as far as colour goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Rust,
    Python,
    Script,
    Go,
    CLike,
    Shell,
    Config,
    Plain,
}

impl Lang {
    pub fn of(path: &str) -> Lang {
        match path.rsplit_once('.').map(|(_, e)| e).unwrap_or("") {
            "rs" => Lang::Rust,
            "py" => Lang::Python,
            "js" | "mjs" | "cjs" | "ts" | "tsx" | "jsx" => Lang::Script,
            "go" => Lang::Go,
            "c" | "h" | "cc" | "cpp" | "hpp" | "java" | "cs" | "kt" | "swift" => Lang::CLike,
            "sh" | "bash" | "zsh" | "fish" => Lang::Shell,
            "toml" | "yaml" | "yml" | "ini" | "cfg" => Lang::Config,
            _ => Lang::Plain,
        }
    }

    fn keywords(self) -> &'static [&'static str] {
        match self {
            Lang::Rust => &[
                "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
                "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
                "return", "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use",
                "where", "while",
            ],
            Lang::Python => &[
                "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif", "else",
                "except", "False", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "None",
                "nonlocal", "not", "or", "pass", "raise", "return", "True", "try", "while", "with", "yield",
            ],
            Lang::Script => &[
                "async",
                "await",
                "break",
                "case",
                "catch",
                "class",
                "const",
                "continue",
                "default",
                "delete",
                "do",
                "else",
                "export",
                "extends",
                "false",
                "finally",
                "for",
                "from",
                "function",
                "if",
                "import",
                "in",
                "instanceof",
                "interface",
                "let",
                "new",
                "null",
                "return",
                "switch",
                "this",
                "throw",
                "true",
                "try",
                "type",
                "typeof",
                "undefined",
                "var",
                "void",
                "while",
                "yield",
            ],
            Lang::Go => &[
                "break",
                "case",
                "chan",
                "const",
                "continue",
                "default",
                "defer",
                "else",
                "false",
                "for",
                "func",
                "go",
                "if",
                "import",
                "interface",
                "map",
                "nil",
                "package",
                "range",
                "return",
                "select",
                "struct",
                "switch",
                "true",
                "type",
                "var",
            ],
            Lang::CLike => &[
                "break",
                "case",
                "char",
                "class",
                "const",
                "continue",
                "default",
                "do",
                "double",
                "else",
                "enum",
                "extern",
                "false",
                "final",
                "float",
                "for",
                "if",
                "import",
                "int",
                "long",
                "new",
                "null",
                "nullptr",
                "private",
                "protected",
                "public",
                "return",
                "short",
                "static",
                "struct",
                "switch",
                "this",
                "true",
                "typedef",
                "unsigned",
                "void",
                "while",
            ],
            Lang::Shell => &[
                "case", "do", "done", "elif", "else", "esac", "exit", "export", "fi", "for", "function", "if", "in",
                "local", "return", "set", "then", "while",
            ],
            Lang::Config => &["true", "false"],
            Lang::Plain => &[],
        }
    }

    /// Where a comment starts on a line, by the language's marker.
    fn comment(self) -> &'static [&'static str] {
        match self {
            Lang::Rust | Lang::Script | Lang::Go | Lang::CLike => &["//", "/*"],
            Lang::Python | Lang::Shell | Lang::Config => &["#"],
            Lang::Plain => &[],
        }
    }
}

fn span(out: &mut String, class: &str, text: &str) {
    out.push_str("<span class=\"");
    out.push_str(class);
    out.push_str("\">");
    out.push_str(&h(text));
    out.push_str("</span>");
}

/// `code` (a line without the diff's first column) as HTML, coloured for `lang`.
pub fn line(lang: Lang, code: &str) -> String {
    if lang == Lang::Plain {
        return h(code).into_owned();
    }
    let mut out = String::with_capacity(code.len() * 2);
    let (keywords, comments) = (lang.keywords(), lang.comment());
    let mut rest = code;
    while let Some(c) = rest.chars().next() {
        if let Some(m) = comments.iter().find(|m| rest.starts_with(**m)) {
            // `#` starts a comment only at a word's edge in a shell (`$#`, `a#b` do not).
            let at_edge = *m != "#" || out.is_empty() || out.ends_with(' ') || out.ends_with('\t');
            if at_edge {
                span(&mut out, "c", rest);
                break;
            }
        }
        if c == '"' || (c == '\'' && lang != Lang::Rust) || c == '`' && lang == Lang::Script {
            // To the closing quote not escaped by a backslash, or the line's end.
            let mut end = rest.len();
            let mut escaped = false;
            for (i, ch) in rest.char_indices().skip(1) {
                if escaped {
                    escaped = false;
                } else if ch == '\\' {
                    escaped = true;
                } else if ch == c {
                    end = i + ch.len_utf8();
                    break;
                }
            }
            span(&mut out, "s", &rest[..end]);
            rest = &rest[end..];
            continue;
        }
        if c.is_alphanumeric() || c == '_' {
            let end = rest
                .char_indices()
                .find(|(_, ch)| !(ch.is_alphanumeric() || *ch == '_'))
                .map_or(rest.len(), |(i, _)| i);
            let word = &rest[..end];
            if keywords.contains(&word) {
                span(&mut out, "k", word);
            } else if word.starts_with(|d: char| d.is_ascii_digit()) {
                span(&mut out, "n", word);
            } else {
                out.push_str(&h(word));
            }
            rest = &rest[end..];
            continue;
        }
        out.push_str(&h(&rest[..c.len_utf8()]));
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Lang, line};

    #[test]
    fn keywords_strings_comments_and_numbers_are_coloured_and_everything_is_escaped() {
        assert_eq!(
            line(Lang::Rust, "pub fn f() -> u32 { 7 } // <b>"),
            "<span class=\"k\">pub</span> <span class=\"k\">fn</span> f() -&gt; u32 { <span class=\"n\">7</span> } <span class=\"c\">// &lt;b&gt;</span>"
        );
        assert_eq!(
            line(Lang::Python, "x = \"<img src=x>\" # \"no\""),
            "x = <span class=\"s\">&quot;&lt;img src=x&gt;&quot;</span> <span class=\"c\"># &quot;no&quot;</span>"
        );
        // A lifetime is not a string in Rust; an unclosed string runs to the line's end.
        assert_eq!(line(Lang::Rust, "&'a str"), "&amp;&#39;a str");
        assert_eq!(
            line(Lang::Script, "s = 'open"),
            "s = <span class=\"s\">&#39;open</span>"
        );
        assert_eq!(
            line(Lang::Shell, "echo $# done"),
            "echo $# <span class=\"k\">done</span>"
        );
        assert_eq!(line(Lang::Plain, "<x>"), "&lt;x&gt;");
        assert_eq!(Lang::of("src/a.tsx"), Lang::Script);
    }
}
