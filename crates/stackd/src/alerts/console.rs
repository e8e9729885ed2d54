//! Links from a resource of a message to its page, or its filtered list, in the AWS console.
//!
//! Plans name resources by logical id (`security-group/ecs`), not by AWS id, so the
//! links find a resource by what the file knows: its `Name` tag, which stackd sets on
//! every EC2 and VPC resource, or its name for S3 buckets and IAM roles and users.
//!
//! NOTE: the list filters in the fragments (`#subnets:tag:Name=…`) follow the form that
//! the EC2 and VPC consoles write in their own URLs; they are not a documented API. If
//! AWS changes them, the link still opens the right list in the right region.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use stackd_spec::model::Stack;

/// Characters escaped in a console URL's fragment value.
const FRAGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'|')
    .add(b';')
    .add(b'=')
    .add(b'&');

/// Builds console links for the resources of one stack.
#[derive(Debug, Clone)]
pub struct Console {
    stack: String,
    region: String,
    security_groups: Vec<(String, String)>,
    buckets: Vec<(String, String)>,
    roles: Vec<(String, String)>,
    users: Vec<(String, String)>,
    caches: Vec<(String, String)>,
}

impl Console {
    pub fn new(stack: &Stack) -> Self {
        let pairs = |items: Vec<(&String, &String)>| -> Vec<(String, String)> {
            items
                .into_iter()
                .map(|(id, name)| (id.clone(), name.clone()))
                .collect()
        };
        Console {
            stack: stack.name.clone(),
            region: stack.region.clone(),
            security_groups: pairs(
                stack
                    .security_groups
                    .iter()
                    .map(|group| (&group.id, &group.name))
                    .collect(),
            ),
            buckets: pairs(
                stack
                    .buckets
                    .iter()
                    .map(|bucket| (&bucket.id, &bucket.name))
                    .collect(),
            ),
            roles: pairs(
                stack
                    .iam
                    .roles
                    .iter()
                    .map(|role| (&role.id, &role.name))
                    .collect(),
            ),
            users: pairs(
                stack
                    .iam
                    .users
                    .iter()
                    .map(|user| (&user.id, &user.name))
                    .collect(),
            ),
            caches: pairs(
                stack
                    .caches
                    .iter()
                    .map(|cache| (&cache.id, &cache.name))
                    .collect(),
            ),
        }
    }

    /// Returns the console link of a resource named as a plan names it, such as
    /// `subnet/private-a`, or `None` for a kind without a known page.
    pub fn link(&self, resource: &str) -> Option<String> {
        let (kind, id) = resource.split_once('/').unwrap_or((resource, ""));
        let region = &self.region;
        let vpc = |list: &str, name: &str| {
            format!(
                "https://{region}.console.aws.amazon.com/vpcconsole/home?region={region}#{list}:tag:Name={}",
                encode(name)
            )
        };
        let ec2 = |list: &str, name: &str| {
            format!(
                "https://{region}.console.aws.amazon.com/ec2/home?region={region}#{list}:tag:Name={}",
                encode(name)
            )
        };
        let named = |pairs: &[(String, String)]| {
            pairs
                .iter()
                .find(|(logical, _)| logical == id)
                .map(|(_, name)| name.clone())
        };
        let stack_name = |suffix: &str| format!("{}-{suffix}", self.stack);
        match kind {
            "vpc" => Some(vpc("vpcs", &stack_name("vpc"))),
            "internet-gateway" => Some(vpc("igws", &stack_name("igw"))),
            "subnet" => Some(vpc("subnets", &stack_name(id))),
            "route-table" => Some(vpc("RouteTables", &stack_name(id))),
            "nat-gateway" => Some(vpc("NatGateways", &stack_name(id))),
            "vpc-endpoint" => Some(vpc("Endpoints", &stack_name(id))),
            "elastic-ip" => Some(ec2("Addresses", &stack_name(id))),
            "security-group" => Some(ec2("SecurityGroups", &named(&self.security_groups)?)),
            "bucket" => Some(format!(
                "https://s3.console.aws.amazon.com/s3/buckets/{}?region={region}",
                encode(&named(&self.buckets)?)
            )),
            "role" | "instance-profile" => Some(format!(
                "https://console.aws.amazon.com/iam/home#/roles/details/{}",
                encode(&named(&self.roles)?)
            )),
            "user" => Some(format!(
                "https://console.aws.amazon.com/iam/home#/users/details/{}",
                encode(&named(&self.users)?)
            )),
            // The cache's name is in the message; the console's page for one
            // serverless cache has no URL form that this code could check.
            "cache" => named(&self.caches).map(|_| {
                format!("https://{region}.console.aws.amazon.com/elasticache/home?region={region}")
            }),
            _ => None,
        }
    }
}

fn encode(value: &str) -> String {
    utf8_percent_encode(value, FRAGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn console() -> Console {
        let text = include_str!("../../../../config/beezyup-prod-c01.yaml");
        let stack = stackd_spec::load(text, "beezyup-prod-c01.yaml")
            .expect("the production file loads")
            .stack;
        Console::new(&stack)
    }

    #[test]
    fn links_follow_the_resource_kind() {
        let console = console();
        let cases = [
            (
                "security-group/ecs",
                "https://eu-west-3.console.aws.amazon.com/ec2/home?region=eu-west-3#SecurityGroups:tag:Name=beezyup-prod-c01-ecs",
            ),
            (
                "subnet/private-a",
                "https://eu-west-3.console.aws.amazon.com/vpcconsole/home?region=eu-west-3#subnets:tag:Name=beezyup-prod-c01-private-a",
            ),
            (
                "bucket/media",
                "https://s3.console.aws.amazon.com/s3/buckets/beezyup-prod-public-media?region=eu-west-3",
            ),
            (
                "role/task",
                "https://console.aws.amazon.com/iam/home#/roles/details/beezyup-prod-c01-task",
            ),
        ];
        for (resource, expected) in cases {
            assert_eq!(
                console.link(resource).as_deref(),
                Some(expected),
                "{resource}"
            );
        }
    }

    #[test]
    fn unknown_resources_have_no_link() {
        let console = console();
        assert_eq!(console.link("security-group/missing"), None);
        assert_eq!(console.link("distribution/api"), None);
    }
}
