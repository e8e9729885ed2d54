"""CloudFront distribution behaviour that moto 5.2.5 gets wrong, patched into moto.

``install()`` patches moto's CloudFront models so that distributions read back
as the CloudFront API reference (version 2020-05-31) describes them.

AWS behaviour reproduced:

- An origin keeps its ``OriginAccessControlId`` and its ``S3OriginConfig``
  (``OriginAccessIdentity``, empty with an origin access control, and
  ``OriginReadTimeout``), and GetDistribution, GetDistributionConfig and
  ListDistributions return them. moto 5.2.5 drops both, so every origin that
  uses an origin access control reads back without one.
- A distribution's ``ETag`` changes with every UpdateDistribution, and an
  UpdateDistribution whose ``If-Match`` is not the current ETag fails with
  ``PreconditionFailed`` (HTTP 412). moto 5.2.5 keeps one ETag for the life of
  the distribution and accepts any If-Match value.
- Names of origin access controls, public keys and key groups are unique in
  the account, and a public key's ``CallerReference`` can be used once:
  CreateOriginAccessControl, CreatePublicKey and CreateKeyGroup fail with
  ``OriginAccessControlAlreadyExists``, ``PublicKeyAlreadyExists`` and
  ``KeyGroupAlreadyExists`` (HTTP 409) instead of making a second one. moto
  5.2.5 creates a second resource of the same name, so a create retried after
  a lost response left two.

Not reproduced: the ``InProgress`` status that AWS reports for minutes after an
update (moto reports ``Deployed`` from the first read after the create), the
check that the origin access control exists, and ETags on DeleteDistribution.
"""

from __future__ import annotations

from typing import Any


def _patch_origins() -> None:
    """Keep an origin's origin access control and S3 origin configuration."""
    from moto.cloudfront.models import Origin

    moto_init = Origin.__init__

    def __init__(self: Any, origin: dict[str, Any]) -> None:
        moto_init(self, origin)
        self.origin_access_control_id = origin.get("OriginAccessControlId") or ""
        s3_config = origin.get("S3OriginConfig")
        if s3_config is not None:
            config = {"OriginAccessIdentity": s3_config.get("OriginAccessIdentity") or ""}
            if s3_config.get("OriginReadTimeout") is not None:
                config["OriginReadTimeout"] = int(s3_config["OriginReadTimeout"])
            self.s3_origin_config = config

    Origin.__init__ = __init__


def _patch_update_etag() -> None:
    """Check If-Match against the current ETag, and give each update a new ETag."""
    from moto.cloudfront.exceptions import CloudFrontException
    from moto.cloudfront.models import CloudFrontBackend, random_id

    class PreconditionFailed(CloudFrontException):
        code = "PreconditionFailed"
        message = "The If-Match version is missing or not valid for the resource."

    moto_update = CloudFrontBackend.update_distribution

    def update_distribution(
        self: Any, dist_config: dict[str, Any], _id: str, if_match: str
    ) -> Any:
        existing = self.distributions.get(_id)
        if existing is not None and if_match and if_match != existing.etag:
            raise PreconditionFailed()
        dist, location, _ = moto_update(self, dist_config, _id, if_match)
        dist.etag = random_id()
        return dist, location, dist.etag

    CloudFrontBackend.update_distribution = update_distribution


def _patch_unique_names() -> None:
    """Reject a second origin access control, public key or key group of one name."""
    from moto.cloudfront.exceptions import CloudFrontException
    from moto.cloudfront.models import CloudFrontBackend

    def reject(code: str, message: str) -> None:
        raise CloudFrontException(code, message)

    moto_create_control = CloudFrontBackend.create_origin_access_control

    def create_origin_access_control(self: Any, config_dict: dict[str, str]) -> Any:
        name = config_dict.get("Name")
        if any(c.name == name for c in self.origin_access_controls.values()):
            reject(
                "OriginAccessControlAlreadyExists",
                f"An origin access control named {name} already exists.",
            )
        return moto_create_control(self, config_dict)

    moto_create_key = CloudFrontBackend.create_public_key

    def create_public_key(
        self: Any, caller_ref: str, name: str, encoded_key: str
    ) -> Any:
        for key in self.public_keys.values():
            if key.caller_ref == caller_ref or key.name == name:
                reject(
                    "PublicKeyAlreadyExists",
                    f"The public key {key.id} already has this name or caller reference.",
                )
        return moto_create_key(self, caller_ref, name, encoded_key)

    moto_create_group = CloudFrontBackend.create_key_group

    def create_key_group(self: Any, name: str, items: list[str]) -> Any:
        if any(group.name == name for group in self.key_groups.values()):
            reject("KeyGroupAlreadyExists", f"A key group named {name} already exists.")
        return moto_create_group(self, name, items)

    CloudFrontBackend.create_origin_access_control = create_origin_access_control
    CloudFrontBackend.create_public_key = create_public_key
    CloudFrontBackend.create_key_group = create_key_group


def install() -> None:
    """Patch moto's CloudFront models."""
    _patch_origins()
    _patch_update_etag()
    _patch_unique_names()
