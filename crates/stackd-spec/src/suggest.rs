//! "Did you mean" suggestions for misspelt field names, enum values and ids.

/// Minimum Jaro-Winkler similarity for a suggestion. Jaro-Winkler scores shared prefixes
/// higher than plain Jaro, so this threshold is a little stricter than clap's 0.7 on Jaro.
const MIN_SIMILARITY: f64 = 0.8;

/// Returns the candidate closest to `input`, if any is close enough.
///
/// A candidate equal to `input` ignoring ASCII case always wins, so `Aes256` suggests `AES256`.
pub(crate) fn did_you_mean<'a, I>(input: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut best: Option<(&str, f64)> = None;
    for candidate in candidates {
        if candidate == input {
            continue;
        }
        let score = if candidate.eq_ignore_ascii_case(input) {
            2.0
        } else {
            strsim::jaro_winkler(input, candidate)
        };
        if score >= MIN_SIMILARITY && best.is_none_or(|(_, best_score)| score > best_score) {
            best = Some((candidate, score));
        }
    }
    best.map(|(candidate, _)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_name_is_suggested() {
        let fields = ["id", "tier", "zone", "cidr", "mapPublicIpOnLaunch"];
        assert_eq!(did_you_mean("cdir", fields), Some("cidr"));
    }

    #[test]
    fn case_difference_wins() {
        assert_eq!(
            did_you_mean("aes256", ["AES256", "aws:kms"]),
            Some("AES256")
        );
    }

    #[test]
    fn distant_name_is_not_suggested() {
        assert_eq!(did_you_mean("bandwidth", ["id", "tier", "zone"]), None);
    }
}
