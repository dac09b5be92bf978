"""The rate a run keeps: COZE_RPS when set, else the account's plan's workflow QPS from Coze's
benefits API, else the default 5 requests/s.

The QPS is shared by workflow runs and run-history polls of one account (docs/coze.md), so it
is the limit the client's one `RateLimiter` should keep. The plan is read once per run, by the
Coze step, with one GET outside the rate and the call budget; when the token may not read it
(code 4101 without the `getBenefit` permission) or the read fails, the run says so and keeps
the default, which stays inside every plan.
"""

from __future__ import annotations

from typing import Any

import httpx

from pipeline.coze.client import CozeClient
from pipeline.coze.config import DEFAULT_RPS
from pipeline.coze.errors import CozeError

# coze-py `benefits.retrieve(benefit_type_list=["api_run_qps"], resource_id="workflow")`.
BENEFITS_PATH = (
    "/v1/commerce/benefit/benefits/get?benefit_type_list=api_run_qps&resource_id=workflow"
)


def workflow_qps(envelope: dict[str, Any]) -> float | None:
    """The plan's effective workflow QPS in a benefits answer (`data.benefit_info[]` of type
    `api_run_qps` for `workflow`: `effective.item_info.total` when its strategy is `by_quota`);
    None when the answer has no such figure (an unlimited or forbidden strategy says 1)."""
    data = envelope.get("data")
    infos = data.get("benefit_info") if isinstance(data, dict) else None
    for info in infos if isinstance(infos, list) else []:
        if not isinstance(info, dict) or info.get("benefit_type") != "api_run_qps":
            continue
        if info.get("resource_id") not in ("workflow", None):
            continue
        effective = info.get("effective")
        item = effective.get("item_info") if isinstance(effective, dict) else None
        if not isinstance(item, dict) or item.get("strategy") != "by_quota":
            continue
        total = item.get("total")
        if isinstance(total, int | float) and not isinstance(total, bool) and total > 0:
            return float(total)
    return None


async def settle_rate(client: CozeClient) -> str:
    """Set the client's rate for this run and say which it is and where it came from."""
    if client.settings.rps is not None:
        return f"rate {client.settings.rps:g} req/s from COZE_RPS"
    default = f"using the default {DEFAULT_RPS:g} req/s (set COZE_RPS to the plan's QPS)"
    try:
        raw, envelope = await client.read_once(BENEFITS_PATH)
    except (CozeError, httpx.HTTPError, TimeoutError) as error:
        why = str(error) or type(error).__name__
        return f"could not read the account's plan (benefits API: {why[:200]}): {default}"
    code = envelope.get("code") if envelope is not None else None
    if envelope is None or ((raw.http_status or 0) >= 300 and not code):
        return f"the benefits API answered HTTP {raw.http_status} without the plan: {default}"
    if code:
        return f"the token may not read the plan's QPS (code {code}): {default}"
    qps = workflow_qps(envelope)
    if qps is None:
        return f"the account's plan names no workflow QPS (benefits API): {default}"
    client.limiter.set_rate(qps)
    return f"rate {qps:g} req/s from the account's plan (benefits API)"
