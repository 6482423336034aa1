"""``GET /metrics``: Prometheus's scrape, for a configured token or address only (not in the schema).

Who may read it is ``signaling.metrics.access``; what it says, ``signaling.metrics.scrape``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from signaling.clock import utc_now
from signaling.http.deps import ClientAddress
from signaling.metrics.access import ScrapeAccess
from signaling.metrics.scrape import Scraper

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics(
    request: Request,
    client: ClientAddress,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    access: ScrapeAccess = request.app.state.metrics_access
    access.check(client, authorization)
    scraper: Scraper = request.app.state.scraper
    body = await scraper.text(utc_now().timestamp())
    return Response(
        body, media_type=CONTENT_TYPE_PLAIN_0_0_4, headers={"cache-control": "no-store"}
    )
