"""Approvals wired to AWS from a function's settings (what each handler builds once per container).

The ledger adapters (and so boto3) every approval function uses are imported here, at init, as in
the other handlers; each builder imports the rest, which only its own function uses: the approval
page never loads git or SNS code. (It is cold-start time: see docs/benchmarks.md.)
"""

from __future__ import annotations

from functools import partial

from path2prod.adapters.approval_requests import ApprovalRequests
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.approvals.service import ApprovalPolicy, Approvals


def opener() -> Approvals:
    """The approvals function: open requests, prompt approvers."""
    from path2prod.adapters.env_repo import EnvRepository
    from path2prod.adapters.prompts import ApprovalPrompts
    from path2prod.adapters.secrets import signing_secret
    from path2prod.approvals.settings import load_opener_settings

    settings = load_opener_settings()
    return Approvals(
        env=settings.env,
        requests=ApprovalRequests(LedgerTable(settings.ledger_table)),
        policy=ApprovalPolicy(settings.approvers, settings.quorum, settings.expiry),
        secret=partial(signing_secret, settings.signing_secret),
        page_url=settings.page_url,
        prompts=ApprovalPrompts(settings.approvals_topic_arn),
        upstream=EnvRepository(settings.upstream_repository_url, role_arn=settings.upstream_read_role_arn),
        # Read only (its main head): what the env runs now bounds the commits a promotion brings.
        target=EnvRepository(settings.repository_url),
        upstream_account=settings.upstream_account,
    )


def page() -> Approvals:
    """The approval page: show links, take answers, announce approvals."""
    from path2prod.adapters.event_bus import EventBus
    from path2prod.adapters.secrets import signing_secret
    from path2prod.approvals.settings import load_page_settings

    settings = load_page_settings()
    return Approvals(
        env=settings.env,
        requests=ApprovalRequests(LedgerTable(settings.ledger_table)),
        secret=partial(signing_secret, settings.signing_secret),
        bus=EventBus(settings.event_bus),
    )


def promoter() -> Approvals:
    """The promoter: push approved commits from the upstream repository to this env's main."""
    from path2prod.adapters.alerts import AlertTopic
    from path2prod.adapters.env_repo import EnvRepository
    from path2prod.approvals.settings import load_promoter_settings

    settings = load_promoter_settings()
    return Approvals(
        env=settings.env,
        requests=ApprovalRequests(LedgerTable(settings.ledger_table)),
        upstream=EnvRepository(settings.upstream_repository_url, role_arn=settings.upstream_read_role_arn),
        target=EnvRepository(settings.repository_url),
        alerts=AlertTopic(settings.alerts_topic_arn),
        allow_non_fast_forward=settings.allow_non_fast_forward,
    )
