"""ElastiCache Serverless for moto 5.2.5, which has none of it.

``install()`` adds CreateServerlessCache, DescribeServerlessCaches,
ModifyServerlessCache and DeleteServerlessCache to moto's ElastiCache
response class, and makes ListTagsForResource, AddTagsToResource and
RemoveTagsFromResource accept serverless cache ARNs
(``arn:aws:elasticache:REGION:ACCOUNT:serverlesscache:NAME``). Responses go
through moto's ``ActionResult``, so the botocore model of ElastiCache
serialises them and field names follow AWS.

AWS behaviour reproduced:

- Statuses. CreateServerlessCache returns ``creating``, ModifyServerlessCache
  ``modifying`` and DeleteServerlessCache ``deleting``. The first
  DescribeServerlessCaches after one of them still reports that status and
  completes the transition, so the second reports ``available`` (or, after a
  delete, ServerlessCacheNotFoundFault). Tests see both states without
  sleeping. ModifyServerlessCache and DeleteServerlessCache on a cache that
  is not ``available`` fail with InvalidServerlessCacheStateFault.
- Errors, with the codes of the ElastiCache API reference:
  ServerlessCacheAlreadyExistsFault, ServerlessCacheNotFoundFault (HTTP 404),
  InvalidServerlessCacheStateFault, InvalidParameterValue and
  InvalidParameterCombination.
- Engines and major versions: valkey 7 and 8, redis 7, memcached 1.6. An
  omitted version takes the highest. ModifyServerlessCache upgrades the major
  version, and upgrades redis to valkey when Engine and MajorEngineVersion
  come together; a downgrade or any other engine change is
  InvalidParameterCombination.
- Usage limits: data storage 1 to 5000 with Unit ``GB`` required, ECPU per
  second 1000 to 15000000, as the AWS error message for an out-of-range
  ECPU limit states; a value of 0 removes that limit, and a dimension
  without limits disappears from the response. A field left out of a
  DataStorage or ECPUPerSecond structure keeps its value.
- One field per ModifyServerlessCache request. AWS answers
  "Serverless Cache modifications only support modifying one field per
  request" (InvalidParameterCombination) to some requests that carry
  several fields, and "No modifications were requested" to a request that
  changes nothing. This emulator rejects, with those messages, every request
  that carries more than one of Description, SecurityGroupIds,
  SnapshotRetentionLimit, DailySnapshotTime, the engine version (Engine and
  MajorEngineVersion count as one) and the four usage-limit values
  (DataStorage Maximum and Minimum, ECPUPerSecond Maximum and Minimum, each
  counted alone), whether or not the values change, and every request whose
  one field equals the live value. This is stricter than or equal to AWS:
  AWS accepts some multi-field requests (the console sets both maximums at
  once), and public reports show it rejecting requests that carried several
  fields with unchanged values.
- A minimum above its maximum is InvalidParameterCombination (an assumption:
  the API reference does not document the check).
- Subnets and security groups must exist in moto's EC2, and the subnets must
  share one VPC. Without SubnetIds, the default VPC's subnets are used, and
  without SecurityGroupIds, that VPC's default security group.
- Endpoint ``NAME-xxxxxx.serverless.REGIONCODE.cache.amazonaws.com`` (such as
  ``euw3`` for eu-west-3) on port 6379 (11211 for memcached), and a reader
  endpoint on 6380 for valkey and redis.
- Tags given to CreateServerlessCache, and the tag operations on the cache's
  ARN; they fail with ServerlessCacheNotFoundFault for a cache that does not
  exist. Deleting a cache deletes its tags.

Not reproduced: user groups, KMS keys, snapshots (FinalSnapshotName and
SnapshotArnsToRestore are accepted and ignored), network types, connection
types, integrations, pagination of DescribeServerlessCaches (MaxResults and
NextToken are ignored), the daily snapshot time that AWS picks when a cache
is created without one (the field stays empty), the full engine versions
(fixed values), and quotas such as the number of caches per Region.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from typing import Any

from moto.core.exceptions import ServiceException

SUPPORTED_VERSIONS = {
    "valkey": ("7", "8"),
    "redis": ("7",),
    "memcached": ("1.6",),
}
"""Major versions of serverless caches that this emulator accepts, lowest first."""

FULL_VERSIONS = {
    ("valkey", "7"): "7.2",
    ("valkey", "8"): "8.0",
    ("redis", "7"): "7.1",
    ("memcached", "1.6"): "1.6",
}
"""FullEngineVersion of each engine and major version: fixed values, not AWS's latest."""

DATA_STORAGE_GB = (1, 5000)
ECPU_PER_SECOND = (1000, 15_000_000)
MAX_SNAPSHOT_RETENTION_DAYS = 35

LIMIT_FIELDS = (
    ("DataStorage", "Maximum"),
    ("DataStorage", "Minimum"),
    ("ECPUPerSecond", "Maximum"),
    ("ECPUPerSecond", "Minimum"),
)
"""The four usage-limit values of CacheUsageLimits."""

NAME_PATTERN = re.compile(r"^[a-z](?:[a-z0-9]|-(?!-))*(?<!-)$")
"""Serverless cache names: a lowercase letter, then letters, digits and single hyphens."""

TIME_PATTERN = re.compile(r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$")


class ServerlessCacheAlreadyExistsFault(ServiceException):
    code = "ServerlessCacheAlreadyExistsFault"


class ServerlessCacheNotFoundFault(ServiceException):
    code = "ServerlessCacheNotFoundFault"


class InvalidServerlessCacheStateFault(ServiceException):
    code = "InvalidServerlessCacheStateFault"


class InvalidParameterValue(ServiceException):
    code = "InvalidParameterValue"


class InvalidParameterCombination(ServiceException):
    code = "InvalidParameterCombination"


ONE_FIELD_MESSAGE = "Serverless Cache modifications only support modifying one field per request."
NOTHING_MESSAGE = "No modifications were requested"


class ServerlessCache:
    """One serverless cache, with the fields that DescribeServerlessCaches returns."""

    def __init__(
        self,
        *,
        account_id: str,
        region: str,
        name: str,
        engine: str,
        major_version: str,
        description: str,
        limits: dict[str, dict[str, int]],
        subnet_ids: list[str],
        security_group_ids: list[str],
        snapshot_retention_limit: int | None,
        daily_snapshot_time: str | None,
    ) -> None:
        self.name = name
        self.arn = f"arn:aws:elasticache:{region}:{account_id}:serverlesscache:{name}"
        self.region = region
        self.engine = engine
        self.major_version = major_version
        self.description = description
        self.limits = limits
        self.subnet_ids = subnet_ids
        self.security_group_ids = security_group_ids
        self.snapshot_retention_limit = snapshot_retention_limit
        self.daily_snapshot_time = daily_snapshot_time
        self.status = "creating"
        self.create_time = datetime.now(timezone.utc)
        suffix = hashlib.sha256(self.arn.encode()).hexdigest()[:6]
        self.address = f"{name}-{suffix}.serverless.{region_code(region)}.cache.amazonaws.com"

    def describe(self) -> dict[str, Any]:
        """Return the cache as the botocore ``ServerlessCache`` shape names its fields."""
        port = 11211 if self.engine == "memcached" else 6379
        result: dict[str, Any] = {
            "ServerlessCacheName": self.name,
            "Description": self.description,
            "CreateTime": self.create_time,
            "Status": self.status,
            "Engine": self.engine,
            "MajorEngineVersion": self.major_version,
            "FullEngineVersion": FULL_VERSIONS[(self.engine, self.major_version)],
            "SecurityGroupIds": list(self.security_group_ids),
            "Endpoint": {"Address": self.address, "Port": port},
            "ARN": self.arn,
            "SubnetIds": list(self.subnet_ids),
        }
        if self.engine != "memcached":
            result["ReaderEndpoint"] = {"Address": self.address, "Port": 6380}
        usage = {dimension: dict(values) for dimension, values in self.limits.items() if values}
        if "DataStorage" in usage:
            usage["DataStorage"]["Unit"] = "GB"
        if usage:
            result["CacheUsageLimits"] = usage
        if self.snapshot_retention_limit is not None:
            result["SnapshotRetentionLimit"] = self.snapshot_retention_limit
        if self.daily_snapshot_time is not None:
            result["DailySnapshotTime"] = self.daily_snapshot_time
        return result


def region_code(region: str) -> str:
    """Shorten a Region as serverless endpoints do: eu-west-3 becomes euw3."""
    parts = region.split("-")
    if len(parts) != 3:
        return region.replace("-", "")
    return f"{parts[0]}{parts[1][0]}{parts[2]}"


def _caches(backend: Any) -> dict[str, ServerlessCache]:
    """Return the serverless caches of one moto ElastiCache backend, by name."""
    if not hasattr(backend, "stackd_serverless_caches"):
        backend.stackd_serverless_caches = {}
    return backend.stackd_serverless_caches  # type: ignore[no-any-return]


def _find(backend: Any, name: str | None) -> ServerlessCache:
    cache = _caches(backend).get((name or "").lower())
    if cache is None:
        raise ServerlessCacheNotFoundFault(f"Serverless cache {name} not found.")
    return cache


def _ec2(backend: Any) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[backend.account_id][backend.region_name]


def _check_range(field: str, value: int, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if value != 0 and not low <= value <= high:
        raise InvalidParameterValue(
            f"Invalid value for {field} limit. Must be between {low} and {high}. "
            "You can set the value to zero to remove the limit."
        )


def _limits_request(raw: Any) -> dict[str, dict[str, int]]:
    """Validate a CacheUsageLimits parameter and return the values it sets.

    The result maps each dimension to the values present in the request, 0
    included, which removes a limit.
    """
    requested: dict[str, dict[str, int]] = {}
    if not raw:
        return requested
    storage = raw.get("DataStorage")
    if storage is not None:
        if storage.get("Unit") != "GB":
            raise InvalidParameterValue(
                f"Invalid value for DataStorage Unit: {storage.get('Unit')!r}. Valid value: GB."
            )
        requested["DataStorage"] = {}
        for key in ("Maximum", "Minimum"):
            if storage.get(key) is not None:
                value = int(storage[key])
                _check_range("DataStorage", value, DATA_STORAGE_GB)
                requested["DataStorage"][key] = value
    ecpu = raw.get("ECPUPerSecond")
    if ecpu is not None:
        requested["ECPUPerSecond"] = {}
        for key in ("Maximum", "Minimum"):
            if ecpu.get(key) is not None:
                value = int(ecpu[key])
                _check_range("ECPUPerSecond", value, ECPU_PER_SECOND)
                requested["ECPUPerSecond"][key] = value
    return requested


def _merge_limits(
    live: dict[str, dict[str, int]], requested: dict[str, dict[str, int]]
) -> dict[str, dict[str, int]]:
    """Apply requested limit values to the live ones: 0 removes, absent keeps."""
    merged = {dimension: dict(values) for dimension, values in live.items()}
    for dimension, values in requested.items():
        target = merged.setdefault(dimension, {})
        for key, value in values.items():
            if value == 0:
                target.pop(key, None)
            else:
                target[key] = value
    for dimension, values in merged.items():
        minimum, maximum = values.get("Minimum"), values.get("Maximum")
        if minimum is not None and maximum is not None and minimum > maximum:
            raise InvalidParameterCombination(
                f"{dimension} Minimum {minimum} is greater than Maximum {maximum}."
            )
    return {dimension: values for dimension, values in merged.items() if values}


def _check_engine(engine: str | None, version: str | None) -> tuple[str, str]:
    engine = (engine or "").lower()
    if engine not in SUPPORTED_VERSIONS:
        raise InvalidParameterValue(
            f"Invalid engine {engine!r}. Valid engines: {', '.join(SUPPORTED_VERSIONS)}."
        )
    versions = SUPPORTED_VERSIONS[engine]
    version = version or versions[-1]
    if version not in versions:
        raise InvalidParameterValue(
            f"Invalid major engine version {version!r} for {engine}. "
            f"Valid versions: {', '.join(versions)}."
        )
    return engine, version


def _check_snapshot_settings(retention: Any, time: Any) -> None:
    if retention is not None and not 0 <= int(retention) <= MAX_SNAPSHOT_RETENTION_DAYS:
        raise InvalidParameterValue(
            f"Invalid SnapshotRetentionLimit {retention}. "
            f"Must be between 0 and {MAX_SNAPSHOT_RETENTION_DAYS}."
        )
    if time is not None and not TIME_PATTERN.match(str(time)):
        raise InvalidParameterValue(f"Invalid DailySnapshotTime {time!r}. Use the format HH:MM.")


def _check_subnets(backend: Any, subnet_ids: list[str]) -> list[str]:
    """Return the subnets, the default VPC's when none are given, all in one VPC."""
    ec2 = _ec2(backend)
    if not subnet_ids:
        defaults = sorted(ec2.get_default_subnets().values(), key=lambda s: s.availability_zone)
        if not defaults:
            raise InvalidParameterValue("No SubnetIds given and the Region has no default VPC.")
        return [subnet.id for subnet in defaults[:3]]
    vpcs = set()
    for subnet_id in subnet_ids:
        try:
            vpcs.add(ec2.get_subnet(subnet_id).vpc_id)
        except Exception as error:  # moto's InvalidSubnetIdError
            raise InvalidParameterValue(f"The subnet ID {subnet_id} does not exist.") from error
    if len(vpcs) > 1:
        raise InvalidParameterCombination("All the subnets must belong to the same VPC.")
    return list(subnet_ids)


def _check_security_groups(backend: Any, group_ids: list[str], subnet_ids: list[str]) -> list[str]:
    """Return the security groups, the VPC's default group when none are given."""
    ec2 = _ec2(backend)
    if not group_ids:
        vpc_id = ec2.get_subnet(subnet_ids[0]).vpc_id
        group = ec2.get_default_security_group(vpc_id)
        return [group.id] if group else []
    for group_id in group_ids:
        if ec2.get_security_group_from_id(group_id) is None:
            raise InvalidParameterValue(f"The security group {group_id} does not exist.")
    return list(group_ids)


def create_serverless_cache(self: Any) -> Any:
    """CreateServerlessCache: validate, store as ``creating``, tag and return the cache."""
    from moto.core.responses import ActionResult

    backend = self.elasticache_backend
    name = (self._get_param("ServerlessCacheName") or "").lower()
    if not (1 <= len(name) <= 40 and NAME_PATTERN.match(name)):
        raise InvalidParameterValue(
            f"Invalid ServerlessCacheName {name!r}: use 1 to 40 letters, digits and hyphens, "
            "starting with a letter, without two hyphens in a row or a trailing hyphen."
        )
    if name in _caches(backend):
        raise ServerlessCacheAlreadyExistsFault(f"Serverless cache {name} already exists.")
    engine, version = _check_engine(
        self._get_param("Engine"), self._get_param("MajorEngineVersion")
    )
    limits = _merge_limits({}, _limits_request(self._get_param("CacheUsageLimits")))
    retention = self._get_param("SnapshotRetentionLimit")
    time = self._get_param("DailySnapshotTime")
    _check_snapshot_settings(retention, time)
    subnet_ids = _check_subnets(backend, self._get_param("SubnetIds") or [])
    group_ids = _check_security_groups(
        backend, self._get_param("SecurityGroupIds") or [], subnet_ids
    )

    cache = ServerlessCache(
        account_id=backend.account_id,
        region=backend.region_name,
        name=name,
        engine=engine,
        major_version=version,
        description=self._get_param("Description") or "",
        limits=limits,
        subnet_ids=subnet_ids,
        security_group_ids=group_ids,
        snapshot_retention_limit=int(retention) if retention is not None else None,
        daily_snapshot_time=time,
    )
    _caches(backend)[name] = cache
    tags = self._get_param("Tags") or []
    if tags:
        backend.tagging_service.tag_resource(cache.arn, tags)
    return ActionResult({"ServerlessCache": cache.describe()})


def describe_serverless_caches(self: Any) -> Any:
    """DescribeServerlessCaches: report each cache, then complete pending transitions."""
    from moto.core.responses import ActionResult

    backend = self.elasticache_backend
    name = self._get_param("ServerlessCacheName")
    caches = [_find(backend, name)] if name else list(_caches(backend).values())
    described = [cache.describe() for cache in caches]
    for cache in caches:
        if cache.status in ("creating", "modifying"):
            cache.status = "available"
        elif cache.status == "deleting":
            del _caches(backend)[cache.name]
            backend.tagging_service.delete_all_tags_for_resource(cache.arn)
    return ActionResult({"ServerlessCaches": described})


def modify_serverless_cache(self: Any) -> Any:
    """ModifyServerlessCache: one field per request, on an available cache."""
    from moto.core.responses import ActionResult

    backend = self.elasticache_backend
    cache = _find(backend, self._get_param("ServerlessCacheName"))
    if cache.status != "available":
        raise InvalidServerlessCacheStateFault(
            f"Serverless cache {cache.name} is {cache.status}, not available."
        )

    description = self._get_param("Description")
    group_ids = self._get_param("SecurityGroupIds")
    retention = self._get_param("SnapshotRetentionLimit")
    time = self._get_param("DailySnapshotTime")
    engine = self._get_param("Engine")
    version = self._get_param("MajorEngineVersion")
    requested_limits = _limits_request(self._get_param("CacheUsageLimits"))
    limit_values = [
        (dimension, key)
        for dimension, key in LIMIT_FIELDS
        if key in requested_limits.get(dimension, {})
    ]
    fields = [
        name
        for name, present in (
            ("Description", description is not None),
            ("SecurityGroupIds", group_ids is not None),
            ("SnapshotRetentionLimit", retention is not None),
            ("DailySnapshotTime", time is not None),
            ("engine version", engine is not None or version is not None),
        )
        if present
    ] + [f"{dimension}.{key}" for dimension, key in limit_values]
    if len(fields) > 1:
        raise InvalidParameterCombination(ONE_FIELD_MESSAGE)
    if not fields:
        raise InvalidParameterCombination(NOTHING_MESSAGE)
    _check_snapshot_settings(retention, time)

    changes: dict[str, Any] = {}
    if description is not None and description != cache.description:
        changes["description"] = description
    if group_ids is not None:
        group_ids = _check_security_groups(backend, group_ids, cache.subnet_ids)
        if set(group_ids) != set(cache.security_group_ids):
            changes["security_group_ids"] = group_ids
    if retention is not None and int(retention) != cache.snapshot_retention_limit:
        changes["snapshot_retention_limit"] = int(retention)
    if time is not None and time != cache.daily_snapshot_time:
        changes["daily_snapshot_time"] = time
    if engine is not None or version is not None:
        changes.update(_engine_change(cache, engine, version))
    if limit_values:
        limits = _merge_limits(cache.limits, requested_limits)
        if limits != cache.limits:
            changes["limits"] = limits
    if not changes:
        raise InvalidParameterCombination(NOTHING_MESSAGE)

    for attribute, value in changes.items():
        setattr(cache, attribute, value)
    cache.status = "modifying"
    return ActionResult({"ServerlessCache": cache.describe()})


def _engine_change(cache: ServerlessCache, engine: str | None, version: str | None) -> dict[str, str]:
    """Return the engine and version that an upgrade sets, or nothing when unchanged."""
    new_engine = (engine or cache.engine).lower()
    if new_engine != cache.engine:
        if (cache.engine, new_engine) != ("redis", "valkey"):
            raise InvalidParameterCombination(
                f"Cannot change the engine of serverless cache {cache.name} "
                f"from {cache.engine} to {new_engine}."
            )
        if version is None:
            raise InvalidParameterCombination(
                "MajorEngineVersion is required when changing the engine."
            )
        _, version = _check_engine(new_engine, version)
        return {"engine": new_engine, "major_version": version}
    _, version = _check_engine(cache.engine, version or cache.major_version)
    if version == cache.major_version:
        return {}
    versions = SUPPORTED_VERSIONS[cache.engine]
    if versions.index(version) < versions.index(cache.major_version):
        raise InvalidParameterCombination(
            f"Cannot downgrade serverless cache {cache.name} from major engine version "
            f"{cache.major_version} to {version}."
        )
    return {"major_version": version}


def delete_serverless_cache(self: Any) -> Any:
    """DeleteServerlessCache: mark an available cache ``deleting``."""
    from moto.core.responses import ActionResult

    backend = self.elasticache_backend
    cache = _find(backend, self._get_param("ServerlessCacheName"))
    if cache.status != "available":
        raise InvalidServerlessCacheStateFault(
            f"Serverless cache {cache.name} is {cache.status}, not available."
        )
    cache.status = "deleting"
    return ActionResult({"ServerlessCache": cache.describe()})


SERVERLESS_ARN = re.compile(r"^arn:aws:elasticache:[^:]*:[0-9]*:serverlesscache:(?P<name>.+)$")


def _patch_tagging() -> None:
    """Route the tag operations on serverless cache ARNs past moto's ARN check."""
    from moto.elasticache.models import ElastiCacheBackend

    list_tags = ElastiCacheBackend.list_tags_for_resource
    add_tags = ElastiCacheBackend.add_tags_to_resource
    remove_tags = ElastiCacheBackend.remove_tags_from_resource

    def serverless_name(arn: str) -> str | None:
        match = SERVERLESS_ARN.match(arn or "")
        return match.group("name") if match else None

    def list_tags_for_resource(self: Any, arn: str) -> Any:
        name = serverless_name(arn)
        if name is None:
            return list_tags(self, arn)
        _find(self, name)
        return self.tagging_service.list_tags_for_resource(arn)

    def add_tags_to_resource(self: Any, arn: str, tags: list[dict[str, str]]) -> None:
        name = serverless_name(arn)
        if name is not None:
            _find(self, name)
        add_tags(self, arn, tags)

    def remove_tags_from_resource(self: Any, arn: str, keys: list[str]) -> None:
        name = serverless_name(arn)
        if name is not None:
            _find(self, name)
        remove_tags(self, arn, keys)

    ElastiCacheBackend.list_tags_for_resource = list_tags_for_resource
    ElastiCacheBackend.add_tags_to_resource = add_tags_to_resource
    ElastiCacheBackend.remove_tags_from_resource = remove_tags_from_resource


def install() -> None:
    """Add the serverless cache operations to moto's ElastiCache."""
    from moto.elasticache.responses import ElastiCacheResponse

    ElastiCacheResponse.create_serverless_cache = create_serverless_cache
    ElastiCacheResponse.describe_serverless_caches = describe_serverless_caches
    ElastiCacheResponse.modify_serverless_cache = modify_serverless_cache
    ElastiCacheResponse.delete_serverless_cache = delete_serverless_cache
    _patch_tagging()
