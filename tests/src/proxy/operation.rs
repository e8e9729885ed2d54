//! Names the AWS service, operation and protocol of a signed HTTP request.
//!
//! The service is the signing name of the SigV4 credential scope. JSON
//! services name the operation in the `X-Amz-Target` header and the query
//! services (EC2, IAM, STS, ElastiCache, Auto Scaling, ELBv2) in the `Action`
//! form field. REST services only imply it: S3 requests are named from
//! their method, path and query as the S3 API reference maps them, and other
//! REST requests are named `METHOD /first-path-segment`.

use super::http::Request;

/// How a service encodes its errors, and so the shape of a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// EC2's query protocol: `<Response><Errors><Error>…`.
    Ec2Query,
    /// The query protocol of IAM, STS, ElastiCache and others: `<ErrorResponse><Error>…`.
    AwsQuery,
    /// `awsJson1_0` and `awsJson1_1`: a JSON body with `__type`.
    AwsJson,
    /// S3's REST-XML: `<Error><Code>…`.
    S3,
    /// Other REST-XML services, such as CloudFront: `<ErrorResponse><Error>…`.
    RestXml,
    /// REST-JSON services, such as API Gateway: the `x-amzn-ErrorType` header.
    RestJson,
}

/// What a request is, as far as the proxy can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identified {
    /// SigV4 signing name, such as `ec2`; `unsigned` when the request has no signature.
    pub service: String,
    pub operation: String,
    pub protocol: Protocol,
}

/// Identifies the service, operation and protocol of `request`.
pub fn identify(request: &Request) -> Identified {
    let service = signing_service(request).unwrap_or_else(|| "unsigned".to_owned());

    if let Some(target) = request.header("x-amz-target") {
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        return Identified {
            service,
            operation,
            protocol: Protocol::AwsJson,
        };
    }
    if let Some(action) = form_action(request) {
        let protocol = if service == "ec2" {
            Protocol::Ec2Query
        } else {
            Protocol::AwsQuery
        };
        return Identified {
            service,
            operation: action,
            protocol,
        };
    }
    if service == "s3" {
        let operation = s3_operation(&request.method, request.path(), request.query())
            .unwrap_or_else(|| format!("{} {}", request.method, request.path()));
        return Identified {
            service,
            operation,
            protocol: Protocol::S3,
        };
    }
    let first_segment = request
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    let protocol = if service == "cloudfront" {
        Protocol::RestXml
    } else {
        Protocol::RestJson
    };
    Identified {
        operation: format!("{} /{first_segment}", request.method),
        service,
        protocol,
    }
}

/// Returns the service of the `Credential=AKID/DATE/REGION/SERVICE/aws4_request`
/// part of a SigV4 Authorization header.
fn signing_service(request: &Request) -> Option<String> {
    let authorization = request.header("authorization")?;
    let credential = authorization
        .split([' ', ','])
        .find_map(|part| part.trim().strip_prefix("Credential="))?;
    let scope: Vec<&str> = credential.split('/').collect();
    match scope.as_slice() {
        [_, _, _, service, "aws4_request"] => Some((*service).to_owned()),
        _ => None,
    }
}

/// Returns the `Action` field of a form-encoded body, or of the query string.
fn form_action(request: &Request) -> Option<String> {
    let is_form = request
        .header("content-type")
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    let body = if is_form {
        String::from_utf8_lossy(&request.body).into_owned()
    } else {
        String::new()
    };
    [body.as_str(), request.query()]
        .into_iter()
        .flat_map(|fields| fields.split('&'))
        .find_map(|field| field.strip_prefix("Action="))
        .map(percent_decode)
}

/// S3 bucket subresources (query keys) and the noun of their operations:
/// `PUT /bucket?tagging` is PutBucketTagging.
const S3_BUCKET_SUBRESOURCES: [(&str, &str); 15] = [
    ("accelerate", "BucketAccelerateConfiguration"),
    ("acl", "BucketAcl"),
    ("cors", "BucketCors"),
    ("encryption", "BucketEncryption"),
    ("lifecycle", "BucketLifecycleConfiguration"),
    ("logging", "BucketLogging"),
    ("notification", "BucketNotificationConfiguration"),
    ("object-lock", "ObjectLockConfiguration"),
    ("ownershipControls", "BucketOwnershipControls"),
    ("policy", "BucketPolicy"),
    ("policyStatus", "BucketPolicyStatus"),
    ("publicAccessBlock", "PublicAccessBlock"),
    ("replication", "BucketReplication"),
    ("tagging", "BucketTagging"),
    ("versioning", "BucketVersioning"),
];

/// Names a path-style S3 request (`/bucket` or `/bucket/key`), or `None`
/// when it is none of the common operations.
pub fn s3_operation(method: &str, path: &str, query: &str) -> Option<String> {
    let keys: Vec<&str> = query
        .split('&')
        .filter(|field| !field.is_empty())
        .map(|field| field.split('=').next().unwrap_or(field))
        .collect();
    // The Rust SDK adds `x-id=Operation` where the URI alone does not name it.
    if let Some(name) = query
        .split('&')
        .find_map(|field| field.strip_prefix("x-id="))
    {
        return Some(name.to_owned());
    }
    let has = |key: &str| keys.contains(&key);
    let verb = match method {
        "GET" => "Get",
        "PUT" => "Put",
        "DELETE" => "Delete",
        _ => "",
    };

    let (bucket, key) = path
        .trim_start_matches('/')
        .split_once('/')
        .unwrap_or((path.trim_start_matches('/'), ""));
    if bucket.is_empty() {
        return (method == "GET").then(|| "ListBuckets".to_owned());
    }
    if !key.is_empty() {
        if has("tagging") && !verb.is_empty() {
            return Some(format!("{verb}ObjectTagging"));
        }
        return match method {
            "GET" => Some("GetObject".to_owned()),
            "PUT" => Some("PutObject".to_owned()),
            "DELETE" => Some("DeleteObject".to_owned()),
            "HEAD" => Some("HeadObject".to_owned()),
            _ => None,
        };
    }
    if method == "GET" && has("location") {
        return Some("GetBucketLocation".to_owned());
    }
    if method == "GET" && has("versions") {
        return Some("ListObjectVersions".to_owned());
    }
    if method == "POST" && has("delete") {
        return Some("DeleteObjects".to_owned());
    }
    if let Some((_, noun)) = S3_BUCKET_SUBRESOURCES
        .iter()
        .find(|(subresource, _)| has(subresource))
    {
        return (!verb.is_empty()).then(|| format!("{verb}{noun}"));
    }
    match method {
        "PUT" => Some("CreateBucket".to_owned()),
        "DELETE" => Some("DeleteBucket".to_owned()),
        "HEAD" => Some("HeadBucket".to_owned()),
        "GET" if query.contains("list-type=2") => Some("ListObjectsV2".to_owned()),
        "GET" => Some("ListObjects".to_owned()),
        _ => None,
    }
}

/// Decodes `%XX` escapes and `+` (a space in form fields).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => decoded.push(b' '),
            b'%' if index + 2 < bytes.len() => {
                let high = (bytes[index + 1] as char).to_digit(16);
                let low = (bytes[index + 2] as char).to_digit(16);
                match (high, low) {
                    (Some(high), Some(low)) => {
                        decoded.push((high * 16 + low) as u8);
                        index += 2;
                    }
                    _ => decoded.push(b'%'),
                }
            }
            byte => decoded.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Request {
        Request {
            method: method.to_owned(),
            target: target.to_owned(),
            headers: headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn signed(service: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=testing/20260101/eu-west-3/{service}/aws4_request, SignedHeaders=host, Signature=0"
        )
    }

    #[test]
    fn requests_are_identified_by_protocol() {
        let ec2 = signed("ec2");
        let iam = signed("iam");
        let ecs = signed("ecs");
        let s3 = signed("s3");
        let cloudfront = signed("cloudfront");
        let apigateway = signed("apigateway");
        let form = (
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8",
        );
        let cases = [
            (
                request(
                    "POST",
                    "/",
                    &[("Authorization", &ec2), form],
                    "Action=DescribeVpcs&Version=2016-11-15",
                ),
                ("ec2", "DescribeVpcs", Protocol::Ec2Query),
            ),
            (
                request(
                    "POST",
                    "/",
                    &[("Authorization", &iam), form],
                    "Version=2010-05-08&Action=GetRole&RoleName=r",
                ),
                ("iam", "GetRole", Protocol::AwsQuery),
            ),
            (
                request(
                    "POST",
                    "/",
                    &[
                        ("Authorization", &ecs),
                        (
                            "X-Amz-Target",
                            "AmazonEC2ContainerServiceV20141113.DescribeClusters",
                        ),
                    ],
                    "{}",
                ),
                ("ecs", "DescribeClusters", Protocol::AwsJson),
            ),
            (
                request(
                    "GET",
                    "/media?publicAccessBlock",
                    &[("Authorization", &s3)],
                    "",
                ),
                ("s3", "GetPublicAccessBlock", Protocol::S3),
            ),
            (
                request(
                    "GET",
                    "/2020-05-31/distribution/E1",
                    &[("Authorization", &cloudfront)],
                    "",
                ),
                ("cloudfront", "GET /2020-05-31", Protocol::RestXml),
            ),
            (
                request("GET", "/v2/apis", &[("Authorization", &apigateway)], ""),
                ("apigateway", "GET /v2", Protocol::RestJson),
            ),
            (
                request("GET", "/_stackd/calls", &[], ""),
                ("unsigned", "GET /_stackd", Protocol::RestJson),
            ),
        ];
        for (request, (service, operation, protocol)) in cases {
            let identified = identify(&request);
            assert_eq!(identified.service, service, "{request:?}");
            assert_eq!(identified.operation, operation, "{request:?}");
            assert_eq!(identified.protocol, protocol, "{request:?}");
        }
    }

    #[test]
    fn s3_requests_are_named_from_method_path_and_query() {
        let cases = [
            ("GET", "/", "", Some("ListBuckets")),
            ("PUT", "/media", "", Some("CreateBucket")),
            ("HEAD", "/media", "", Some("HeadBucket")),
            ("GET", "/media", "tagging", Some("GetBucketTagging")),
            ("PUT", "/media", "versioning", Some("PutBucketVersioning")),
            ("DELETE", "/media", "policy", Some("DeleteBucketPolicy")),
            (
                "GET",
                "/media",
                "ownershipControls",
                Some("GetBucketOwnershipControls"),
            ),
            (
                "GET",
                "/media",
                "list-type=2&prefix=a",
                Some("ListObjectsV2"),
            ),
            ("GET", "/media/a/b.txt", "x-id=GetObject", Some("GetObject")),
            ("PUT", "/media/a.txt", "", Some("PutObject")),
            ("POST", "/media", "", None),
        ];
        for (method, path, query, expected) in cases {
            assert_eq!(
                s3_operation(method, path, query).as_deref(),
                expected,
                "{method} {path}?{query}"
            );
        }
    }

    #[test]
    fn percent_escapes_are_decoded() {
        assert_eq!(
            percent_decode("arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr"),
            "arn:aws:iam::1:role/r"
        );
        assert_eq!(percent_decode("a+b"), "a b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
