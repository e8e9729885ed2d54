//! YAML to `serde_json::Value` with the line and column of every key and value, via saphyr-parser.
//!
//! The parser's events become a small tree whose nodes keep their positions. The tree then
//! becomes a JSON value, and a map from each field path to its positions. Plain scalars are
//! typed by the YAML 1.2 core schema: `~`, `null` and empty are null, `true`/`false` are
//! booleans, `80`, `0o17` and `0x1F` are integers, `1.5` and `1e3` are floats, and everything
//! else, quoted or not, is a string. Aliases are expanded, and duplicate keys are errors.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span, Tag};
use serde_json::{Map, Number, Value};

use crate::diagnostic::{Diagnostic, Severity};
use crate::path;

/// Maximum number of nodes after alias expansion, which stops "billion laughs" documents.
const MAX_NODES: usize = 1_000_000;

/// A 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub line: usize,
    pub column: usize,
}

/// Positions of a field's key and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Located {
    /// `None` for sequence items and the root.
    pub key: Option<Position>,
    pub value: Position,
    /// Index of the file in [`Positions::files`]: 0 is the file loaded, higher
    /// indexes are the files it extends.
    pub file: usize,
}

/// Positions of every path of a document, and the files they are in.
#[derive(Debug, Clone, Default)]
pub(crate) struct Positions {
    pub(crate) by_path: HashMap<String, Located>,
    pub(crate) files: Vec<String>,
}

/// A parsed file: its value, positions, and the errors that did not stop parsing.
#[derive(Debug)]
pub(crate) struct Document {
    pub value: Value,
    pub positions: Positions,
    pub diagnostics: Vec<Diagnostic>,
}

impl Positions {
    /// Returns the positions of `path`, or of its nearest enclosing path that exists.
    pub fn find(&self, mut path: &str) -> Located {
        loop {
            if let Some(located) = self.by_path.get(path) {
                return *located;
            }
            match path::parent(path) {
                Some(parent) => path = parent,
                None => {
                    let start = Position { line: 1, column: 1 };
                    return Located {
                        key: None,
                        value: start,
                        file: 0,
                    };
                }
            }
        }
    }

    /// Returns the name of the file that `located` points into.
    pub fn file_of(&self, located: &Located) -> &str {
        self.files
            .get(located.file)
            .or(self.files.first())
            .map_or("", String::as_str)
    }

    /// Returns whether the document has a value at exactly this path.
    pub fn contains(&self, path: &str) -> bool {
        self.by_path.contains_key(path)
    }
}

#[derive(Debug, Clone)]
struct Node {
    position: Position,
    /// Number of nodes in this subtree, counting itself.
    size: usize,
    kind: NodeKind,
}

#[derive(Debug, Clone)]
enum NodeKind {
    Scalar {
        text: String,
        style: ScalarStyle,
        tag: Option<Tag>,
    },
    Sequence(Vec<Node>),
    Mapping(Vec<Entry>),
}

#[derive(Debug, Clone)]
struct Entry {
    key: String,
    key_position: Position,
    value: Node,
}

enum Frame {
    Sequence {
        path: String,
        position: Position,
        anchor: usize,
        items: Vec<Node>,
    },
    Mapping {
        path: String,
        position: Position,
        anchor: usize,
        entries: Vec<Entry>,
        /// The key read and waiting for its value, or `Some(None)` for a rejected complex key.
        pending_key: Option<Option<(String, Position)>>,
    },
}

/// Parses one YAML document.
///
/// # Errors
/// Returns the diagnostics that stop parsing: a syntax error, an empty file, several
/// documents, or aliases that expand past [`MAX_NODES`].
pub(crate) fn parse(text: &str, file: &str) -> Result<Document, Vec<Diagnostic>> {
    let mut builder = TreeBuilder {
        file,
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        total_size: 0,
        diagnostics: Vec::new(),
    };
    builder.run(text)?;

    let Some(root) = builder.root else {
        let diagnostic = error(
            file,
            Position { line: 1, column: 1 },
            "",
            "the file contains no YAML document",
        );
        return Err(vec![diagnostic]);
    };

    let mut converter = Converter {
        file,
        positions: Positions {
            by_path: HashMap::new(),
            files: vec![file.to_owned()],
        },
        diagnostics: builder.diagnostics,
    };
    converter.positions.by_path.insert(
        String::new(),
        Located {
            key: None,
            value: root.position,
            file: 0,
        },
    );
    let value = converter.convert(&root, "");
    Ok(Document {
        value,
        positions: converter.positions,
        diagnostics: converter.diagnostics,
    })
}

fn error(file: &str, position: Position, path: &str, message: impl Into<String>) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        file: file.to_owned(),
        line: position.line,
        column: position.column,
        path: path.to_owned(),
        message: message.into(),
        help: None,
    }
}

fn start_of(span: &Span) -> Position {
    Position {
        line: span.start.line(),
        column: span.start.col() + 1,
    }
}

fn syntax_error(file: &str, scan_error: &ScanError) -> Diagnostic {
    let position = Position {
        line: scan_error.marker().line(),
        column: scan_error.marker().col() + 1,
    };
    error(
        file,
        position,
        "",
        format!("invalid YAML: {}", scan_error.info()),
    )
}

struct TreeBuilder<'a> {
    file: &'a str,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    total_size: usize,
    diagnostics: Vec<Diagnostic>,
}

impl TreeBuilder<'_> {
    fn run(&mut self, text: &str) -> Result<(), Vec<Diagnostic>> {
        let mut parser = Parser::new_from_str(text);
        let mut documents = 0;

        while let Some(next) = parser.next_event() {
            let (event, span) =
                next.map_err(|scan_error| vec![syntax_error(self.file, &scan_error)])?;
            let position = start_of(&span);

            match event {
                Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
                Event::DocumentStart(_) => {
                    documents += 1;
                    if documents > 1 {
                        let mut diagnostic = error(
                            self.file,
                            position,
                            "",
                            "the file contains more than one YAML document",
                        );
                        diagnostic.set_help("keep one stack per file and remove the `---` line");
                        return Err(vec![diagnostic]);
                    }
                }
                Event::Alias(anchor) => {
                    let Some(node) = self.anchors.get(&anchor).cloned() else {
                        let diagnostic = error(self.file, position, "", "unknown alias");
                        return Err(vec![diagnostic]);
                    };
                    self.total_size += node.size;
                    if self.total_size > MAX_NODES {
                        let message = format!("aliases expand to more than {MAX_NODES} YAML nodes");
                        return Err(vec![error(self.file, position, "", message)]);
                    }
                    self.complete(Node { position, ..node });
                }
                Event::Scalar(text, style, anchor, tag) => {
                    let node = Node {
                        position,
                        size: 1,
                        kind: NodeKind::Scalar {
                            text: text.into_owned(),
                            style,
                            tag: tag.map(|tag| tag.into_owned()),
                        },
                    };
                    self.register(anchor, &node);
                    self.total_size += 1;
                    self.complete(node);
                }
                Event::SequenceStart(anchor, tag) => {
                    self.check_collection_tag(tag.as_deref(), "seq", position);
                    self.stack.push(Frame::Sequence {
                        path: self.next_path(),
                        position,
                        anchor,
                        items: Vec::new(),
                    });
                }
                Event::MappingStart(anchor, tag) => {
                    self.check_collection_tag(tag.as_deref(), "map", position);
                    self.stack.push(Frame::Mapping {
                        path: self.next_path(),
                        position,
                        anchor,
                        entries: Vec::new(),
                        pending_key: None,
                    });
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let Some(frame) = self.stack.pop() else {
                        continue;
                    };
                    let (node, anchor) = match frame {
                        Frame::Sequence {
                            position,
                            anchor,
                            items,
                            ..
                        } => {
                            let size = 1 + items.iter().map(|item| item.size).sum::<usize>();
                            let kind = NodeKind::Sequence(items);
                            (
                                Node {
                                    position,
                                    size,
                                    kind,
                                },
                                anchor,
                            )
                        }
                        Frame::Mapping {
                            position,
                            anchor,
                            entries,
                            ..
                        } => {
                            let size =
                                1 + entries.iter().map(|entry| entry.value.size).sum::<usize>();
                            let kind = NodeKind::Mapping(entries);
                            (
                                Node {
                                    position,
                                    size,
                                    kind,
                                },
                                anchor,
                            )
                        }
                    };
                    self.register(anchor, &node);
                    self.total_size += 1;
                    self.complete(node);
                }
            }
        }
        Ok(())
    }

    /// Returns the field path of the node that starts next, for diagnostics.
    fn next_path(&self) -> String {
        match self.stack.last() {
            None => String::new(),
            Some(Frame::Sequence { path, items, .. }) => path::join_index(path, items.len()),
            Some(Frame::Mapping {
                path, pending_key, ..
            }) => match pending_key {
                Some(Some((key, _))) => path::join_key(path, key),
                // A key, or the value of a rejected key: no field path of its own.
                _ => path.clone(),
            },
        }
    }

    fn register(&mut self, anchor: usize, node: &Node) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }

    fn check_collection_tag(&mut self, tag: Option<&Tag>, core_suffix: &str, position: Position) {
        if let Some(tag) = tag
            && !(tag.is_yaml_core_schema() && tag.suffix == core_suffix)
        {
            let message = format!("unsupported tag `{tag}`");
            self.diagnostics
                .push(error(self.file, position, "", message));
        }
    }

    /// Places a finished node in its parent: the root, a sequence item, a key, or a value.
    fn complete(&mut self, node: Node) {
        let Some(frame) = self.stack.last_mut() else {
            self.root = Some(node);
            return;
        };

        match frame {
            Frame::Sequence { items, .. } => items.push(node),
            Frame::Mapping {
                path: mapping_path,
                entries,
                pending_key,
                ..
            } => match pending_key.take() {
                None => {
                    let key = match node.kind {
                        NodeKind::Scalar { text, .. } => Some((text, node.position)),
                        NodeKind::Sequence(_) | NodeKind::Mapping(_) => {
                            let message = "a mapping key must be a scalar";
                            self.diagnostics
                                .push(error(self.file, node.position, "", message));
                            None
                        }
                    };
                    *pending_key = Some(key);
                }
                Some(None) => {}
                Some(Some((key, key_position))) => {
                    if let Some(first) = entries.iter().find(|entry| entry.key == key) {
                        let message = format!(
                            "duplicate key `{key}`, first defined at line {}",
                            first.key_position.line
                        );
                        let key_path = path::join_key(mapping_path, &key);
                        let mut diagnostic = error(self.file, key_position, &key_path, message);
                        diagnostic.set_help("remove one of the two keys");
                        self.diagnostics.push(diagnostic);
                    } else {
                        entries.push(Entry {
                            key,
                            key_position,
                            value: node,
                        });
                    }
                }
            },
        }
    }
}

struct Converter<'a> {
    file: &'a str,
    positions: Positions,
    diagnostics: Vec<Diagnostic>,
}

impl Converter<'_> {
    fn convert(&mut self, node: &Node, at: &str) -> Value {
        match &node.kind {
            NodeKind::Scalar { text, style, tag } => {
                match resolve_scalar(text, *style, tag.as_ref()) {
                    Ok(value) => value,
                    Err(message) => {
                        self.diagnostics
                            .push(error(self.file, node.position, at, message));
                        Value::Null
                    }
                }
            }
            NodeKind::Sequence(items) => {
                let mut values = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    let item_path = path::join_index(at, index);
                    self.positions.by_path.insert(
                        item_path.clone(),
                        Located {
                            key: None,
                            value: item.position,
                            file: 0,
                        },
                    );
                    values.push(self.convert(item, &item_path));
                }
                Value::Array(values)
            }
            NodeKind::Mapping(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for entry in entries {
                    let entry_path = path::join_key(at, &entry.key);
                    self.positions.by_path.insert(
                        entry_path.clone(),
                        Located {
                            key: Some(entry.key_position),
                            value: entry.value.position,
                            file: 0,
                        },
                    );
                    let value = self.convert(&entry.value, &entry_path);
                    map.insert(entry.key.clone(), value);
                }
                Value::Object(map)
            }
        }
    }
}

/// Types a scalar by its tag, or by the YAML 1.2 core schema when it is plain and untagged.
fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    if let Some(tag) = tag {
        if tag.handle == "!" && tag.suffix.is_empty() {
            return Ok(Value::String(text.to_owned()));
        }
        if !tag.is_yaml_core_schema() {
            return Err(format!("unsupported tag `{tag}`"));
        }
        return match tag.suffix.as_str() {
            "str" => Ok(Value::String(text.to_owned())),
            "null" => core_null(text).ok_or_else(|| format!("invalid !!null value \"{text}\"")),
            "bool" => core_bool(text).ok_or_else(|| format!("invalid !!bool value \"{text}\"")),
            "int" => {
                core_int(text).unwrap_or_else(|| Err(format!("invalid !!int value \"{text}\"")))
            }
            "float" => core_int(text)
                .or_else(|| core_float(text))
                .unwrap_or_else(|| Err(format!("invalid !!float value \"{text}\""))),
            _ => Err(format!("unsupported tag `{tag}`")),
        };
    }

    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.to_owned()));
    }
    if let Some(value) = core_null(text).or_else(|| core_bool(text)) {
        return Ok(value);
    }
    if let Some(result) = core_int(text).or_else(|| core_float(text)) {
        return result;
    }
    Ok(Value::String(text.to_owned()))
}

fn core_null(text: &str) -> Option<Value> {
    matches!(text, "" | "~" | "null" | "Null" | "NULL").then_some(Value::Null)
}

fn core_bool(text: &str) -> Option<Value> {
    match text {
        "true" | "True" | "TRUE" => Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => Some(Value::Bool(false)),
        _ => None,
    }
}

/// Returns `None` when `text` is not an integer, and an error when it is one out of range.
fn core_int(text: &str) -> Option<Result<Value, String>> {
    let out_of_range = || Err(format!("integer {text} is out of range"));

    if let Some(octal) = text.strip_prefix("0o") {
        if octal.is_empty() || !octal.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return None;
        }
        return Some(
            u64::from_str_radix(octal, 8).map_or_else(|_| out_of_range(), |n| Ok(n.into())),
        );
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        return Some(
            u64::from_str_radix(hex, 16).map_or_else(|_| out_of_range(), |n| Ok(n.into())),
        );
    }

    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let parsed = if text.starts_with('-') {
        text.parse::<i64>().ok().map(Value::from)
    } else {
        digits.parse::<u64>().ok().map(Value::from)
    };
    Some(parsed.ok_or(()).or_else(|()| out_of_range()))
}

/// Returns `None` when `text` is not a float, and an error for infinities and NaN, which JSON
/// cannot represent.
fn core_float(text: &str) -> Option<Result<Value, String>> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") || matches!(text, ".nan" | ".NaN" | ".NAN") {
        return Some(Err(format!("{text} is not a finite number")));
    }
    if !is_core_float(unsigned) {
        return None;
    }
    let number = text.parse::<f64>().ok().and_then(Number::from_f64);
    Some(
        number
            .map(Value::Number)
            .ok_or_else(|| format!("{text} is out of range")),
    )
}

/// Matches `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn is_core_float(text: &str) -> bool {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };

    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            let whole_ok = whole.bytes().all(|b| b.is_ascii_digit());
            let fraction_ok = fraction.bytes().all(|b| b.is_ascii_digit());
            whole_ok && fraction_ok && !(whole.is_empty() && fraction.is_empty())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
    };

    let exponent_ok = match exponent {
        Some(exponent) => {
            let digits = exponent.strip_prefix(['-', '+']).unwrap_or(exponent);
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        }
        None => true,
    };

    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Document {
        let document = parse(text, "t.yaml").expect("parses");
        assert!(
            document.diagnostics.is_empty(),
            "{:?}",
            document.diagnostics
        );
        document
    }

    #[test]
    fn core_schema_types_plain_scalars() {
        let document = parse_ok(
            "a: 80\nb: true\nc: ~\nd: null\ne: \"80\"\nf: 1.5\ng: 0x1F\nh: 0o17\ni: t3.large\nj: -3\nk:\n",
        );
        let value = &document.value;
        assert_eq!(value["a"], Value::from(80));
        assert_eq!(value["b"], Value::Bool(true));
        assert_eq!(value["c"], Value::Null);
        assert_eq!(value["d"], Value::Null);
        assert_eq!(value["e"], Value::from("80"));
        assert_eq!(value["f"], Value::from(1.5));
        assert_eq!(value["g"], Value::from(31));
        assert_eq!(value["h"], Value::from(15));
        assert_eq!(value["i"], Value::from("t3.large"));
        assert_eq!(value["j"], Value::from(-3));
        assert_eq!(value["k"], Value::Null);
    }

    #[test]
    fn yaml_1_1_booleans_stay_strings() {
        let document = parse_ok("a: yes\nb: off\nc: 012\n");
        assert_eq!(document.value["a"], Value::from("yes"));
        assert_eq!(document.value["b"], Value::from("off"));
        assert_eq!(document.value["c"], Value::from(12));
    }

    #[test]
    fn single_quoted_and_block_scalars_stay_strings() {
        let document = parse_ok("a: 'true'\nb: |\n  8\n");
        assert_eq!(document.value["a"], Value::from("true"));
        assert_eq!(document.value["b"], Value::from("8\n"));
    }

    #[test]
    fn str_tag_keeps_string() {
        let document = parse_ok("a: !!str 80\nb: !!int \"7\"\n");
        assert_eq!(document.value["a"], Value::from("80"));
        assert_eq!(document.value["b"], Value::from(7));
    }

    #[test]
    fn positions_record_keys_and_values() {
        let document = parse_ok("spec:\n  subnets:\n    - id: a\n      cidr: 10.0.0.0/24\n");
        let cidr = document.positions.find("spec.subnets[0].cidr");
        assert_eq!(cidr.key, Some(Position { line: 4, column: 7 }));
        assert_eq!(
            cidr.value,
            Position {
                line: 4,
                column: 13
            }
        );
        let item = document.positions.find("spec.subnets[0]");
        assert_eq!(item.value, Position { line: 3, column: 7 });
    }

    #[test]
    fn missing_path_falls_back_to_parent() {
        let document = parse_ok("spec:\n  network:\n    vpc: {}\n");
        let found = document.positions.find("spec.network.vpc.cidr");
        assert_eq!(
            found.value,
            Position {
                line: 3,
                column: 10
            }
        );
    }

    #[test]
    fn flow_collections_parse() {
        let document = parse_ok("a: [https://x.example, b]\nt: { internetGateway: true }\n");
        assert_eq!(document.value["a"][0], Value::from("https://x.example"));
        assert_eq!(document.value["t"]["internetGateway"], Value::Bool(true));
    }

    #[test]
    fn duplicate_key_is_reported_at_second_key() {
        let document = parse("a: 1\nb: 2\na: 3\n", "t.yaml").unwrap();
        assert_eq!(document.diagnostics.len(), 1);
        let diagnostic = &document.diagnostics[0];
        assert_eq!((diagnostic.line, diagnostic.column), (3, 1));
        assert!(
            diagnostic.message.contains("duplicate key `a`"),
            "{diagnostic}"
        );
        assert_eq!(diagnostic.path, "a");
        assert_eq!(document.value["a"], Value::from(1));
    }

    #[test]
    fn aliases_expand() {
        let document = parse_ok("a: &subnets [x, y]\nb: *subnets\n");
        assert_eq!(document.value["b"], document.value["a"]);
    }

    #[test]
    fn syntax_error_reports_parser_position() {
        let errors = parse("a: [1, 2\nb: 3\n", "t.yaml").unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].message.starts_with("invalid YAML"),
            "{}",
            errors[0]
        );
        assert!(errors[0].line >= 1);
    }

    #[test]
    fn second_document_is_rejected() {
        let errors = parse("a: 1\n---\nb: 2\n", "t.yaml").unwrap_err();
        assert!(errors[0].message.contains("more than one"), "{}", errors[0]);
        assert_eq!(errors[0].line, 2);
    }

    #[test]
    fn empty_file_is_rejected() {
        let errors = parse("# only a comment\n", "t.yaml").unwrap_err();
        assert!(
            errors[0].message.contains("no YAML document"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn infinity_is_rejected() {
        let document = parse("a: .inf\n", "t.yaml").unwrap();
        assert!(document.diagnostics[0].message.contains("finite"));
    }
}
