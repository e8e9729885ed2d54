//! Checks of single values: ids, names, CIDRs, ports, regions, zones, tags and ARNs.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::Context;
use crate::path;

/// Maximum length of a logical id, which becomes part of the `stackd:id` tag and of messages.
const MAX_ID_LENGTH: usize = 64;

/// Maximum user tags per resource: AWS allows 50 and stackd adds `stackd:stack` and `stackd:id`.
pub(crate) const MAX_USER_TAGS: usize = 48;

/// Returns whether `text` is lowercase letters, digits and hyphens, starting and ending with a letter
/// or digit.
pub(crate) fn is_lowercase_label(text: &str) -> bool {
    let bytes = text.as_bytes();
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
    !bytes.is_empty()
        && bytes.iter().all(allowed)
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// Checks a logical id: the `id` of a component, used in references and in `${…}` forms.
pub(crate) fn check_logical_id(context: &mut Context<'_>, at: &str, id: &str) {
    if !is_lowercase_label(id) || id.len() > MAX_ID_LENGTH {
        context
            .error(at, format!("invalid id \"{id}\""))
            .set_help(format!(
                "use lowercase letters, digits and hyphens, starting and ending with a letter \
                 or digit, at most {MAX_ID_LENGTH} characters"
            ));
    }
}

/// Parses an IPv4 CIDR block that must be a canonical network, or returns 0.0.0.0/0 when invalid.
pub(crate) fn parse_cidr(context: &mut Context<'_>, at: &str, text: &str) -> Ipv4Net {
    let fallback = Ipv4Net::default();

    if !text.contains('/') {
        let help = if text.parse::<Ipv4Addr>().is_ok() {
            format!("write {text}/32 for this one address, or add the network's prefix length")
        } else {
            "write an IPv4 network such as 10.0.0.0/16".to_owned()
        };
        context
            .error(
                at,
                format!("invalid CIDR \"{text}\": missing prefix length"),
            )
            .set_help(help);
        return fallback;
    }

    let Ok(network) = text.parse::<Ipv4Net>() else {
        context
            .error(at, format!("invalid CIDR \"{text}\""))
            .set_help("write an IPv4 network such as 10.0.0.0/16, with a prefix length of 0 to 32");
        return fallback;
    };

    let canonical = network.trunc();
    if canonical != network {
        context
            .error(at, format!("invalid CIDR \"{text}\": host bits are set"))
            .set_help(format!(
                "write {canonical}, the network that contains this address"
            ));
        return canonical;
    }
    network
}

/// Checks a port number, and returns 1 in place of one out of range.
pub(crate) fn port(context: &mut Context<'_>, at: &str, port: i64) -> u16 {
    match u16::try_from(port) {
        Ok(valid) if valid >= 1 => valid,
        _ => {
            context
                .error(at, format!("port {port} is out of range"))
                .set_help("write a port from 1 to 65535");
            1
        }
    }
}

/// Checks `metadata.name`.
pub(crate) fn check_stack_name(context: &mut Context<'_>, at: &str, name: &str) {
    const MAX: usize = 40;
    let starts_with_letter = name.as_bytes().first().is_some_and(u8::is_ascii_lowercase);
    if !is_lowercase_label(name) || !starts_with_letter || name.len() > MAX {
        context
            .error(at, format!("invalid stack name \"{name}\""))
            .set_help(format!(
                "use lowercase letters, digits and hyphens, at most {MAX} characters, starting \
                 with a letter and not ending with a hyphen"
            ));
    }
}

/// Checks an AWS account id.
pub(crate) fn check_account(context: &mut Context<'_>, at: &str, account: &str) {
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        context
            .error(
                at,
                format!("invalid account id \"{account}\": expected 12 digits"),
            )
            .set_help("write the 12-digit account id in quotes, such as \"123456789012\"");
    }
}

/// Returns whether `region` is shaped like an AWS region name, such as `us-gov-west-1`.
pub(crate) fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    if parts.len() < 3 {
        return false;
    }
    let (first, rest) = parts.split_first().expect("at least three parts");
    let (last, middle) = rest.split_last().expect("at least two parts");
    first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && middle
            .iter()
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase()))
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
}

/// The AWS regions open when this release was written. A region missing here is
/// accepted with a warning, since AWS opens new ones.
const KNOWN_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// Checks the stack's region name: an error when it is not shaped like one, a
/// warning when it is not in the list of regions of this release.
pub(crate) fn check_region(context: &mut Context<'_>, at: &str, region: &str) {
    if !is_region(region) {
        context
            .error(at, format!("invalid region \"{region}\""))
            .set_help("write a region name such as eu-west-3 or us-east-1");
        return;
    }
    if KNOWN_REGIONS.contains(&region) {
        return;
    }
    let help = match closest_region(region) {
        Some(known) => format!(
            "did you mean {known}? A region newer than this release of stackd is used as written"
        ),
        None => "check the spelling; a region newer than this release of stackd is used as written"
            .to_owned(),
    };
    context
        .warning(at, format!("unknown region \"{region}\""))
        .set_help(help);
}

/// Returns the known region within two edits of `region`, if exactly one is.
fn closest_region(region: &str) -> Option<&'static str> {
    let near: Vec<&'static str> = KNOWN_REGIONS
        .iter()
        .copied()
        .filter(|known| edit_distance(known, region) <= 2)
        .collect();
    match near.as_slice() {
        [one] => Some(one),
        _ => near
            .iter()
            .copied()
            .find(|known| edit_distance(known, region) == 1),
    }
}

/// Levenshtein distance between two ASCII strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &x) in a.as_bytes().iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &y) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(x != y));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Checks that an availability zone name belongs to `region`, such as `eu-west-3a`.
///
/// Local Zones (`us-east-1-bos-1a`) are accepted as well as the regular zones.
pub(crate) fn check_zone(context: &mut Context<'_>, at: &str, zone: &str, region: &str) {
    let ends_with_letter = zone.as_bytes().last().is_some_and(u8::is_ascii_lowercase);
    let in_region = match zone.strip_prefix(region) {
        Some(letter) if letter.len() == 1 => ends_with_letter,
        Some(local) => {
            local.starts_with('-')
                && ends_with_letter
                && local
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        }
        None => false,
    };
    if in_region {
        return;
    }

    let zone_region = zone.trim_end_matches(|c: char| c.is_ascii_lowercase());
    let message = if is_region(zone_region) && zone_region != region {
        format!(
            "availability zone \"{zone}\" is in {zone_region}, not in the stack's region {region}"
        )
    } else {
        format!("invalid availability zone \"{zone}\"")
    };
    context.error(at, message).set_help(format!(
        "zones of {region} are named {region}a, {region}b, and so on"
    ));
}

/// Checks AWS tags: key and value lengths, characters, reserved prefixes and count.
pub(crate) fn check_tags(
    context: &mut Context<'_>,
    at: &str,
    tags: &BTreeMap<String, String>,
    max: usize,
) {
    let allowed = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c);

    for (key, value) in tags {
        let tag_path = path::join_key(at, key);
        if key.is_empty() || key.chars().count() > 128 || !key.chars().all(allowed) {
            context
                .error_at_key(&tag_path, format!("invalid tag key \"{key}\""))
                .set_help(
                    "use 1 to 128 letters, digits, spaces and the characters _ . : / = + - @",
                );
        }
        let lower = key.to_ascii_lowercase();
        if lower.starts_with("aws:") {
            context
                .error_at_key(
                    &tag_path,
                    format!("tag key \"{key}\" uses the reserved prefix aws:"),
                )
                .set_help("AWS reserves tag keys that start with aws:, so choose another key");
        }
        if lower.starts_with("stackd:") {
            context
                .error_at_key(
                    &tag_path,
                    format!("tag key \"{key}\" uses the reserved prefix stackd:"),
                )
                .set_help(
                    "stackd sets the stackd:stack and stackd:id tags itself, so choose another key",
                );
        }
        if value.chars().count() > 256 || !value.chars().all(allowed) {
            context
                .error(&tag_path, format!("invalid tag value \"{value}\""))
                .set_help(
                    "use at most 256 letters, digits, spaces and the characters _ . : / = + - @",
                );
        }
    }

    if tags.len() > max {
        context
            .error(at, format!("{} tags is too many", tags.len()))
            .set_help(format!(
                "AWS allows 50 tags per resource and stackd adds 2, so at most {max} tags remain"
            ));
    }
}

/// Checks Kubernetes-style labels: an optional DNS prefix and a name of at most 63 characters.
pub(crate) fn check_labels(context: &mut Context<'_>, at: &str, labels: &BTreeMap<String, String>) {
    fn is_label_name(text: &str) -> bool {
        let bytes = text.as_bytes();
        let allowed = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
        bytes.len() <= 63
            && bytes.iter().all(allowed)
            && bytes.first().is_none_or(u8::is_ascii_alphanumeric)
            && bytes.last().is_none_or(u8::is_ascii_alphanumeric)
    }

    for (key, value) in labels {
        let label_path = path::join_key(at, key);
        let name = key.rsplit_once('/').map_or(key.as_str(), |(prefix, name)| {
            if prefix.is_empty() || prefix.len() > 253 || !prefix.split('.').all(is_lowercase_label)
            {
                ""
            } else {
                name
            }
        });
        if name.is_empty() || !is_label_name(name) {
            context
                .error_at_key(&label_path, format!("invalid label key \"{key}\""))
                .set_help(
                    "use an optional DNS prefix and `/`, then at most 63 letters, digits, `-`, `_` \
                     and `.`, starting and ending with a letter or digit",
                );
        }
        if !is_label_name(value) {
            context
                .error(&label_path, format!("invalid label value \"{value}\""))
                .set_help(
                    "use at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a \
                     letter or digit",
                );
        }
    }
}

/// Returns the reason that `name` breaks the S3 general purpose bucket naming rules (S3 User
/// Guide, "General purpose bucket naming rules"), if there is one.
pub(crate) fn bucket_name_problem(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-';
    let alphanumeric = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();

    if !(3..=63).contains(&bytes.len()) {
        return Some(format!("it has {} characters, not 3 to 63", bytes.len()));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !c.is_ascii() || !allowed(&(*c as u8)))
    {
        return Some(format!(
            "it contains '{c}': only lowercase letters, digits, dots and hyphens are allowed"
        ));
    }
    if !alphanumeric(&bytes[0]) || !alphanumeric(&bytes[bytes.len() - 1]) {
        return Some("it must start and end with a letter or digit".to_owned());
    }
    if name.contains("..") {
        return Some("it contains two adjacent dots".to_owned());
    }
    if name.parse::<Ipv4Addr>().is_ok() {
        return Some("it is formatted as an IP address".to_owned());
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return Some(format!("it starts with the reserved prefix {prefix}"));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            return Some(format!("it ends with the reserved suffix {suffix}"));
        }
    }
    None
}

/// Checks a string against the characters EC2 allows in VPC security group names and
/// descriptions: `a-z A-Z 0-9`, spaces and `._-:/()#,@[]+=&;{}!$*`.
pub(crate) fn check_ec2_text(context: &mut Context<'_>, at: &str, text: &str, subject: &str) {
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || c == ' ' || "._-:/()#,@[]+=&;{}!$*".contains(c);
    if let Some(c) = text.chars().find(|c| !allowed(*c)) {
        context
            .error(at, format!("{subject} contains '{c}', which EC2 rejects"))
            .set_help("use letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*");
    } else if text.len() > 255 {
        context
            .error(
                at,
                format!("{subject} has {} characters, more than 255", text.len()),
            )
            .set_help("shorten it to 255 characters");
    }
}

/// Checks an IAM name (role, user or policy): `[A-Za-z0-9+=,.@_-]`, at most `max` characters.
pub(crate) fn check_iam_name(
    context: &mut Context<'_>,
    at: &str,
    name: &str,
    subject: &str,
    max: usize,
) {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    if name.is_empty() || name.len() > max || !name.chars().all(allowed) {
        context
            .error(at, format!("invalid {subject} \"{name}\""))
            .set_help(format!(
                "use 1 to {max} letters, digits and the characters + = , . @ _ -"
            ));
    }
}

/// Splits an ARN into its six fields: `arn`, partition, service, region, account, resource.
pub(crate) fn arn_fields(arn: &str) -> Option<[&str; 6]> {
    let mut fields = arn.splitn(6, ':');
    let parsed = [
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    ];
    (parsed[0] == "arn" && !parsed[1].is_empty() && !parsed[2].is_empty() && !parsed[5].is_empty())
        .then_some(parsed)
}

/// Checks an ACM certificate ARN in `region`.
pub(crate) fn check_certificate_arn(
    context: &mut Context<'_>,
    at: &str,
    arn: &str,
    region: &str,
    certificate_use: &str,
) {
    match arn_fields(arn) {
        Some([_, _, "acm", arn_region, _, resource]) if resource.starts_with("certificate/") => {
            if arn_region != region {
                context
                    .error(
                        at,
                        format!("certificate is in {arn_region}, but {certificate_use} must be in {region}"),
                    )
                    .set_help(format!(
                        "request or import the certificate in {region} and use that ARN"
                    ));
            }
        }
        _ => {
            context
                .error(at, format!("invalid ACM certificate ARN \"{arn}\""))
                .set_help(format!("write arn:aws:acm:{region}:ACCOUNT:certificate/ID"));
        }
    }
}

/// Checks that each subnet of the list at `at` is in a different zone.
pub(crate) fn check_one_subnet_per_zone(
    context: &mut Context<'_>,
    at: &str,
    subnets: &[String],
    network: &crate::model::Network,
    subject: &str,
) {
    let mut zones: BTreeMap<&str, &str> = BTreeMap::new();
    for (i, id) in subnets.iter().enumerate() {
        let Some(subnet) = network.subnet(id) else {
            continue;
        };
        if let Some(first) = zones.insert(&subnet.zone, id) {
            context
                .error(
                    &path::join_index(at, i),
                    format!(
                        "subnets \"{first}\" and \"{id}\" are both in {}",
                        subnet.zone
                    ),
                )
                .set_help(format!(
                    "{subject} take at most one subnet per availability zone"
                ));
        }
    }
}

/// Checks that the list of references at `at` names each component once.
pub(crate) fn check_no_repeats(context: &mut Context<'_>, at: &str, ids: &[String]) {
    for (i, id) in ids.iter().enumerate() {
        if ids[..i].contains(id) {
            context
                .error(
                    &path::join_index(at, i),
                    format!("\"{id}\" is listed twice"),
                )
                .set_help("remove the repeated item");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_region_suggests_the_nearest_known_one() {
        assert_eq!(closest_region("eu-west-33"), Some("eu-west-3"));
        assert_eq!(closest_region("eu-wset-3"), Some("eu-west-3"));
        assert_eq!(closest_region("xx-nowhere-9"), None);
        assert_eq!(edit_distance("eu-west-3", "eu-west-3"), 0);
        assert_eq!(edit_distance("eu-west-1", "eu-west-3"), 1);
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        let cases = [
            ("beezyup-prod-public-media", None),
            ("my.bucket.1", None),
            ("ab", Some("characters")),
            ("My-Bucket", Some("contains 'M'")),
            ("my_bucket", Some("contains '_'")),
            ("-bucket", Some("start and end")),
            ("bucket-", Some("start and end")),
            ("my..bucket", Some("adjacent dots")),
            ("192.168.5.4", Some("IP address")),
            ("xn--bucket", Some("prefix xn--")),
            ("sthree-bucket", Some("prefix sthree-")),
            ("bucket-s3alias", Some("suffix -s3alias")),
            ("bucket--ol-s3", Some("suffix --ol-s3")),
        ];
        for (name, expected) in cases {
            let problem = bucket_name_problem(name);
            match expected {
                None => assert_eq!(problem, None, "{name}"),
                Some(fragment) => assert!(
                    problem.as_deref().is_some_and(|p| p.contains(fragment)),
                    "{name}: {problem:?}"
                ),
            }
        }
    }

    #[test]
    fn region_names_are_recognised() {
        for region in ["eu-west-3", "us-east-1", "us-gov-west-1", "ap-southeast-4"] {
            assert!(is_region(region), "{region}");
        }
        for region in [
            "eu-west3",
            "EU-west-3",
            "euwest-3",
            "eu-west-",
            "eu--3",
            "eu-west-3a",
        ] {
            assert!(!is_region(region), "{region}");
        }
    }

    #[test]
    fn lowercase_labels_reject_edges() {
        assert!(is_lowercase_label("public-a"));
        assert!(!is_lowercase_label("-a"));
        assert!(!is_lowercase_label("a-"));
        assert!(!is_lowercase_label("Public"));
        assert!(!is_lowercase_label(""));
    }

    #[test]
    fn arn_fields_split_six_ways() {
        let fields = arn_fields("arn:aws:acm:us-east-1:000000000000:certificate/x").unwrap();
        assert_eq!(fields[2], "acm");
        assert_eq!(fields[3], "us-east-1");
        assert_eq!(fields[5], "certificate/x");
        assert!(arn_fields("arn:aws:acm").is_none());
    }
}
