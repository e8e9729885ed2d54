//! Strings with `${…}` interpolations, parsed once at load so later code only substitutes.
//!
//! Allowed forms: `${account}`, `${region}`, `${stack}`, `${bucket:ID.arn}`,
//! `${bucket:ID.name}`, `${cache:ID.endpoint}` and `${cache:ID.port}`. Write `$${` for a
//! literal `${`. A `$` that does not start `${` is literal.

use std::fmt;

use serde::{Serialize, Serializer};

/// A parsed string: literal text and interpolations in their order in the source.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Template {
    pub parts: Vec<TemplatePart>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TemplatePart {
    Literal(String),
    Interpolation(Interpolation),
}

/// One `${…}` form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Interpolation {
    /// `${account}`: the stack's account id.
    Account,
    /// `${region}`: the stack's region.
    Region,
    /// `${stack}`: the stack's name.
    Stack,
    /// `${bucket:ID.arn}` or `${bucket:ID.name}`, where `id` names a bucket of the stack.
    Bucket {
        id: String,
        attribute: BucketAttribute,
    },
    /// `${cache:ID.endpoint}` or `${cache:ID.port}`, where `id` names a cache of the stack.
    Cache {
        id: String,
        attribute: CacheAttribute,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum BucketAttribute {
    Arn,
    Name,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CacheAttribute {
    Endpoint,
    Port,
}

/// Reason that a string is not a valid template, with a suggested fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    pub help: Option<String>,
}

/// The allowed forms, for help messages.
const ALLOWED_FORMS: &str = "${account}, ${region}, ${stack}, ${bucket:ID.arn}, \
     ${bucket:ID.name}, ${cache:ID.endpoint}, ${cache:ID.port}";

impl Template {
    /// Parses a string, rejecting unknown or unterminated `${…}` forms.
    ///
    /// Ids are not checked here: validation checks them against the stack.
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = source;

        while let Some(dollar) = rest.find('$') {
            literal.push_str(&rest[..dollar]);
            let after = &rest[dollar..];

            if let Some(escaped) = after.strip_prefix("$${") {
                literal.push_str("${");
                rest = escaped;
            } else if let Some(body_and_rest) = after.strip_prefix("${") {
                let Some(end) = body_and_rest.find('}') else {
                    return Err(TemplateError {
                        message: format!("unterminated interpolation \"{after}\""),
                        help: Some("close it with `}`, or write `$${` for a literal `${`".into()),
                    });
                };
                let interpolation = Interpolation::parse(&body_and_rest[..end])?;
                if !literal.is_empty() {
                    parts.push(TemplatePart::Literal(std::mem::take(&mut literal)));
                }
                parts.push(TemplatePart::Interpolation(interpolation));
                rest = &body_and_rest[end + 1..];
            } else {
                literal.push('$');
                rest = &after[1..];
            }
        }

        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(TemplatePart::Literal(literal));
        }
        Ok(Template { parts })
    }

    /// Builds a template of literal text only.
    pub fn literal(text: impl Into<String>) -> Template {
        let text = text.into();
        if text.is_empty() {
            Template { parts: Vec::new() }
        } else {
            Template {
                parts: vec![TemplatePart::Literal(text)],
            }
        }
    }

    /// Returns the text when the template has no interpolation.
    pub fn as_literal(&self) -> Option<String> {
        let mut text = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Literal(literal) => text.push_str(literal),
                TemplatePart::Interpolation(_) => return None,
            }
        }
        Some(text)
    }

    /// Iterates over the interpolations in source order.
    pub fn interpolations(&self) -> impl Iterator<Item = &Interpolation> {
        self.parts.iter().filter_map(|part| match part {
            TemplatePart::Interpolation(interpolation) => Some(interpolation),
            TemplatePart::Literal(_) => None,
        })
    }

    /// Substitutes every interpolation with the value that `resolve` returns for it.
    ///
    /// # Errors
    /// Returns the first error of `resolve`, such as a cache endpoint not known yet.
    pub fn render<E>(
        &self,
        mut resolve: impl FnMut(&Interpolation) -> Result<String, E>,
    ) -> Result<String, E> {
        let mut text = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Literal(literal) => text.push_str(literal),
                TemplatePart::Interpolation(interpolation) => {
                    text.push_str(&resolve(interpolation)?);
                }
            }
        }
        Ok(text)
    }
}

impl Interpolation {
    fn parse(body: &str) -> Result<Interpolation, TemplateError> {
        let unknown = || TemplateError {
            message: format!("unknown interpolation \"${{{body}}}\""),
            help: Some(format!("the allowed forms are {ALLOWED_FORMS}")),
        };

        match body {
            "account" => return Ok(Interpolation::Account),
            "region" => return Ok(Interpolation::Region),
            "stack" => return Ok(Interpolation::Stack),
            _ => {}
        }

        let Some((kind, reference)) = body.split_once(':') else {
            return Err(unknown());
        };
        let Some((id, attribute)) = reference.rsplit_once('.') else {
            return Err(unknown());
        };
        if id.is_empty() {
            return Err(unknown());
        }
        let id = id.to_owned();

        match (kind, attribute) {
            ("bucket", "arn") => Ok(Interpolation::Bucket {
                id,
                attribute: BucketAttribute::Arn,
            }),
            ("bucket", "name") => Ok(Interpolation::Bucket {
                id,
                attribute: BucketAttribute::Name,
            }),
            ("cache", "endpoint") => Ok(Interpolation::Cache {
                id,
                attribute: CacheAttribute::Endpoint,
            }),
            ("cache", "port") => Ok(Interpolation::Cache {
                id,
                attribute: CacheAttribute::Port,
            }),
            _ => Err(unknown()),
        }
    }
}

impl fmt::Display for Interpolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Interpolation::Account => f.write_str("${account}"),
            Interpolation::Region => f.write_str("${region}"),
            Interpolation::Stack => f.write_str("${stack}"),
            Interpolation::Bucket { id, attribute } => {
                let attribute = match attribute {
                    BucketAttribute::Arn => "arn",
                    BucketAttribute::Name => "name",
                };
                write!(f, "${{bucket:{id}.{attribute}}}")
            }
            Interpolation::Cache { id, attribute } => {
                let attribute = match attribute {
                    CacheAttribute::Endpoint => "endpoint",
                    CacheAttribute::Port => "port",
                };
                write!(f, "${{cache:{id}.{attribute}}}")
            }
        }
    }
}

/// Writes the template back in its source form, escaping literal `${` as `$${`.
impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                TemplatePart::Literal(literal) => f.write_str(&literal.replace("${", "$${"))?,
                TemplatePart::Interpolation(interpolation) => write!(f, "{interpolation}")?,
            }
        }
        Ok(())
    }
}

/// Serialises as the source string, so plans and dumps read like the file.
impl Serialize for Template {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_without_dollar_is_one_part() {
        let template = Template::parse("redis").unwrap();
        assert_eq!(template.as_literal().as_deref(), Some("redis"));
    }

    #[test]
    fn interpolations_parse_in_order() {
        let template =
            Template::parse("arn:aws:secretsmanager:${region}:${account}:secret:x").unwrap();
        let found: Vec<_> = template.interpolations().cloned().collect();
        assert_eq!(found, vec![Interpolation::Region, Interpolation::Account]);
    }

    #[test]
    fn bucket_and_cache_forms_parse() {
        let bucket = Template::parse("${bucket:media.arn}/*").unwrap();
        assert_eq!(
            bucket.parts[0],
            TemplatePart::Interpolation(Interpolation::Bucket {
                id: "media".into(),
                attribute: BucketAttribute::Arn
            })
        );
        let cache = Template::parse("${cache:main.port}").unwrap();
        assert_eq!(
            cache.parts,
            vec![TemplatePart::Interpolation(Interpolation::Cache {
                id: "main".into(),
                attribute: CacheAttribute::Port
            })]
        );
    }

    #[test]
    fn escaped_dollar_brace_stays_literal() {
        let template = Template::parse("a$${b}c").unwrap();
        assert_eq!(template.as_literal().as_deref(), Some("a${b}c"));
        assert_eq!(template.to_string(), "a$${b}c");
    }

    #[test]
    fn lone_dollar_stays_literal() {
        let template = Template::parse("cost $5 $").unwrap();
        assert_eq!(template.as_literal().as_deref(), Some("cost $5 $"));
    }

    #[test]
    fn unknown_form_is_rejected() {
        let error = Template::parse("${bucket:media.url}").unwrap_err();
        assert!(error.message.contains("unknown interpolation"), "{error:?}");
    }

    #[test]
    fn unterminated_form_is_rejected() {
        let error = Template::parse("x${region").unwrap_err();
        assert!(error.message.contains("unterminated"), "{error:?}");
    }

    #[test]
    fn render_substitutes_values() {
        let template = Template::parse("${bucket:media.name}-${region}").unwrap();
        let text = template
            .render(|interpolation| match interpolation {
                Interpolation::Region => Ok::<_, ()>("eu-west-3".to_owned()),
                _ => Ok("media".to_owned()),
            })
            .unwrap();
        assert_eq!(text, "media-eu-west-3");
    }

    #[test]
    fn display_round_trips_source() {
        let source = "arn:aws:s3:::${bucket:files.name}/${stack}/*";
        assert_eq!(Template::parse(source).unwrap().to_string(), source);
    }
}
