"""The approval functions' settings (set by template.yaml, or by the sandbox), one loader per function."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from path2prod.domain.approvals import same_person
from path2prod.domain.event_fields import ACCOUNT
from path2prod.errors import MissingSetting
from path2prod.settings import deploy_windows, optional, required, required_env_name

if TYPE_CHECKING:
    from path2prod.domain.deploy_windows import DeployWindows


@dataclass(frozen=True)
class ApprovalSettings:
    env: str
    ledger_table: str


@dataclass(frozen=True)
class OpenerSettings(ApprovalSettings):
    approvers: tuple[str, ...]
    quorum: int
    expiry: timedelta
    page_url: str
    signing_secret: str  # Secrets Manager secret id (name or ARN)
    approvals_topic_arn: str
    repository_url: str  # this env's own: its main says what the promotion starts from
    upstream_repository_url: str
    upstream_read_role_arn: str | None
    upstream_account: str
    deploy_windows: DeployWindows | None  # the DeployWindows parameter; None: always open


@dataclass(frozen=True)
class PageSettings(ApprovalSettings):
    signing_secret: str
    event_bus: str


@dataclass(frozen=True)
class PromoterSettings(ApprovalSettings):
    repository_url: str
    upstream_repository_url: str
    upstream_read_role_arn: str | None
    alerts_topic_arn: str
    allow_non_fast_forward: bool
    deploy_windows: DeployWindows | None  # the DeployWindows parameter; None: always open


def load_opener_settings() -> OpenerSettings:
    approvers: tuple[str, ...] = ()
    for listed in (a.strip() for a in required("APPROVERS").split(",")):
        # One person once: listed twice (in any case), they would count as two towards a quorum
        # that their second answer (AlreadyDecided) could never fill.
        if listed and not any(same_person(listed, known) for known in approvers):
            approvers += (listed,)
    quorum = _positive_int("APPROVAL_QUORUM")
    if quorum > len(approvers):
        raise MissingSetting(f"APPROVAL_QUORUM {quorum} is more than the {len(approvers)} APPROVERS")
    return OpenerSettings(
        env=required_env_name(),
        ledger_table=required("LEDGER_TABLE"),
        approvers=approvers,
        quorum=quorum,
        expiry=timedelta(hours=_positive_int("APPROVAL_EXPIRY_HOURS")),
        page_url=required("APPROVAL_PAGE_URL"),
        signing_secret=required("SIGNING_SECRET_ID"),
        approvals_topic_arn=required("APPROVALS_TOPIC_ARN"),
        repository_url=required("REPOSITORY_URL"),
        upstream_repository_url=required("UPSTREAM_REPOSITORY_URL"),
        upstream_read_role_arn=optional("UPSTREAM_READ_ROLE_ARN"),
        upstream_account=_account_id("PREVIOUS_ACCOUNT_ID"),
        deploy_windows=deploy_windows(),
    )


def load_page_settings() -> PageSettings:
    return PageSettings(
        env=required_env_name(),
        ledger_table=required("LEDGER_TABLE"),
        signing_secret=required("SIGNING_SECRET_ID"),
        event_bus=required("EVENT_BUS_NAME"),
    )


def load_promoter_settings() -> PromoterSettings:
    allow = required("ALLOW_NON_FAST_FORWARD").lower()
    if allow not in ("true", "false"):
        raise MissingSetting(f"ALLOW_NON_FAST_FORWARD must be true or false, got {allow!r}")
    return PromoterSettings(
        env=required_env_name(),
        ledger_table=required("LEDGER_TABLE"),
        repository_url=required("REPOSITORY_URL"),
        upstream_repository_url=required("UPSTREAM_REPOSITORY_URL"),
        upstream_read_role_arn=optional("UPSTREAM_READ_ROLE_ARN"),
        alerts_topic_arn=required("ALERTS_TOPIC_ARN"),
        allow_non_fast_forward=allow == "true",
        deploy_windows=deploy_windows(),
    )


def _positive_int(name: str) -> int:
    text = required(name)
    if not text.isdigit() or int(text) < 1:
        raise MissingSetting(f"{name} must be a whole number of at least 1, got {text!r}")
    return int(text)


def _account_id(name: str) -> str:
    text = required(name)
    if not ACCOUNT.fullmatch(text):
        raise MissingSetting(f"{name} must be a 12-digit AWS account id, got {text!r}")
    return text
