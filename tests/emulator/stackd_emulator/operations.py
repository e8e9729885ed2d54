"""Name the AWS operation of a signed HTTP request, for the call log.

Query-protocol services (EC2, IAM, STS, ELBv2, Auto Scaling, ElastiCache)
send the operation as the ``Action`` parameter and JSON-protocol services
(ECS) as the suffix of the ``X-Amz-Target`` header. REST services (S3,
CloudFront, API Gateway v2) only imply it through method, path and query,
so for them this module makes a best-effort guess and falls back to
``"METHOD /path"`` when it has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

READ_ONLY_PREFIXES = ("Describe", "Get", "List", "Head")
"""Operation name prefixes that AWS uses for calls that change nothing."""


@dataclass(frozen=True)
class Operation:
    """The operation of one request and whether it can change AWS state."""

    name: str
    mutating: bool


def credential_scope_service(authorization: str | None, query: str) -> str | None:
    """Return the service of the SigV4 credential scope, or None when unsigned.

    The scope ``AKID/DATE/REGION/SERVICE/aws4_request`` comes from the
    ``Credential=`` part of the Authorization header, or from the
    ``X-Amz-Credential`` parameter of a presigned URL.
    """
    credential = None
    if authorization and authorization.startswith("AWS4-"):
        for part in authorization.split(" ", 1)[-1].split(","):
            key, _, value = part.strip().partition("=")
            if key == "Credential":
                credential = value
                break
    if credential is None:
        credential = dict(parse_qsl(query)).get("X-Amz-Credential")
    if credential is None:
        return None

    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        return None
    return scope[3]


def name_operation(
    *,
    service: str,
    method: str,
    path: str,
    query: str,
    target: str | None,
    form_action: str | None,
    copy_source: str | None = None,
) -> Operation:
    """Name the operation of one request.

    ``target`` is the X-Amz-Target header, ``form_action`` the ``Action``
    field of a form-encoded body and ``copy_source`` the S3
    ``x-amz-copy-source`` header. Each is None when the request lacks it.
    """
    params = dict(parse_qsl(query, keep_blank_values=True))

    if target:
        return _by_name(target.rsplit(".", 1)[-1])
    action = form_action or params.get("Action")
    if action:
        return _by_name(action)

    # Only REST services remain: a GET or HEAD reads, whatever its name.
    read_only = method in ("GET", "HEAD")
    if service == "s3":
        name = s3_operation(method, path, params, copy_source)
    elif service == "cloudfront":
        name = cloudfront_operation(method, path, params)
    elif service == "apigateway" and path.startswith("/v2/"):
        name = apigatewayv2_operation(method, path)
    else:
        name = None
    if name is None:
        return Operation(f"{method} {path}", mutating=not read_only)
    return Operation(name, mutating=not (read_only or name.startswith(READ_ONLY_PREFIXES)))


def _by_name(name: str) -> Operation:
    return Operation(name, mutating=not name.startswith(READ_ONLY_PREFIXES))


# S3 bucket subresources (query keys) and the noun of their operations:
# `PUT /bucket?tagging` is PutBucketTagging, `DELETE` DeleteBucketTagging.
S3_BUCKET_SUBRESOURCES = {
    "accelerate": "BucketAccelerateConfiguration",
    "acl": "BucketAcl",
    "analytics": "BucketAnalyticsConfiguration",
    "cors": "BucketCors",
    "encryption": "BucketEncryption",
    "intelligent-tiering": "BucketIntelligentTieringConfiguration",
    "inventory": "BucketInventoryConfiguration",
    "lifecycle": "BucketLifecycleConfiguration",
    "logging": "BucketLogging",
    "metrics": "BucketMetricsConfiguration",
    "notification": "BucketNotificationConfiguration",
    "object-lock": "ObjectLockConfiguration",
    "ownershipControls": "BucketOwnershipControls",
    "policy": "BucketPolicy",
    "policyStatus": "BucketPolicyStatus",
    "publicAccessBlock": "PublicAccessBlock",
    "replication": "BucketReplication",
    "requestPayment": "BucketRequestPayment",
    "tagging": "BucketTagging",
    "versioning": "BucketVersioning",
    "website": "BucketWebsite",
}

# Object subresources, as above: `PUT /bucket/key?tagging` is PutObjectTagging.
S3_OBJECT_SUBRESOURCES = {
    "acl": "ObjectAcl",
    "attributes": "ObjectAttributes",
    "legal-hold": "ObjectLegalHold",
    "retention": "ObjectRetention",
    "tagging": "ObjectTagging",
}

HTTP_VERBS = {"GET": "Get", "PUT": "Put", "DELETE": "Delete", "HEAD": "Head"}


def s3_operation(
    method: str, path: str, params: dict[str, str], copy_source: str | None
) -> str | None:
    """Name a path-style S3 request (``/bucket`` or ``/bucket/key``)."""
    # The Rust SDK names operations whose URI has no literal query key itself.
    if "x-id" in params:
        return params["x-id"]

    bucket, _, key = path.lstrip("/").partition("/")
    if not bucket:
        return "ListBuckets" if method == "GET" else None
    if key:
        return _s3_object_operation(method, params, copy_source)
    return _s3_bucket_operation(method, params)


def _s3_bucket_operation(method: str, params: dict[str, str]) -> str | None:
    if method == "GET":
        if "location" in params:
            return "GetBucketLocation"
        if "uploads" in params:
            return "ListMultipartUploads"
        if "versions" in params:
            return "ListObjectVersions"
    if method == "POST" and "delete" in params:
        return "DeleteObjects"
    if method == "DELETE" and "lifecycle" in params:
        return "DeleteBucketLifecycle"

    for key, noun in S3_BUCKET_SUBRESOURCES.items():
        if key in params:
            verb = HTTP_VERBS.get(method)
            return verb + noun if verb else None

    plain = {
        "PUT": "CreateBucket",
        "DELETE": "DeleteBucket",
        "HEAD": "HeadBucket",
        "GET": "ListObjectsV2" if params.get("list-type") == "2" else "ListObjects",
    }
    return plain.get(method)


def _s3_object_operation(
    method: str, params: dict[str, str], copy_source: str | None
) -> str | None:
    for key, noun in S3_OBJECT_SUBRESOURCES.items():
        if key in params:
            verb = HTTP_VERBS.get(method)
            return verb + noun if verb else None

    upload = "uploadId" in params
    if method == "POST":
        if "uploads" in params:
            return "CreateMultipartUpload"
        return "CompleteMultipartUpload" if upload else None
    if method == "PUT":
        if upload:
            return "UploadPartCopy" if copy_source else "UploadPart"
        return "CopyObject" if copy_source else "PutObject"
    if method == "GET":
        return "ListParts" if upload else "GetObject"
    if method == "DELETE":
        return "AbortMultipartUpload" if upload else "DeleteObject"
    if method == "HEAD":
        return "HeadObject"
    return None


def cloudfront_operation(method: str, path: str, params: dict[str, str]) -> str | None:
    """Name a CloudFront request of the form ``/VERSION/RESOURCE[/ID[/SUB]]``.

    A collection (``/2020-05-31/distribution``) is created by POST and listed
    by GET; an item is read by GET and deleted by DELETE, and its ``config``
    is read by GET and replaced by PUT (UpdateDistribution, for example).
    """
    segments = path.strip("/").split("/")[1:]
    if not segments or not segments[0]:
        return None
    resource = _pascal_case(segments[0])

    if resource == "Tagging":
        operation = params.get("Operation")
        if method == "GET":
            return "ListTagsForResource"
        return {"Tag": "TagResource", "Untag": "UntagResource"}.get(operation or "")

    if len(segments) == 1:
        if method == "POST":
            return f"Create{resource}WithTags" if "WithTags" in params else f"Create{resource}"
        return f"List{_plural(resource)}" if method == "GET" else None
    if len(segments) == 2:
        return {"GET": f"Get{resource}", "DELETE": f"Delete{resource}"}.get(method)

    sub = segments[2]
    if sub == "config":
        return {"GET": f"Get{resource}Config", "PUT": f"Update{resource}"}.get(method)
    if sub == "invalidation":
        if len(segments) == 4:
            return "GetInvalidation" if method == "GET" else None
        return {"POST": "CreateInvalidation", "GET": "ListInvalidations"}.get(method)
    return None


# API Gateway v2 collections and the singular noun of their operations.
APIGATEWAYV2_COLLECTIONS = {
    "apimappings": "ApiMapping",
    "apis": "Api",
    "authorizers": "Authorizer",
    "deployments": "Deployment",
    "domainnames": "DomainName",
    "integrationresponses": "IntegrationResponse",
    "integrations": "Integration",
    "models": "Model",
    "routeresponses": "RouteResponse",
    "routes": "Route",
    "stages": "Stage",
    "vpclinks": "VpcLink",
}


def apigatewayv2_operation(method: str, path: str) -> str | None:
    """Name an API Gateway v2 request such as ``PATCH /v2/apis/ID/stages/NAME``.

    The last collection in the path names the resource. API Gateway v2
    lists with Get (GetStages, not ListStages) and updates with PATCH.
    """
    segments = path.strip("/").split("/")[1:]
    if not segments:
        return None
    if segments[0] == "tags":
        return {"GET": "GetTags", "POST": "TagResource", "DELETE": "UntagResource"}.get(method)

    # Walk the COLLECTION/ID pairs. The last pair decides between item and collection.
    noun = None
    is_item = False
    for index in range(0, len(segments), 2):
        noun = APIGATEWAYV2_COLLECTIONS.get(segments[index])
        if noun is None:
            return None
        is_item = index + 1 < len(segments)

    if is_item:
        verbs = {"GET": "Get", "PATCH": "Update", "DELETE": "Delete"}
        verb = verbs.get(method)
        return f"{verb}{noun}" if verb else None
    if method == "POST":
        return f"Create{noun}"
    return f"Get{_plural(noun)}" if method == "GET" else None


def _pascal_case(kebab: str) -> str:
    return "".join(word[:1].upper() + word[1:] for word in kebab.split("-"))


def _plural(noun: str) -> str:
    if noun.endswith("y") and not noun.endswith(("ay", "ey", "oy")):
        return noun[:-1] + "ies"
    return noun + "s"
