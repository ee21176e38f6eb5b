"""Uploading the dashboards through Grafana's HTTP API (grafana-client), for sites that do not provision files."""

from __future__ import annotations

import json
from typing import Any

from dashboards.build import render

FOLDER_UID = "qsmon"
FOLDER_TITLE = "质量安全监测 qsmon"


def push(url: str, token: str, *, folder_uid: str = FOLDER_UID) -> list[str]:
    """Create the folder if missing, then create or overwrite every dashboard in it; returns the uids pushed."""
    from grafana_client.api import GrafanaApi
    from grafana_client.client import GrafanaClientError

    api: Any = GrafanaApi.from_url(url=url, credential=token)
    try:
        api.folder.get_folder(folder_uid)
    except GrafanaClientError as exc:
        if getattr(exc, "status_code", None) != 404:
            raise
        api.folder.create_folder(FOLDER_TITLE, uid=folder_uid)
    pushed = []
    for text in render().values():
        board = json.loads(text)
        api.dashboard.update_dashboard(
            {"dashboard": board, "folderUid": folder_uid, "overwrite": True, "message": "qsmon dashboards push"}
        )
        pushed.append(board["uid"])
    return pushed
