"""AWS behaviour that stackd needs and moto 5.2.5 lacks, patched into moto.

Patched so far: the root element of S3 GetBucketVersioning responses, the
tags of S3 CreateBucket, the atomicity of S3 conditional writes (If-Match,
If-None-Match), EC2 client tokens of CreateNatGateway, CreateRouteTable,
CreateVpcEndpoint and CreateLaunchTemplate, repeated ELBv2 CreateListener,
CreateLoadBalancer and CreateTargetGroup calls, ECS DescribeCapacityProviders
without names, Auto Scaling updates that leave the mixed instances policy
out, the AWS managed IAM policies, which moto leaves out unless configured to
load them, ElastiCache Serverless, which module
``elasticache_serverless`` adds, the read-back of CloudFront origins and
ETags, which module ``cloudfront_distributions`` fixes, ECS capacity provider
strategies on services, awsvpc read-back and task definition defaults, which
module ``ecs_services`` adds, and API Gateway v2 UpdateStage, GetAuthorizers
and VPC link status, which module ``apigatewayv2_http_apis`` adds. Each
module's docstring lists the AWS behaviour it reproduces. ``install()`` runs
once, before the server builds its WSGI app, so a patch made here is in place
for every request.

Known gaps of moto 5.2.5 that are not patched yet, and that no test relies on:
NAT gateways are ``available`` in the CreateNatGateway response (AWS says
``pending``); ModifyVpcEndpoint changes a Gateway endpoint's route table ids
without adding or removing the prefix-list routes.

How moto 5.2.5 dispatches a request (``moto/core/responses.py``):

1. ``DomainDispatcherApplication`` picks the service backend from the SigV4
   credential scope in the Authorization header, and builds one Flask app
   per service from that service's ``urls.py``. Its URL patterns point at
   methods of the service's response class, mostly ``dispatch``.
2. ``BaseResponse._get_action()`` names the operation. Query-protocol
   services (EC2, IAM, ElastiCache...) send it as the ``Action`` parameter
   and JSON-protocol services (ECS) as the suffix of the ``X-Amz-Target``
   header. For REST services (CloudFront, API Gateway v2) it is the
   operation whose method and URI match the request in the botocore model.
   S3 is the exception: ``S3Response.bucket_response`` and ``key_response``
   pick the method from the HTTP method and query keys themselves.
3. ``BaseResponse.call_action()`` converts that name to snake case
   (``UpdateStage`` becomes ``update_stage``) and calls the method of that
   name on the response class. A missing method ends in
   ``NotImplementedError``, which the client sees as a 500 response.
4. The method returns either a finished ``(status, headers, body)`` or
   ``(body, headers)``, or an ``ActionResult`` wrapping a plain dict or a
   model object. ``call_action`` serialises an ``ActionResult`` through the
   botocore output shape of the operation, so field names and types follow
   the AWS model. The EC2 and CloudFront responses work this way, while
   others build the body themselves, API Gateway v2 for one with
   ``json.dumps``.

So an operation that moto lacks is added by setting a snake-case method on
the service's response class, for example
``ApiGatewayV2Response.update_stage``, that parses ``self.body`` or
``self._get_param(...)``, calls a backend method (add one to the backend
class the same way when needed) and returns an ``ActionResult``. A REST
operation also needs its URL in the service's ``url_paths`` when no
existing pattern matches it. Backends are reached per account and region
as ``moto.<service>.models.<service>_backends[account_id][region]``.
"""

from __future__ import annotations

import threading

from . import (
    apigatewayv2_http_apis,
    cloudfront_distributions,
    ecs_services,
    elasticache_serverless,
)


_S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"


def _versioning_configuration(status: str | None) -> str:
    """Build a GetBucketVersioning body as AWS sends it.

    The S3 API reference says a bucket that never had versioning enabled
    returns no Status element. MFADelete is left out because moto does not
    model it.
    """
    status_element = f"<Status>{status}</Status>" if status else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<VersioningConfiguration xmlns="{_S3_NAMESPACE}">{status_element}</VersioningConfiguration>'
    )


def _patch_s3_versioning_root() -> None:
    """Answer GetBucketVersioning under the root element that AWS uses.

    moto 5.2.5 serialises the result under ``GetBucketVersioningResponse``,
    and the AWS SDKs reject it because they expect ``VersioningConfiguration``.
    """
    from moto.s3.responses import S3Response

    def get_bucket_versioning(self):  # type: ignore[no-untyped-def]
        status = self.backend.get_bucket_versioning(self.bucket_name)
        return 200, {"Content-Type": "application/xml"}, _versioning_configuration(status)

    S3Response.get_bucket_versioning = get_bucket_versioning


# Serialises S3 PutObject and DeleteObject, see _make_s3_conditional_writes_atomic.
_S3_WRITE_LOCK = threading.Lock()


def _make_s3_conditional_writes_atomic() -> None:
    """Make a conditional PutObject or DeleteObject check and write in one step.

    AWS documents that of concurrent conditional writes to one key, exactly one
    succeeds and the others get 412 Precondition Failed (or 409
    ConditionalRequestConflict). moto 5.2.5 checks If-Match and If-None-Match,
    then writes, without a lock, and the server handles requests on several
    threads: two runs taking stackd's lease at once could both succeed. Every
    PutObject and DeleteObject now runs under one lock, which makes the check
    and the write one step, as in AWS. Multipart uploads and CopyObject are not
    serialised; stackd uses neither with conditions.
    """
    from moto.s3.responses import S3Response

    for name in ("put_object", "delete_object"):
        unlocked = getattr(S3Response, name)

        def locked(self, _unlocked=unlocked):  # type: ignore[no-untyped-def]
            with _S3_WRITE_LOCK:
                return _unlocked(self)

        setattr(S3Response, name, locked)


def _patch_s3_create_bucket_tags() -> None:
    """Tag a new bucket with the ``Tags`` of its CreateBucketConfiguration.

    The S3 API model, and so the SDKs' CreateBucketConfiguration, has
    ``Tags``: the bucket is created with them in one request. moto 5.2.5 reads only the
    LocationConstraint and drops the tags, so a create whose follow-up
    PutBucketTagging never ran left a bucket that looked like someone else's.
    """
    import xmltodict
    from moto.s3.responses import S3Response

    moto_put = S3Response._bucket_response_put

    def _bucket_response_put(self, request, bucket_name, querystring):  # type: ignore[no-untyped-def]
        result = moto_put(self, request, bucket_name, querystring)
        if querystring or not self.body:
            return result
        try:
            configuration = xmltodict.parse(self.body).get("CreateBucketConfiguration") or {}
        except Exception:  # noqa: BLE001 - moto already accepted the body
            return result
        tags = (configuration.get("Tags") or {}).get("Tag") or []
        if isinstance(tags, dict):
            tags = [tags]
        if tags:
            self.backend.put_bucket_tagging(
                bucket_name, {tag["Key"]: tag.get("Value") or "" for tag in tags}
            )
        return result

    S3Response._bucket_response_put = _bucket_response_put


def _load_iam_aws_managed_policies() -> None:
    """Make AttachRolePolicy accept AWS managed policies, as AWS does.

    moto 5.2.5 loads the ``arn:aws:iam::aws:policy/...`` policies only when its
    ``iam.load_aws_managed_policies`` setting is true (default false), and
    otherwise returns NoSuchEntity when one is attached. It reads the setting
    when an account's IAM backend is first built, so it must be set before any
    request.
    """
    from moto.core.config import default_user_config

    default_user_config["iam"]["load_aws_managed_policies"] = True


def _patch_ecs_describe_all_capacity_providers() -> None:
    """Make DescribeCapacityProviders without names list every provider.

    According to the ECS API reference, a request without ``capacityProviders``
    describes all of them. moto 5.2.5 iterates over the missing list and
    answers 500.
    """
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.describe_capacity_providers

    def describe_capacity_providers(self, names):  # type: ignore[no-untyped-def]
        if not names:
            return list(self.capacity_providers.values()), []
        return original(self, names)

    EC2ContainerServiceBackend.describe_capacity_providers = describe_capacity_providers


def _patch_autoscaling_update_keeps_mixed_instances_policy() -> None:
    """Keep a group's mixed instances policy when an update leaves it out.

    AWS changes only the fields that UpdateAutoScalingGroup names. moto 5.2.5
    sets the policy to the request's, so an update of the desired capacity
    alone drops it.
    """
    from moto.autoscaling.models import FakeAutoScalingGroup

    original = FakeAutoScalingGroup.update

    def update(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        names_template = kwargs.get("launch_config_name") or kwargs.get("launch_template")
        kept = self.mixed_instances_policy
        result = original(self, *args, **kwargs)
        if kwargs.get("mixed_instances_policy") is None and not names_template:
            self.mixed_instances_policy = kept
        return result

    FakeAutoScalingGroup.update = update


def _make_elbv2_create_listener_idempotent() -> None:
    """Return the existing listener when CreateListener repeats its port and settings.

    The Elastic Load Balancing API reference documents CreateListener as
    idempotent: a repeated call with the same settings succeeds and creates nothing, and a
    listener of another protocol or default action on a port in use fails with
    ``DuplicateListener``. moto 5.2.5 looks the port up among the listener ARNs,
    never finds it, and adds a second listener on the same port.
    """
    import copy

    from moto.elbv2.exceptions import DuplicateListenerError
    from moto.elbv2.models import ELBv2Backend, FakeAction

    moto_create_listener = ELBv2Backend.create_listener

    def create_listener(self, load_balancer_arn, protocol, port, ssl_policy, certificate, actions, *args, **kwargs):  # type: ignore[no-untyped-def]
        balancer = self.load_balancers.get(load_balancer_arn)
        if balancer is not None:
            requested = [FakeAction(copy.deepcopy(action)).data for action in actions]
            for listener in balancer.listeners.values():
                if str(listener.port) != str(port):
                    continue
                existing = [action.data for action in listener.default_actions]
                if listener.protocol == (protocol or "").upper() and existing == requested:
                    return listener
                raise DuplicateListenerError()
        return moto_create_listener(
            self, load_balancer_arn, protocol, port, ssl_policy, certificate, actions, *args, **kwargs
        )

    ELBv2Backend.create_listener = create_listener


def _make_elbv2_creates_idempotent_by_name() -> None:
    """Return the existing load balancer or target group for a repeated create.

    The Elastic Load Balancing API reference documents CreateLoadBalancer and
    CreateTargetGroup as idempotent: a repeated call with the same settings
    returns the existing resource, and other settings under a name in use fail
    with ``DuplicateLoadBalancerName`` or ``DuplicateTargetGroupName``. moto
    5.2.5 looks a load balancer up by an ARN with a new random id, so it makes
    a second load balancer of the same name, and it rejects a repeated target
    group even with the same settings.
    """
    from moto.elbv2.exceptions import DuplicateLoadBalancerName
    from moto.elbv2.models import ELBv2Backend

    moto_create_balancer = ELBv2Backend.create_load_balancer

    def create_load_balancer(self, name, *args, **kwargs):  # type: ignore[no-untyped-def]
        for balancer in self.load_balancers.values():
            if balancer.name != name:
                continue
            same = balancer.scheme == kwargs.get("scheme", "internet-facing") and (
                balancer.type == (kwargs.get("loadbalancer_type") or "application")
            )
            if same:
                return balancer
            raise DuplicateLoadBalancerName()
        return moto_create_balancer(self, name, *args, **kwargs)

    moto_create_group = ELBv2Backend.create_target_group

    def create_target_group(self, name, **kwargs):  # type: ignore[no-untyped-def]
        for group in self.target_groups.values():
            if group.name != name:
                continue
            same = (
                group.vpc_id == kwargs.get("vpc_id")
                and str(group.port) == str(kwargs.get("port"))
                and (group.protocol or "") == (kwargs.get("protocol") or "")
            )
            if same:
                return group
        return moto_create_group(self, name, **kwargs)

    ELBv2Backend.create_load_balancer = create_load_balancer
    ELBv2Backend.create_target_group = create_target_group


# Guards _EC2_CLIENT_TOKENS, see _make_ec2_client_tokens_idempotent.
_EC2_TOKENS_LOCK = threading.Lock()

# The parameters and response of the first request of each EC2 client token, keyed
# by account, region, operation and token.
_EC2_CLIENT_TOKENS: dict[tuple[str, str, str, str], tuple[dict, object]] = {}


def _make_ec2_client_tokens_idempotent() -> None:
    """Return the first response to a repeated EC2 create with the same ClientToken.

    The EC2 guide ("Ensuring idempotency") documents that a request that repeats the
    ClientToken of an earlier one with the same parameters creates nothing and
    returns the earlier result, and with other parameters fails with
    ``IdempotentParameterMismatch``. moto 5.2.5 ignores the token of
    CreateNatGateway, CreateRouteTable, CreateVpcEndpoint and
    CreateLaunchTemplate, so an SDK retry after a lost response makes a second
    resource.
    """
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.responses import EC2Response

    for name in (
        "create_nat_gateway",
        "create_route_table",
        "create_vpc_endpoint",
        "create_launch_template",
    ):
        moto_create = getattr(EC2Response, name)

        def create(self, _moto_create=moto_create, _name=name):  # type: ignore[no-untyped-def]
            token = self._get_param("ClientToken")
            if not token:
                return _moto_create(self)
            params = {
                key: value
                for key, value in self.querystring.items()
                if key not in ("Action", "Version")
            }
            key = (self.current_account, self.region, _name, token)
            with _EC2_TOKENS_LOCK:
                earlier = _EC2_CLIENT_TOKENS.get(key)
                if earlier is not None:
                    earlier_params, response = earlier
                    if earlier_params != params:
                        raise EC2ClientError(
                            "IdempotentParameterMismatch",
                            "The client token was used with other parameters.",
                        )
                    return response
                response = _moto_create(self)
                _EC2_CLIENT_TOKENS[key] = (params, response)
                return response

        setattr(EC2Response, name, create)


def install() -> None:
    """Patch moto with stackd's extensions."""
    _patch_s3_versioning_root()
    _patch_s3_create_bucket_tags()
    _make_s3_conditional_writes_atomic()
    _load_iam_aws_managed_policies()
    _patch_ecs_describe_all_capacity_providers()
    _patch_autoscaling_update_keeps_mixed_instances_policy()
    _make_ec2_client_tokens_idempotent()
    _make_elbv2_create_listener_idempotent()
    _make_elbv2_creates_idempotent_by_name()
    elasticache_serverless.install()
    cloudfront_distributions.install()
    ecs_services.install()
    apigatewayv2_http_apis.install()
