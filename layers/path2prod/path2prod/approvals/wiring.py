"""The approvals feature's one composition root: each function's use case, built from its settings.

Each builder runs on the function's first event, not at import (settings are read once, clients made
lazily), and is cached for the container's life; tests clear the cache or replace what it returns.
The ledger adapters (and so boto3) every approval function uses are imported here, at init, as in the
other handlers; each builder imports the rest, which only its own function uses: the approval page
never loads git or SNS code, nor the opener's or the promoter's use case. (It is cold-start time: see
docs/benchmarks.md.)
"""

from __future__ import annotations

from functools import cache, partial
from typing import TYPE_CHECKING

from path2prod.adapters.approval_requests import ApprovalRequests
from path2prod.adapters.ledger_table import LedgerTable

if TYPE_CHECKING:
    from path2prod.approvals.answering import LinkAnswerer
    from path2prod.approvals.opening import Opener
    from path2prod.approvals.promoting import Promoter


@cache
def opener() -> Opener:
    """The approvals function: open requests, prompt approvers, tell rejections, ask again."""
    from path2prod.adapters.env_repo import EnvRepository
    from path2prod.adapters.prompts import ApprovalPrompts
    from path2prod.adapters.secrets import signing_secret
    from path2prod.approvals.opening import ApprovalPolicy, Links, Opener
    from path2prod.approvals.settings import load_opener_settings

    settings = load_opener_settings()
    return Opener(
        env=settings.env,
        requests=ApprovalRequests(LedgerTable(settings.ledger_table)),
        policy=ApprovalPolicy(settings.approvers, settings.quorum, settings.expiry),
        links=Links(partial(signing_secret, settings.signing_secret), settings.page_url),
        prompts=ApprovalPrompts(settings.approvals_topic_arn),
        upstream=EnvRepository(settings.upstream_repository_url, role_arn=settings.upstream_read_role_arn),
        # Read only (its main head): what the env runs now bounds the commits a promotion brings.
        target=EnvRepository(settings.repository_url),
        upstream_account=settings.upstream_account,
        windows=settings.deploy_windows,
    )


@cache
def page() -> LinkAnswerer:
    """The approval page: show links, take answers, announce approvals and rejections."""
    from path2prod.adapters.event_bus import EventBus
    from path2prod.adapters.secrets import signing_secret
    from path2prod.approvals.answering import LinkAnswerer
    from path2prod.approvals.settings import load_page_settings

    settings = load_page_settings()
    return LinkAnswerer(
        requests=ApprovalRequests(LedgerTable(settings.ledger_table)),
        secret=partial(signing_secret, settings.signing_secret),
        bus=EventBus(settings.event_bus),
    )


@cache
def promoter() -> Promoter:
    """The promoter: push approved commits from the upstream repository to this env's main."""
    from path2prod.adapters.alerts import AlertTopic
    from path2prod.adapters.env_repo import EnvRepository
    from path2prod.approvals.promoting import Promoter
    from path2prod.approvals.settings import load_promoter_settings

    settings = load_promoter_settings()
    return Promoter(
        env=settings.env,
        requests=ApprovalRequests(LedgerTable(settings.ledger_table)),
        upstream=EnvRepository(settings.upstream_repository_url, role_arn=settings.upstream_read_role_arn),
        target=EnvRepository(settings.repository_url),
        alerts=AlertTopic(settings.alerts_topic_arn),
        allow_non_fast_forward=settings.allow_non_fast_forward,
        windows=settings.deploy_windows,
    )
