"""Promotion approvals: the use cases, one per function, each taking only the ports it uses.

- `Opener` (opening.py), the `approvals` function: an upstream's forwarded "Deployment Succeeded"
  opens a request and prompts the approvers; "Promotion Rejected" is told to the author and the other
  approvers; "Approval Requested Again" opens a new request.
- `Answerer` (answering.py), the CLI's approve/reject by the caller's identity; `LinkAnswerer`, the
  approval page: show a signed link's request (GET/HEAD), answer it (POST).
- `Promoter` (promoting.py), the `promoter` function: push the approved commit, on "Promotion
  Approved" and on the schedule's sweep.

wiring.py builds each from a function's settings; ports.py declares what they need. Callers outside
the feature (the CLI, tests) import from here; handlers go through wiring, which imports only the use
case its function runs (cold-start time: see docs/benchmarks.md).
"""

from __future__ import annotations

from path2prod.approvals.answering import Answerer, LinkAnswerer, LinkView
from path2prod.approvals.handled import Handled
from path2prod.approvals.opening import ApprovalPolicy, Links, NoUpstreamEnv, Opener
from path2prod.approvals.promoting import Promoter, Promotion, PromotionPushFailed
from path2prod.approvals.records import VIA_CLI, VIA_PAGE

__all__ = [
    "VIA_CLI",
    "VIA_PAGE",
    "Answerer",
    "ApprovalPolicy",
    "Handled",
    "LinkAnswerer",
    "LinkView",
    "Links",
    "NoUpstreamEnv",
    "Opener",
    "Promoter",
    "Promotion",
    "PromotionPushFailed",
]
