"""Finance console pages: batches."""

from __future__ import annotations

from fastapi import APIRouter

from api.console.web import CONSOLE_PREFIX

router = APIRouter(prefix=CONSOLE_PREFIX + "/finance", include_in_schema=False)
