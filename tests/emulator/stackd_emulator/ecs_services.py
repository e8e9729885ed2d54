"""ECS service and task definition behaviour that moto 5.2.5 lacks, patched into moto.

``install()`` patches moto's ECS backend and response class so that services
and task definitions read back as the ECS API reference (2014-11-13) describes
them.

AWS behaviour reproduced:

- Capacity provider strategies on services. CreateService keeps the
  ``capacityProviderStrategy`` of the request, and a service created with
  neither a strategy nor a launch type gets the cluster's default strategy.
  Such a service has no ``launchType``. UpdateService with a non-empty
  strategy moves a launch-type service to that strategy, and with an empty
  one back to the EC2 launch type. moto 5.2.5 ignores the strategy on create
  and reports launch type EC2 for every service.
- The awsvpc configuration reads back with ``assignPublicIp``, ``DISABLED``
  when the request left it out, as DescribeServices does in AWS.
- Filled-in container defaults of RegisterTaskDefinition: every port mapping
  gets protocol ``tcp`` when it names none, and in awsvpc network mode a host
  port equal to its container port. moto 5.2.5 fills in cpu, essential and
  empty lists, but not these two.
- DescribeTaskDefinition with a family and no revision describes the latest
  ACTIVE revision, and fails with ClientException when the family has none.
  moto 5.2.5 describes the latest revision whatever its status.

Not reproduced: the DRAINING status between DeleteService and INACTIVE (moto
reports INACTIVE at once), and deployments and their rollout. Nor are two
checks: that a strategy's capacity providers are attached to the cluster, and
that a service on a non-default strategy cannot go back to the cluster's default.
"""

from __future__ import annotations

from typing import Any


def _patch_create_service_strategy() -> None:
    """Keep a created service's capacity provider strategy, or the cluster's default."""
    from moto.ecs.responses import EC2ContainerServiceResponse

    moto_create = EC2ContainerServiceResponse.create_service

    def create_service(self: Any) -> Any:
        strategy = self._get_param("capacityProviderStrategy") or []
        launch_type = self._get_param("launchType")
        result = moto_create(self)
        cluster_str = self._get_param("cluster", "default")
        name = self._get_param("serviceName")
        cluster = self.ecs_backend._get_cluster(cluster_str)
        service = self.ecs_backend.services[f"{cluster.name}:{name}"]
        if not strategy and not launch_type:
            strategy = list(cluster.default_capacity_provider_strategy or [])
        if strategy and not launch_type:
            service.capacity_provider_strategy = strategy
            service.launch_type = None
        else:
            service.capacity_provider_strategy = []
        return result

    EC2ContainerServiceResponse.create_service = create_service


def _patch_update_service_strategy() -> None:
    """Move a service between a launch type and a capacity provider strategy."""
    from moto.ecs.models import EC2ContainerServiceBackend

    moto_update = EC2ContainerServiceBackend.update_service

    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        strategy = service_properties.get("capacity_provider_strategy")
        service = moto_update(self, service_properties)
        if strategy is not None:
            service.capacity_provider_strategy = strategy
            service.launch_type = None if strategy else "EC2"
        return service

    EC2ContainerServiceBackend.update_service = update_service


def _with_public_ip_default(configuration: dict[str, Any] | None) -> dict[str, Any] | None:
    if not configuration or "awsvpcConfiguration" not in configuration:
        return configuration
    awsvpc = dict(configuration["awsvpcConfiguration"])
    awsvpc.setdefault("assignPublicIp", "DISABLED")
    return {**configuration, "awsvpcConfiguration": awsvpc}


def _patch_network_configuration_default() -> None:
    """Give an awsvpc configuration its ``assignPublicIp`` default when stored."""
    from moto.ecs.models import Service

    def get_network(self: Any) -> Any:
        return self.__dict__.get("_network_configuration", {})

    def set_network(self: Any, value: Any) -> None:
        self.__dict__["_network_configuration"] = _with_public_ip_default(value)

    Service.network_configuration = property(get_network, set_network)


def _patch_port_mapping_defaults() -> None:
    """Fill in the protocol and, in awsvpc mode, the host port of port mappings."""
    from moto.ecs.models import TaskDefinition

    moto_init = TaskDefinition.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        moto_init(self, *args, **kwargs)
        awsvpc = self.network_mode == "awsvpc"
        for container in self.container_definitions:
            mappings = []
            for mapping in container.get("portMappings") or []:
                mapping = dict(mapping)
                mapping.setdefault("protocol", "tcp")
                if awsvpc and "containerPort" in mapping:
                    mapping["hostPort"] = mapping["containerPort"]
                mappings.append(mapping)
            container["portMappings"] = mappings

    TaskDefinition.__init__ = __init__


def _patch_describe_latest_active() -> None:
    """Describe a family's latest ACTIVE revision when no revision is named."""
    from moto.ecs.exceptions import TaskDefinitionNotFoundException
    from moto.ecs.models import EC2ContainerServiceBackend

    moto_describe = EC2ContainerServiceBackend.describe_task_definition

    def describe_task_definition(self: Any, task_definition_str: str) -> Any:
        name = task_definition_str.split("/")[-1]
        if ":" in name:
            return moto_describe(self, task_definition_str)
        revisions = self.task_definitions.get(name) or {}
        active = [number for number, found in revisions.items() if found.status == "ACTIVE"]
        if not active:
            raise TaskDefinitionNotFoundException()
        return revisions[max(active)]

    EC2ContainerServiceBackend.describe_task_definition = describe_task_definition


def install() -> None:
    """Patch moto's ECS services and task definitions."""
    _patch_create_service_strategy()
    _patch_update_service_strategy()
    _patch_network_configuration_default()
    _patch_port_mapping_defaults()
    _patch_describe_latest_active()
