"""API Gateway v2 (HTTP API) behaviour that moto 5.2.5 lacks, patched into moto.

``install()`` adds UpdateStage and GetAuthorizers to moto's API Gateway v2
response class and patches its models, following the API Gateway v2 API
reference (version 2018-11-29).

AWS behaviour reproduced:

- UpdateStage (``PATCH /v2/apis/{apiId}/stages/{stageName}``), which moto
  5.2.5 answers with a 500. The fields present in the request replace the
  stage's (autoDeploy, description, stageVariables, accessLogSettings,
  routeSettings, clientCertificateId), and a field left out keeps its
  value. Within defaultRouteSettings, each setting present replaces the
  stage's and each one left out keeps its value (an assumption: the API
  reference does not say whether the structure is merged or replaced). A
  stage that does not exist is NotFoundException (404), and a negative
  throttling limit is BadRequestException (400).
- GetAuthorizers, which moto 5.2.5 answers with a 500.
- VPC link status. CreateVpcLink returns ``PENDING`` with the message "VPC
  link is provisioning ENIs". The first GetVpcLink or GetVpcLinks after the
  create still reports ``PENDING`` and completes the transition, so the next
  read reports ``AVAILABLE`` with "VPC link is ready to route traffic". AWS
  takes minutes; tests see both states without sleeping. moto 5.2.5 reports
  ``AVAILABLE`` at once.
- CORS header names. The CORS configuration of CreateApi and UpdateApi reads
  back with AllowHeaders and ExposeHeaders in lower case, as HTTP APIs are
  reported to return them (not checked against AWS here).
- Unique route keys. CreateRoute with a route key that the API already has is
  ConflictException (409); moto 5.2.5 adds a second route with that key.
- An UpdateRoute that sets the authorization type to ``NONE`` removes the
  route's authorizer id, so a route made public reads back without one.

Not reproduced: the check that a VPC link is available before an integration
uses it, VPC link subnets and security groups checked against EC2, ENIs, the
deployments that auto-deploy creates (no deploymentId), stage tags through
TagResource (moto keeps the CreateStage tags apart from its tagging service),
pagination (nextToken is never returned), and AWS's exact error messages.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import unquote

PENDING_MESSAGE = "VPC link is provisioning ENIs"
AVAILABLE_MESSAGE = "VPC link is ready to route traffic"

STAGE_FIELDS = (
    ("autoDeploy", "auto_deploy"),
    ("description", "description"),
    ("stageVariables", "stage_variables"),
    ("accessLogSettings", "access_log_settings"),
    ("routeSettings", "route_settings"),
    ("clientCertificateId", "client_certificate_id"),
)
"""UpdateStage request fields and the moto Stage attributes they set."""


def _errors() -> tuple[type, type]:
    from moto.apigatewayv2.exceptions import APIGatewayV2Error, BadRequestException

    class ConflictException(APIGatewayV2Error):
        code = 409

        def __init__(self, message: str):
            super().__init__("ConflictException", message)

    return BadRequestException, ConflictException


def update_stage(self: Any) -> tuple[int, dict[str, str], str]:
    """UpdateStage: set the fields present in the request on an existing stage."""
    bad_request, _ = _errors()
    parts = self.path.split("/")
    api_id = parts[-3]
    stage_name = unquote(parts[-1])
    stage = self.apigatewayv2_backend.get_stage(api_id, stage_name)
    params = json.loads(self.body or "{}")

    settings = params.get("defaultRouteSettings")
    if settings is not None:
        for key in ("throttlingBurstLimit", "throttlingRateLimit"):
            value = settings.get(key)
            if value is not None and value < 0:
                raise bad_request(f"{key} must be zero or greater, got {value}.")
        merged = dict(stage.default_route_settings or {})
        merged.update({key: value for key, value in settings.items() if value is not None})
        stage.default_route_settings = merged
    for field, attribute in STAGE_FIELDS:
        if field in params:
            setattr(stage, attribute, params[field])
    stage.updated = datetime.now()
    return 200, {}, json.dumps(stage.to_json())


def get_authorizers(self: Any) -> tuple[int, dict[str, str], str]:
    """GetAuthorizers: every authorizer of the API."""
    api_id = self.path.split("/")[-2]
    api = self.apigatewayv2_backend.get_api(api_id)
    items = [authorizer.to_json() for authorizer in api.authorizers.values()]
    return 200, {}, json.dumps({"items": items})


def _patch_vpc_link_status() -> None:
    """Report a new VPC link as PENDING until it has been read once."""
    from moto.apigatewayv2.models import VpcLink
    from moto.apigatewayv2.responses import ApiGatewayV2Response

    moto_init = VpcLink.__init__
    moto_to_json = VpcLink.to_json

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        moto_init(self, *args, **kwargs)
        self.stackd_status = "PENDING"

    def to_json(self: Any) -> dict[str, Any]:
        result = moto_to_json(self)
        status = getattr(self, "stackd_status", "AVAILABLE")
        result["vpcLinkStatus"] = status
        result["vpcLinkStatusMessage"] = (
            PENDING_MESSAGE if status == "PENDING" else AVAILABLE_MESSAGE
        )
        return result

    def settle(links: list[Any]) -> None:
        for link in links:
            if getattr(link, "stackd_status", None) == "PENDING":
                link.stackd_status = "AVAILABLE"

    moto_get = ApiGatewayV2Response.get_vpc_link
    moto_list = ApiGatewayV2Response.get_vpc_links

    # Each read is answered first, then completes the transition, as in AWS where
    # the link becomes available some time after a read that reported it pending.
    def get_vpc_link(self: Any) -> Any:
        response = moto_get(self)
        link = self.apigatewayv2_backend.vpc_links.get(self.path.split("/")[-1])
        settle([link] if link is not None else [])
        return response

    def get_vpc_links(self: Any) -> Any:
        response = moto_list(self)
        settle(list(self.apigatewayv2_backend.vpc_links.values()))
        return response

    VpcLink.__init__ = __init__
    VpcLink.to_json = to_json
    ApiGatewayV2Response.get_vpc_link = get_vpc_link
    ApiGatewayV2Response.get_vpc_links = get_vpc_links


def _lowercase_headers(cors: Any) -> Any:
    if not isinstance(cors, dict):
        return cors
    result = dict(cors)
    for key in ("allowHeaders", "exposeHeaders"):
        if isinstance(result.get(key), list):
            result[key] = [str(header).lower() for header in result[key]]
    return result


def _patch_cors_headers() -> None:
    """Store CORS header names in lower case."""
    from moto.apigatewayv2.models import Api

    moto_init = Api.__init__
    moto_update = Api.update

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        moto_init(self, *args, **kwargs)
        self.cors_configuration = _lowercase_headers(self.cors_configuration)

    def update(self: Any, *args: Any, **kwargs: Any) -> None:
        moto_update(self, *args, **kwargs)
        self.cors_configuration = _lowercase_headers(self.cors_configuration)

    Api.__init__ = __init__
    Api.update = update


def _patch_routes() -> None:
    """Reject a second route with the same key, and drop the authorizer of a NONE route."""
    from moto.apigatewayv2.models import Api, Route

    moto_create = Api.create_route
    moto_update = Route.update

    def create_route(self: Any, *args: Any, **kwargs: Any) -> Any:
        _, conflict = _errors()
        route_key = kwargs.get("route_key")
        if any(route.route_key == route_key for route in self.routes.values()):
            raise conflict(f"Route with key {route_key} already exists for this API.")
        return moto_create(self, *args, **kwargs)

    def update(self: Any, *args: Any, **kwargs: Any) -> None:
        moto_update(self, *args, **kwargs)
        if self.authorization_type == "NONE":
            self.authorizer_id = None

    Api.create_route = create_route
    Route.update = update


def install() -> None:
    """Add the missing operations and behaviour to moto's API Gateway v2."""
    from moto.apigatewayv2.responses import ApiGatewayV2Response

    ApiGatewayV2Response.update_stage = update_stage
    ApiGatewayV2Response.get_authorizers = get_authorizers
    _patch_vpc_link_status()
    _patch_cors_headers()
    _patch_routes()
